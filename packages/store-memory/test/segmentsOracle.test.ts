/**
 * The segment processor against a brute-force oracle (issue 29): for random tracks over random
 * times, the transitions recorded in the log — kind, reason and instant — equal those found by
 * evaluating every segment from the whole log prefix at every instant an answer can change.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Commands from "@tracklog/core/Commands"
import * as Contact from "@tracklog/core/Contact"
import * as EventFacts from "@tracklog/core/EventFacts"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as Membership from "@tracklog/core/Membership"
import * as Processor from "@tracklog/core/Processor"
import type * as Segment from "@tracklog/core/Segment"
import * as SegmentCondition from "@tracklog/core/SegmentCondition"
import * as SegmentEvaluation from "@tracklog/core/SegmentEvaluation"
import * as SegmentMembership from "@tracklog/core/SegmentMembership"
import * as SegmentNode from "@tracklog/core/SegmentNode"
import * as SegmentProcessor from "@tracklog/core/SegmentProcessor"
import * as SegmentStore from "@tracklog/core/SegmentStore"
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

const Minute = 60_000
const Windows = [30 * Minute, 60 * Minute, 120 * Minute, 180 * Minute]

const f = (field: string, operator: string, value?: unknown, unit?: string) =>
  ({ field, operator, ...(value === undefined ? {} : { value }), ...(unit === undefined ? {} : { unit }) }) as never
const all = (...filters: Array<never>): Segment.Segment["condition"] => ({ logic: "AND", groups: [{ filters }] })

// Conditions of every kind: data, subscription, email, event, time windows, counts, references.
const Pool: ReadonlyArray<Segment.Segment["condition"]> = [
  all(f("data.plan", "equals", "pro")),
  all(f("event.buy", "triggeredWithin", 2, "hours")),
  all(f("event.buy", "triggeredAtLeast", 2), f("subscribed", "equals", true)),
  {
    logic: "OR",
    groups: [{ filters: [f("event.visit", "notTriggeredWithin", 1, "hours")] }, {
      filters: [f("data.score", "greaterThan", 5)]
    }]
  },
  all(f("event.buy", "triggeredOlderThan", 30, "minutes"), f("email", "contains", "a")),
  {
    logic: "AND",
    groups: [{
      filters: [{ field: "event.visit", operator: "triggeredAtLeast", value: 2, within: 3, unit: "hours" } as never]
    }]
  },
  all(f("segment.s0", "memberOfSegment"), f("event.visit", "triggered"))
]

interface Step {
  readonly wait: number
  readonly email: string
  readonly event: string
  readonly plan: string | undefined
  readonly score: number | undefined
  readonly subscribed: boolean | undefined
}

const step: FastCheck.Arbitrary<Step> = FastCheck.record({
  wait: FastCheck.integer({ min: 0, max: 150 }).map((m) => m * Minute),
  email: FastCheck.constantFrom("ann@x.io", "bob@x.io", "cy@x.io"),
  event: FastCheck.constantFrom("buy", "visit"),
  plan: FastCheck.option(FastCheck.constantFrom("pro", "free"), { nil: undefined }),
  score: FastCheck.option(FastCheck.integer({ min: 0, max: 10 }), { nil: undefined }),
  subscribed: FastCheck.option(FastCheck.boolean(), { nil: undefined })
})

const services = () => Commands.layer.pipe(Layer.provideMerge(StoreMemory.layer), Layer.provideMerge(Ids.layer))

const trackNow = (s: Step) =>
  Effect.gen(function*() {
    const track = yield* Track.Track
    const data: Record<string, unknown> = {}
    if (s.plan !== undefined) data.plan = s.plan
    if (s.score !== undefined) data.score = s.score
    const body = {
      email: s.email,
      event: s.event,
      data,
      ...(s.subscribed === undefined ? {} : { subscribed: s.subscribed })
    }
    const fiber = yield* Effect.fork(track.track("p", Either.getOrThrow(TrackCommand.decode(body as never))))
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

// The oracle: every transition of every segment for one contact's stream, from scratch.
const oracle = (
  stream: ReadonlyArray<EventStore.RecordedEvent>,
  segments: ReadonlyArray<Segment.Segment>,
  end: number
): Array<string> => {
  const own = stream.filter((e) => !(e.event._tag === "EventTracked" && e.event.name.startsWith("segment.")))
  const commands: Array<{ at: number; upTo: number }> = []
  own.forEach((e, i) => {
    const next = own[i + 1]
    if (next === undefined || next.transactionId !== e.transactionId)
      commands.push({ at: e.event.at.getTime(), upTo: i + 1 })
  })
  const nodes = new Map(segments.map((s) => [s.id, Either.getOrThrow(SegmentCondition.decode(s.condition)).node]))
  const inlined = segments.map((s) => ({ s, node: SegmentNode.inline(nodes.get(s.id)!, (id) => nodes.get(id)) }))
  // Every instant an answer can change without a command: just after an event time plus a window.
  const flips = new Set<number>()
  for (const e of own) for (const w of Windows) flips.add(e.event.at.getTime() + w + 1)
  type Point = { at: number; upTo: number; command: boolean }
  const points: Array<Point> = commands.map((c) => ({ ...c, command: true }))
  for (const x of flips) {
    if (x > end) continue
    const upTo = commands.filter((c) => c.at < x).at(-1)?.upTo ?? 0
    if (upTo > 0) points.push({ at: x, upTo, command: false })
  }
  points.sort((a, b) => a.at - b.at || Number(a.command) - Number(b.command))
  const member = new Map<string, boolean>()
  const out: Array<string> = []
  for (const p of points) {
    const events = own.slice(0, p.upTo).map((e) => e.event)
    const contact = Contact.fold(events)
    if (contact === null) continue
    const facts = EventFacts.fold(events, () => 1000)
    const subject = SegmentMembership.subjectOf(contact, facts)
    for (const { node, s } of inlined) {
      const now = SegmentEvaluation.evaluate(node, subject, p.at).matches
      if (now === (member.get(s.id) ?? false)) continue
      member.set(s.id, now)
      const stamp = p.command ? p.at : p.at - 1
      out.push(`${stamp} segment.${s.slug}.${now ? "entry" : "exit"} ${p.command ? "changed" : "time"}`)
    }
  }
  return out.sort()
}

const recorded = (stream: ReadonlyArray<EventStore.RecordedEvent>) =>
  stream.flatMap((e) =>
    e.event._tag === "EventTracked" && e.event.name.startsWith("segment.")
      ? [`${e.event.at.getTime()} ${e.event.name} ${(e.event.data as { reason: string }).reason}`]
      : []
  ).sort()

describe("segments: the processor equals the oracle", () => {
  it("random tracks over random times: the same transitions, kinds, reasons and instants", () =>
    FastCheck.assert(
      FastCheck.asyncProperty(
        FastCheck.uniqueArray(FastCheck.integer({ min: 1, max: Pool.length - 1 }), { minLength: 1, maxLength: 4 }),
        FastCheck.array(step, { minLength: 1, maxLength: 14 }),
        (picked, steps) =>
          Effect.runPromise(
            Effect.gen(function*() {
              yield* TestClock.setTime(Date.parse("2026-03-01T00:00:00Z"))
              const now = new Date(Date.parse("2026-03-01T00:00:00Z"))
              const segments: Array<Segment.Segment> = [0, ...picked].map((k) => ({
                id: `s${k}`,
                projectId: "p",
                name: `S${k}`,
                slug: `s${k}`,
                condition: Pool[k]!,
                trackMembership: true,
                createdAt: now,
                updatedAt: now,
                revision: 1,
                builtRevision: 0,
                buildCursor: ""
              }))
              const store = yield* SegmentStore.SegmentStore
              yield* store.update("p", () => Either.right({ put: segments, answer: undefined }))
              yield* settle
              const contacts = new Set<string>()
              for (const s of steps) {
                yield* TestClock.adjust(s.wait)
                const result = yield* trackNow(s)
                contacts.add(result.contact)
                yield* settle
              }
              yield* TestClock.adjust(6 * 60 * Minute)
              yield* settle
              const end = yield* TestClock.currentTimeMillis
              const events = yield* EventStore.EventStore
              for (const id of contacts) {
                const stream = yield* events.readStream(id)
                expect(recorded(stream)).toEqual(oracle(stream, segments, end))
              }
            }).pipe(Effect.provide(services()), Effect.provide(TestContext.TestContext))
          )
      ),
      { numRuns: 60 }
    ), 120_000)
})
