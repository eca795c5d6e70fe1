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

  describe("all", () => {
    it.effect("waits for every key of the set, and holds them all while it runs", () =>
      Effect.gen(function*() {
        const lock = KeyedLock.make()
        const log: Array<string> = []
        const gate = yield* Deferred.make<void>()
        const holder = yield* Effect.fork(lock("b", traced(log, "b", Deferred.await(gate))))
        yield* Effect.yieldNow()
        const batch = yield* Effect.fork(lock.all(["c", "b", "a", "c"], traced(log, "abc")))
        yield* Effect.yieldNow()
        // "a" was taken, "b" is waited for: a single holder of "a" queues behind the set.
        const single = yield* Effect.fork(lock("a", traced(log, "a")))
        yield* Effect.yieldNow()
        expect(log).toEqual(["b+"])
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(holder)
        yield* Fiber.join(batch)
        yield* Fiber.join(single)
        expect(log).toEqual(["b+", "b-", "abc+", "abc-", "a+", "a-"])
        for (const key of ["a", "b", "c"]) expect(yield* lock(key, Effect.succeed(key))).toBe(key)
      }))

    it.live("overlapping sets taken in opposite orders, with single holders among them, never deadlock", () =>
      Effect.gen(function*() {
        const lock = KeyedLock.make()
        const keys = Array.from({ length: 10 }, (_, i) => `k${i}`)
        const holders = new Map<string, number>()
        let overlapped = false
        const hold = (set: ReadonlyArray<string>) =>
          Effect.sync(() => {
            for (const key of set) {
              if (holders.has(key)) overlapped = true
              holders.set(key, 1)
            }
          }).pipe(
            Effect.zipRight(Effect.yieldNow()),
            Effect.ensuring(Effect.sync(() => set.forEach((key) => holders.delete(key))))
          )
        const sets = Array.from({ length: 200 }, (_, i) => {
          const slice = keys.slice(i % 7, (i % 7) + 1 + (i % 4))
          return i % 2 === 0 ? slice : [...slice].reverse()
        })
        yield* Effect.forEach(sets, (set) => set.length === 1 ? lock(set[0]!, hold(set)) : lock.all(set, hold(set)), {
          concurrency: "unbounded"
        }).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "deadlock" }))
        expect(overlapped).toBe(false)
        for (const key of keys) expect(yield* lock(key, Effect.succeed(key))).toBe(key)
      }))

    it.effect("interrupted while waiting for a key, it leaves that queue and releases the keys it took", () =>
      Effect.gen(function*() {
        const lock = KeyedLock.make()
        const log: Array<string> = []
        const gate = yield* Deferred.make<void>()
        const holder = yield* Effect.fork(lock("b", traced(log, "b", Deferred.await(gate))))
        yield* Effect.yieldNow()
        const batch = yield* Effect.fork(lock.all(["a", "b"], traced(log, "ab")))
        yield* Effect.yieldNow()
        yield* Fiber.interrupt(batch)
        // "a" is free again at once; "b" goes to the next in line when its holder is done.
        expect(yield* lock("a", Effect.succeed("a"))).toBe("a")
        const next = yield* Effect.fork(lock("b", traced(log, "next")))
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(holder)
        yield* Fiber.join(next)
        expect(log).toEqual(["b+", "b-", "next+", "next-"])
      }))
  })
})
