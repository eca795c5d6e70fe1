import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Batcher from "../src/internal/batcher.js"

const make = (run: (batch: ReadonlyArray<number>) => Effect.Effect<Batcher.Outcomes<number, string>, string>) =>
  Batcher.make<number, number, string>({ maxSize: 10, maxInFlight: 1, maxQueued: 3, overflow: () => "full", run })

describe("group-commit batcher", () => {
  it.live("calls that arrive during a batch go together in the next one, each with its own outcome", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const batches: Array<ReadonlyArray<number>> = []
      const call = make((batch) =>
        Effect.gen(function*() {
          batches.push(batch)
          if (batches.length === 1) yield* Deferred.await(gate)
          return batch.map((n) => (n % 2 === 0 ? Exit.succeed(n * 10) : Exit.fail(`odd ${n}`)))
        })
      )
      const first = yield* Effect.fork(call(0))
      yield* Effect.sleep("10 millis")
      const rest = yield* Effect.fork(
        Effect.all([1, 2].map((n) => Effect.either(call(n))), { concurrency: "unbounded" })
      )
      yield* Effect.sleep("10 millis")
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(first)).toBe(0)
      const [one, two] = yield* Fiber.join(rest)
      expect(Either.getLeft(one!)).toEqual(Option.some("odd 1"))
      expect(Either.getRight(two!)).toEqual(Option.some(20))
      expect(batches).toEqual([[0], [1, 2]])
    }))

  it.live("a caller that gives up before its item is taken takes it back: it is never run", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const ran: Array<number> = []
      const call = make((batch) =>
        Effect.gen(function*() {
          ran.push(...batch)
          if (batch.includes(0)) yield* Deferred.await(gate)
          return batch.map((n) => Exit.succeed(n))
        })
      )
      const first = yield* Effect.fork(call(0))
      yield* Effect.sleep("10 millis")
      const abandoned = yield* Effect.fork(call(1))
      yield* Effect.sleep("10 millis")
      yield* Fiber.interrupt(abandoned)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
      expect(yield* call(2)).toBe(2)
      expect(ran).toEqual([0, 2])
    }))

  it.live("a batch that throws while being built fails its callers, and the batcher keeps working", () =>
    Effect.gen(function*() {
      let calls = 0
      const call = make((batch) => {
        if (calls++ === 0) throw new RangeError("Invalid string length")
        return Effect.succeed(batch.map((n) => Exit.succeed(n)))
      })
      const failed = yield* Effect.exit(call(1))
      expect(Exit.isFailure(failed) && !Exit.isInterrupted(failed)).toBe(true)
      expect(yield* call(2)).toBe(2)
    }))

  it.live("past the queue bound a call fails at once", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const call = make((batch) => Effect.as(Deferred.await(gate), batch.map((n) => Exit.succeed(n))))
      const running = yield* Effect.fork(call(0))
      yield* Effect.sleep("10 millis")
      const queued = yield* Effect.forEach([1, 2, 3], (n) => Effect.fork(call(n)))
      yield* Effect.sleep("10 millis")
      expect(yield* Effect.flip(call(4))).toBe("full")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(running)
      for (const fiber of queued) yield* Fiber.join(fiber)
    }))
})
