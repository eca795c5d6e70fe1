/**
 * `Segments.awaitProcessed`: a read of membership waits for the segment processor to reach the
 * log's head as it was when asked, polling its checkpoint, and answers anyway after the bound.
 * Time is `TestClock`'s.
 */
import { describe, expect, it } from "@effect/vitest"
import type * as EventStore from "@tracklog/core/EventStore"
import * as LogStream from "@tracklog/core/LogStream"
import * as Membership from "@tracklog/core/Membership"
import * as Processor from "@tracklog/core/Processor"
import * as Segments from "@tracklog/core/Segments"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"

const at = (position: number): EventStore.Checkpoint => ({ transactionId: 1n, position: BigInt(position) })

// A log whose head is `head`, and a processor whose checkpoint the test moves (none: never ran).
const given = (head: EventStore.Checkpoint | undefined) => {
  let checkpoint: EventStore.Checkpoint | undefined
  const asked: Array<string> = []
  const processors = {
    status: (name: string) =>
      Effect.sync(() => {
        asked.push(name)
        return checkpoint === undefined ? Option.none() : Option.some({ checkpoint, owner: Option.none() })
      })
  } as unknown as Processor.ProcessorStore["Type"]
  const source = {
    head: () => Effect.succeed(head ?? { transactionId: 0n, position: 0n })
  } as unknown as LogStream.LogSource["Type"]
  const wait = (options?: Parameters<typeof Segments.awaitProcessed>[0]) =>
    Segments.awaitProcessed(options).pipe(
      Effect.provideService(Processor.ProcessorStore, processors),
      Effect.provideService(LogStream.LogSource, source)
    )
  return { wait, asked, moveTo: (c: EventStore.Checkpoint) => (checkpoint = c) }
}

describe("Segments.awaitProcessed", () => {
  it.effect("an empty log: nothing to wait for", () =>
    Effect.gen(function*() {
      const { asked, wait } = given(undefined)
      yield* wait()
      expect(asked).toEqual([Membership.ProcessorName])
    }))

  it.effect("waits until the processor's checkpoint reaches the head as it was when asked", () =>
    Effect.gen(function*() {
      const log = given(at(10))
      log.moveTo(at(4))
      const fiber = yield* Effect.fork(log.wait())
      yield* TestClock.adjust("100 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      log.moveTo(at(10))
      yield* TestClock.adjust(Segments.PollInterval)
      expect(Option.isSome(yield* Fiber.poll(fiber))).toBe(true)
    }))

  it.effect("answers anyway after the bound when the processor does not catch up (or never ran)", () =>
    Effect.gen(function*() {
      const log = given(at(10))
      const fiber = yield* Effect.fork(log.wait({ maxWait: "5 seconds", interval: "700 millis" }))
      yield* TestClock.adjust("4900 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("100 millis")
      expect(Option.isSome(yield* Fiber.poll(fiber))).toBe(true)
    }))

  it.effect("a processor past the head (the log grew since) is caught up", () =>
    Effect.gen(function*() {
      const log = given(at(10))
      log.moveTo(at(12))
      yield* log.wait()
    }))
})
