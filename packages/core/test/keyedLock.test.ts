import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as KeyedLock from "../src/internal/keyedLock.js"

// Runs `effect` under the lock, recording when it starts and ends.
const traced = (log: Array<string>, name: string, effect: Effect.Effect<void> = Effect.yieldNow()) =>
  Effect.sync(() => log.push(`${name}+`)).pipe(
    Effect.zipRight(effect),
    Effect.zipRight(Effect.sync(() => log.push(`${name}-`)))
  )

// `a` holds "k" until `gate` opens; `b`, then `c`, queue behind it.
const oneHolderTwoWaiters = Effect.gen(function*() {
  const lock = KeyedLock.make()
  const log: Array<string> = []
  const gate = yield* Deferred.make<void>()
  const a = yield* Effect.fork(lock("k", traced(log, "a", Deferred.await(gate))))
  yield* Effect.yieldNow()
  const b = yield* Effect.fork(lock("k", traced(log, "b")))
  const c = yield* Effect.fork(lock("k", traced(log, "c")))
  yield* Effect.yieldNow()
  return { log, gate, a, b, c }
})

describe("keyedLock", () => {
  it.live("runs holders of one key one at a time, in arrival order", () =>
    Effect.gen(function*() {
      const lock = KeyedLock.make()
      const log: Array<string> = []
      yield* Effect.forEach(["a", "b", "c", "d"], (name) => lock("k", traced(log, name, Effect.sleep("1 millis"))), {
        concurrency: "unbounded"
      })
      expect(log).toEqual(["a+", "a-", "b+", "b-", "c+", "c-", "d+", "d-"])
    }))

  it.effect("lets different keys run at the same time", () =>
    Effect.gen(function*() {
      const lock = KeyedLock.make()
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const first = yield* Effect.fork(lock("x", traced(log, "x", Deferred.await(gate))))
      yield* Effect.yieldNow()
      yield* lock("y", traced(log, "y"))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
      expect(log).toEqual(["x+", "y+", "y-", "x-"])
    }))

  it.effect("releases the key when the holder fails, dies or is interrupted", () =>
    Effect.gen(function*() {
      const lock = KeyedLock.make()
      expect(yield* Effect.either(lock("k", Effect.fail("boom")))).toMatchObject({ _tag: "Left", left: "boom" })
      yield* Effect.exit(lock("k", Effect.die("defect")))
      const holder = yield* Effect.fork(lock("k", Effect.never))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(holder)
      expect(yield* lock("k", Effect.succeed("free"))).toBe("free")
    }))

  it.effect("a waiter interrupted in the queue leaves it; the others still get the key in order", () =>
    Effect.gen(function*() {
      const { a, b, c, gate, log } = yield* oneHolderTwoWaiters
      yield* Fiber.interrupt(b)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(a)
      yield* Fiber.join(c)
      expect(log).toEqual(["a+", "a-", "c+", "c-"])
    }))

  it.live("a waiter interrupted just as the key is handed to it passes the key on", () =>
    Effect.gen(function*() {
      const { a, b, c, gate, log } = yield* oneHolderTwoWaiters
      // Let a finish, and interrupt b in the same step: a hands the key to b before b has seen
      // the interruption.
      yield* Effect.sync(() => {
        Deferred.unsafeDone(gate, Effect.void)
        b.unsafeInterruptAsFork(FiberId.none)
      })
      yield* Fiber.join(a)
      yield* Fiber.await(b)
      yield* Fiber.join(c).pipe(Effect.timeoutFail({ duration: "1 second", onTimeout: () => "c never got the key" }))
      expect(log).toEqual(["a+", "a-", "c+", "c-"])
    }))

  it.effect("holds no entry for a key nobody holds (no leak over many keys)", () =>
    Effect.gen(function*() {
      const lock = KeyedLock.make()
      let inside = 0
      let most = 0
      yield* Effect.forEach(Array.from({ length: 2000 }, (_, i) => `k${i % 37}`), (key) =>
        lock(
          key,
          Effect.sync(() => {
            inside++
            most = Math.max(most, inside)
          }).pipe(Effect.zipRight(Effect.yieldNow()), Effect.ensuring(Effect.sync(() => inside--)))
        ), { concurrency: 64 })
      expect(most).toBeLessThanOrEqual(37)
      expect(most).toBeGreaterThan(1)
      // Every key is free again: a fresh holder of each gets it at once.
      for (let i = 0; i < 37; i++) expect(yield* lock(`k${i}`, Effect.succeed(i))).toBe(i)
    }))
})
