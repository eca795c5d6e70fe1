import { describe, expect, it } from "@effect/vitest"
import * as Commands from "@tracklog/core/Commands"
import * as EraseContact from "@tracklog/core/EraseContact"
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
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"

const services = Commands.layer.pipe(Layer.provideMerge(StoreMemory.layer), Layer.provideMerge(Ids.layer))
const command = (body: TrackCommand.Encoded) => Either.getOrThrow(TrackCommand.decode(body))
const DayMillis = 86_400_000

// Defined at the test clock's now (the processor's pass waits for a definition's grace by it).
const define = (id: string, name: string, condition: Segment.Segment["condition"]) =>
  Effect.gen(function*() {
    const at = new Date(yield* Clock.currentTimeMillis)
    const store = yield* SegmentStore.SegmentStore
    yield* store.update("p", () =>
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
      }))
  })

// Runs a command, letting the test clock run while it retries: a transition moved its contact's
// version, so the command's cached state conflicts once.
const runNow = <A, E, R>(command: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(command)
    for (let i = 0;; i++) {
      const done = yield* Fiber.poll(fiber)
      if (done._tag === "Some") return yield* Fiber.join(fiber)
      yield* i < 20 ? Effect.yieldNow() : TestClock.adjust(1)
    }
  })

const trackNow = (body: TrackCommand.Encoded) =>
  runNow(Effect.flatMap(Track.Track, (track) => track.track("p", command(body))))

// Turns until there is nothing left to do, as the one instance.
const settle = Effect.gen(function*() {
  const { turn } = yield* SegmentProcessor.make({ dueGrace: 0 })
  const store = yield* Processor.ProcessorStore
  let checkpoint = (yield* store.claim(Membership.ProcessorName, "test", Duration.minutes(1))).pipe(
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
      })
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
      })
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

  const edit = (id: string, change: Partial<Segment.Segment>) =>
    Effect.flatMap(SegmentStore.SegmentStore, (store) =>
      store.update("p", (current) => {
        const segment = current.find((s) => s.id === id)!
        return Either.right({ put: [{ ...segment, ...change }], answer: undefined })
      }))

  const members = (id: string) =>
    Effect.flatMap(
      Membership.MembershipStore,
      (store) => Effect.map(store.members(id, { limit: 100 }), (page) => page.data.map((m) => m.contact.email).sort())
    )

  it.effect("an edited condition records the difference (reason definition); a deleted segment its exits (reason deleted), then is gone", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-01-01T00:00:00Z"))
      const pro = yield* trackNow({ email: "pro@x.io", event: "e", data: { plan: "pro" } })
      const free = yield* trackNow({ email: "free@x.io", event: "e", data: { plan: "free" } })
      yield* define("s", "Plan", {
        logic: "AND",
        groups: [{ filters: [{ field: "data.plan", operator: "equals", value: "pro" }] }]
      })
      yield* settle
      expect(yield* members("s")).toEqual(["pro@x.io"])
      yield* TestClock.adjust(1000)
      yield* edit("s", {
        condition: { logic: "AND", groups: [{ filters: [{ field: "data.plan", operator: "equals", value: "free" }] }] },
        revision: 2
      })
      yield* settle
      expect(yield* members("s")).toEqual(["free@x.io"])
      expect(yield* names(pro.contact)).toEqual(["segment.plan.exit definition 2026-01-01T00:00:01.000Z"])
      expect(yield* names(free.contact)).toEqual(["segment.plan.entry definition 2026-01-01T00:00:01.000Z"])
      const segments = yield* SegmentStore.SegmentStore
      expect((yield* segments.get("p", "s")).pipe((o) => o._tag === "Some" && o.value.builtRevision)).toBe(2)
      yield* TestClock.adjust(1000)
      yield* edit("s", { deletedAt: new Date() })
      yield* settle
      expect(yield* names(free.contact)).toEqual([
        "segment.plan.entry definition 2026-01-01T00:00:01.000Z",
        "segment.plan.exit deleted 2026-01-01T00:00:02.000Z"
      ])
      expect((yield* segments.get("p", "s"))._tag).toBe("None")
      expect(yield* members("s")).toEqual([])
    }).pipe(Effect.provide(services)))

  it.effect("without trackMembership nothing is recorded but membership is kept; an erased contact leaves with no exit", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-01-01T00:00:00Z"))
      yield* define("quiet", "Quiet", {
        logic: "AND",
        groups: [{ filters: [{ field: "event.e", operator: "triggered" }] }]
      })
      yield* edit("quiet", { trackMembership: false })
      yield* define("loud", "Loud", {
        logic: "AND",
        groups: [{ filters: [{ field: "event.e", operator: "triggered" }] }]
      })
      yield* settle
      const a = yield* trackNow({ email: "a@x.io", event: "e" })
      yield* settle
      expect(yield* members("quiet")).toEqual(["a@x.io"])
      expect(yield* names(a.contact)).toEqual(["segment.loud.entry changed 2026-01-01T00:00:00.000Z"])
      yield* runNow(EraseContact.erase("p", { contactId: a.contact, suppress: false }))
      yield* settle
      expect(yield* members("quiet")).toEqual([])
      expect(yield* members("loud")).toEqual([])
      const events = yield* EventStore.EventStore
      const stream = yield* events.readStream(a.contact)
      expect(stream.map((e) => e.event._tag)).toEqual(["ContactErased"])
    }).pipe(Effect.provide(services)))

  it.effect("a rebuild, of one segment or of all, gives the same members and records nothing new", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-01-01T00:00:00Z"))
      yield* define("s1", "Buyers", {
        logic: "AND",
        groups: [{ filters: [{ field: "event.buy", operator: "triggeredWithin", value: 1, unit: "days" }] }]
      })
      yield* define("s2", "Pro", {
        logic: "AND",
        groups: [{ filters: [{ field: "data.plan", operator: "equals", value: "pro" }] }]
      })
      yield* settle
      for (let i = 0; i < 6; i++) {
        yield* TestClock.adjust(6 * 3_600_000)
        yield* trackNow({
          email: `c${i % 3}@x.io`,
          event: i % 2 === 0 ? "buy" : "view",
          data: { plan: i % 4 === 0 ? "pro" : "free" }
        })
        yield* settle
      }
      const before = { s1: yield* members("s1"), s2: yield* members("s2") }
      const events = yield* EventStore.EventStore
      const logSize = (yield* events.readAll(EventStore.start, 100_000)).events.length
      const store = yield* Membership.MembershipStore
      yield* store.rebuild("s1")
      yield* settle
      expect({ s1: yield* members("s1"), s2: yield* members("s2") }).toEqual(before)
      yield* store.rebuild(undefined)
      yield* settle
      expect({ s1: yield* members("s1"), s2: yield* members("s2") }).toEqual(before)
      expect((yield* events.readAll(EventStore.start, 100_000)).events.length).toBe(logSize)
      expect(before.s2.length).toBeGreaterThan(0)
    }).pipe(Effect.provide(services)))
})
