/**
 * The segment processor against the brute-force oracle (issue 29), on the memory store under a
 * `TestClock`: for random tracks over random times, the transitions recorded in the log — kind,
 * reason and instant — equal those the oracle finds from the whole log prefix.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Commands from "@tracklog/core/Commands"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as Membership from "@tracklog/core/Membership"
import * as Processor from "@tracklog/core/Processor"
import * as SegmentProcessor from "@tracklog/core/SegmentProcessor"
import * as SegmentStore from "@tracklog/core/SegmentStore"
import * as SegmentOracle from "@tracklog/core/testing/SegmentOracle"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"

const services = () => Commands.layer.pipe(Layer.provideMerge(StoreMemory.layer), Layer.provideMerge(Ids.layer))

// A track, letting the test clock run while it retries (a transition moved its contact's version).
const trackNow = (step: SegmentOracle.Step) =>
  Effect.gen(function*() {
    const track = yield* Track.Track
    const fiber = yield* Effect.fork(track.track("p", Either.getOrThrow(TrackCommand.decode(SegmentOracle.body(step)))))
    for (let i = 0;; i++) {
      const done = yield* Fiber.poll(fiber)
      if (done._tag === "Some") return yield* Fiber.join(fiber)
      yield* i < 20 ? Effect.yieldNow() : TestClock.adjust(1)
    }
  })

const settle = Effect.gen(function*() {
  const { turn } = yield* SegmentProcessor.make({ dueGrace: 0 })
  const store = yield* Processor.ProcessorStore
  const claimed = yield* store.claim(Membership.ProcessorName, "test", Duration.hours(1))
  let checkpoint = claimed._tag === "Some" ? claimed.value : EventStore.start
  for (let i = 0; i < 100; i++) {
    const result = yield* turn(Membership.ProcessorName, "test", checkpoint, store)
    checkpoint = result.checkpoint
    if (!result.worked) return
  }
  throw new Error("the processor never settled")
})

describe("segments: the processor equals the oracle", () => {
  it("random tracks over random times: the same transitions, kinds, reasons and instants", () =>
    FastCheck.assert(
      FastCheck.asyncProperty(SegmentOracle.scenario, ({ picked, steps }) =>
        Effect.runPromise(
          Effect.gen(function*() {
            yield* TestClock.setTime(Date.parse("2026-03-01T00:00:00Z"))
            const segments = SegmentOracle.segments("p", picked, new Date(Date.parse("2026-03-01T00:00:00Z")))
            const store = yield* SegmentStore.SegmentStore
            yield* store.update("p", () => Either.right({ put: segments, answer: undefined }))
            yield* settle
            const contacts = new Set<string>()
            for (const step of steps) {
              yield* TestClock.adjust(step.wait)
              contacts.add((yield* trackNow(step)).contact)
              yield* settle
            }
            yield* TestClock.adjust(Duration.hours(6))
            yield* settle
            const end = yield* TestClock.currentTimeMillis
            const events = yield* EventStore.EventStore
            for (const id of contacts) {
              const stream = yield* events.readStream(id)
              const recorded = SegmentOracle.recorded(stream)
              expect(recorded).toEqual(SegmentOracle.expected(stream, segments, end))
              expect(SegmentOracle.alternates(stream)).toBe(true)
            }
          }).pipe(Effect.provide(services()), Effect.provide(TestContext.TestContext))
        )),
      { numRuns: 60 }
    ), 120_000)
})
