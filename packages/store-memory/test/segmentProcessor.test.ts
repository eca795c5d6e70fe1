import { describe, expect, it } from "@effect/vitest"
import * as Commands from "@tracklog/core/Commands"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as Membership from "@tracklog/core/Membership"
import * as Processor from "@tracklog/core/Processor"
import type * as Segment from "@tracklog/core/Segment"
import * as SegmentProcessor from "@tracklog/core/SegmentProcessor"
import * as SegmentStore from "@tracklog/core/SegmentStore"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"

const services = Commands.layer.pipe(Layer.provideMerge(StoreMemory.layer), Layer.provideMerge(Ids.layer))
const command = (body: TrackCommand.Encoded) => Either.getOrThrow(TrackCommand.decode(body))
const DayMillis = 86_400_000

const define = (id: string, name: string, condition: Segment.Segment["condition"], at: Date) =>
  Effect.flatMap(SegmentStore.SegmentStore, (store) =>
    store.update("p", () =>
      Either.right({
        put: [{
          id,
          projectId: "p",
          name,
          slug: name.toLowerCase(),
          condition,
          trackMembership: true,
          createdAt: at,
          updatedAt: at,
          revision: 1,
          builtRevision: 0,
          buildCursor: ""
        }],
        answer: undefined
      })))

// A track, letting the test clock run while it retries (a transition moved its contact's version).
const trackNow = (body: TrackCommand.Encoded) =>
  Effect.gen(function*() {
    const track = yield* Track.Track
    const fiber = yield* Effect.fork(track.track("p", command(body)))
    for (let i = 0;; i++) {
      const done = yield* Fiber.poll(fiber)
      if (done._tag === "Some") return yield* Fiber.join(fiber)
      yield* i < 20 ? Effect.yieldNow() : TestClock.adjust(1)
    }
  })

// Turns until there is nothing left to do, as the one instance.
const settle = Effect.gen(function*() {
  const { turn } = yield* SegmentProcessor.make({ dueGrace: 0 })
  const store = yield* Processor.ProcessorStore
  let checkpoint = (yield* store.claim(Membership.ProcessorName, "test", "1 minute")).pipe(
    (o) => o._tag === "Some" ? o.value : EventStore.start
  )
  for (let i = 0; i < 50; i++) {
    const result = yield* turn(Membership.ProcessorName, "test", checkpoint, store)
    checkpoint = result.checkpoint
    if (!result.worked) return
  }
  throw new Error("the processor never settled")
})

const names = (contactId: string) =>
  Effect.map(
    Effect.flatMap(EventStore.EventStore, (s) => s.readStream(contactId)),
    (stream) =>
      stream.flatMap((e) =>
        e.event._tag === "EventTracked" && e.event.name.startsWith("segment.")
          ? [`${e.event.name} ${(e.event.data as { reason: string }).reason} ${e.event.at.toISOString()}`]
          : []
      )
  )

describe("SegmentProcessor on the memory store", () => {
  it.effect("a baseline is silent; a track moves a contact in and out, once each, stamped with its time", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-01-01T00:00:00Z"))
      const before = yield* trackNow({ email: "a@x.io", event: "e", data: { plan: "pro" } })
      yield* define("s1", "VIP", {
        logic: "AND",
        groups: [{ filters: [{ field: "data.plan", operator: "equals", value: "pro" }] }]
      }, new Date())
      yield* settle
      const store = yield* Membership.MembershipStore
      expect(yield* store.count("s1")).toBe(1)
      expect(yield* names(before.contact)).toEqual([])
      yield* TestClock.adjust(1000)
      const b = yield* trackNow({ email: "b@x.io", event: "e", data: { plan: "pro" } })
      yield* settle
      yield* TestClock.adjust(1000)
      yield* trackNow({ email: "b@x.io", event: "e", data: { plan: "free" } })
      yield* settle
      yield* settle
      expect(yield* names(b.contact)).toEqual([
        "segment.vip.entry changed 2026-01-01T00:00:01.000Z",
        "segment.vip.exit changed 2026-01-01T00:00:02.000Z"
      ])
      expect(yield* store.count("s1")).toBe(1)
    }).pipe(Effect.provide(services)))

  it.effect("a window that passes moves the contact out at the instant it passed; an event inside it only moves the deadline", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-01-01T00:00:00Z"))
      yield* define("s2", "Buyers", {
        logic: "AND",
        groups: [{ filters: [{ field: "event.purchase", operator: "triggeredWithin", value: 1, unit: "days" }] }]
      }, new Date())
      yield* settle
      const a = yield* trackNow({ email: "a@x.io", event: "purchase" })
      yield* settle
      yield* TestClock.adjust(DayMillis / 2)
      yield* trackNow({ email: "a@x.io", event: "purchase" })
      yield* settle
      yield* TestClock.adjust(3 * DayMillis)
      yield* settle
      expect(yield* names(a.contact)).toEqual([
        "segment.buyers.entry changed 2026-01-01T00:00:00.000Z",
        "segment.buyers.exit time 2026-01-02T12:00:00.000Z"
      ])
    }).pipe(Effect.provide(services)))
})
