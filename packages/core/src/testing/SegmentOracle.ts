/**
 * The brute-force oracle for segments (issue 29): every transition of every segment for a contact,
 * found by evaluating each segment from the whole log prefix at every instant an answer can change
 * — each command's time, and just after each event time plus each window. No snapshot, no
 * routing, no deadline: what the processor does incrementally, done from scratch. Also the random
 * scenarios the property tests feed both.
 */
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Contact from "../Contact.js"
import * as EventFacts from "../EventFacts.js"
import type * as EventStore from "../EventStore.js"
import type * as Segment from "../Segment.js"
import * as SegmentCondition from "../SegmentCondition.js"
import * as SegmentEvaluation from "../SegmentEvaluation.js"
import * as SegmentMembership from "../SegmentMembership.js"
import * as SegmentNode from "../SegmentNode.js"
import type * as TrackCommand from "../TrackCommand.js"

const Minute = 60_000

/** Every window the pool's conditions use, in ms. */
export const Windows = [30 * Minute, 60 * Minute, 120 * Minute, 180 * Minute]

const f = (field: string, operator: string, value?: unknown, unit?: string) =>
  ({ field, operator, ...(value === undefined ? {} : { value }), ...(unit === undefined ? {} : { unit }) }) as never
const all = (...filters: Array<never>): Segment.Segment["condition"] => ({ logic: "AND", groups: [{ filters }] })

/**
 * Conditions of every kind: data, subscription, email, event, time windows, counts, and a
 * reference to the first (`first`, its id).
 */
export const pool = (first: string): ReadonlyArray<Segment.Segment["condition"]> => [
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
  all({ field: "event.visit", operator: "triggeredAtLeast", value: 2, within: 3, unit: "hours" } as never),
  all(f(`segment.${first}`, "memberOfSegment"), f("event.visit", "triggered"))
]

/** One track of a scenario, after waiting `wait` ms. */
export interface Step {
  readonly wait: number
  readonly email: string
  readonly event: string
  readonly plan: string | undefined
  readonly score: number | undefined
  readonly subscribed: boolean | undefined
}

/** Pool indexes besides 0 (always defined: the last one refers to it), and the tracks. */
export interface Scenario {
  readonly picked: ReadonlyArray<number>
  readonly steps: ReadonlyArray<Step>
}

const step: FastCheck.Arbitrary<Step> = FastCheck.record({
  wait: FastCheck.integer({ min: 0, max: 150 }).map((m) => m * Minute),
  email: FastCheck.constantFrom("ann@x.io", "bob@x.io", "cy@x.io"),
  event: FastCheck.constantFrom("buy", "visit"),
  plan: FastCheck.option(FastCheck.constantFrom("pro", "free"), { nil: undefined }),
  score: FastCheck.option(FastCheck.integer({ min: 0, max: 10 }), { nil: undefined }),
  subscribed: FastCheck.option(FastCheck.boolean(), { nil: undefined })
})

export const scenario: FastCheck.Arbitrary<Scenario> = FastCheck.record({
  picked: FastCheck.uniqueArray(FastCheck.integer({ min: 1, max: pool("").length - 1 }), {
    minLength: 1,
    maxLength: 4
  }),
  steps: FastCheck.array(step, { minLength: 1, maxLength: 14 })
})

/** A step's track request. */
export const body = (s: Step): TrackCommand.Encoded => {
  const data: Record<string, string | number> = {}
  if (s.plan !== undefined) data.plan = s.plan
  if (s.score !== undefined) data.score = s.score
  return { email: s.email, event: s.event, data, ...(s.subscribed === undefined ? {} : { subscribed: s.subscribed }) }
}

/** The scenario's segments of `projectId`, defined at `at` (ids `<projectId>-s<k>`, slugs `s<k>`). */
export const segments = (projectId: string, picked: ReadonlyArray<number>, at: Date): Array<Segment.Segment> => {
  const conditions = pool(`${projectId}-s0`)
  return [0, ...picked].map((k) => ({
    id: `${projectId}-s${k}`,
    projectId,
    name: `S${k}`,
    slug: `s${k}`,
    condition: conditions[k]!,
    trackMembership: true,
    createdAt: at,
    updatedAt: at,
    revision: 1,
    builtRevision: 0,
    buildCursor: ""
  }))
}

const isTransition = (e: EventStore.RecordedEvent) =>
  e.event._tag === "EventTracked" && e.event.name.startsWith("segment.")

/** The transitions a stream holds, as `<ms> <name> <reason>`, sorted. */
export const recorded = (stream: ReadonlyArray<EventStore.RecordedEvent>): Array<string> =>
  stream.flatMap((e) =>
    e.event._tag === "EventTracked" && isTransition(e)
      ? [`${e.event.at.getTime()} ${e.event.name} ${(e.event.data as { reason: string }).reason}`]
      : []
  ).sort()

/** Whether, in a stream's log order, each segment's entries and exits alternate, starting with an entry. */
export const alternates = (stream: ReadonlyArray<EventStore.RecordedEvent>): boolean => {
  const inside = new Map<string, boolean>()
  for (const e of stream) {
    if (e.event._tag !== "EventTracked" || !isTransition(e)) continue
    const name = e.event.name
    const segment = name.slice(0, name.lastIndexOf("."))
    const entry = name.endsWith(".entry")
    if ((inside.get(segment) ?? false) === entry) return false
    inside.set(segment, entry)
  }
  return true
}

/** The transitions the oracle finds for one contact's stream up to `end` (ms), in `recorded`'s form. */
export const expected = (
  stream: ReadonlyArray<EventStore.RecordedEvent>,
  defined: ReadonlyArray<Segment.Segment>,
  end: number
): Array<string> => {
  const own = stream.filter((e) => !isTransition(e))
  const commands: Array<{ at: number; upTo: number }> = []
  own.forEach((e, i) => {
    const next = own[i + 1]
    if (next === undefined || next.transactionId !== e.transactionId) {
      commands.push({ at: e.event.at.getTime(), upTo: i + 1 })
    }
  })
  const nodes = nodesOf(defined)
  const inlined = defined.map((s) => ({ s, node: SegmentNode.inline(nodes.get(s.id)!, (id) => nodes.get(id)) }))
  const flips = new Set<number>()
  for (const e of own) for (const w of Windows) flips.add(e.event.at.getTime() + w + 1)
  interface Point {
    readonly at: number
    readonly upTo: number
    readonly command: boolean
  }
  const points: Array<Point> = commands.map((c) => ({ ...c, command: true }))
  for (const x of flips) {
    if (x > end) continue
    const upTo = commands.filter((c) => c.at < x).at(-1)?.upTo ?? 0
    if (upTo > 0) points.push({ at: x, upTo, command: false })
  }
  // At one instant, a window that passed goes before a command (the processor applies it first).
  points.sort((a, b) => a.at - b.at || Number(a.command) - Number(b.command))
  const member = new Map<string, boolean>()
  const out: Array<string> = []
  for (const p of points) {
    const subject = subjectOf(own.slice(0, p.upTo))
    if (subject === undefined) continue
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

/**
 * Whether a contact matches an audience's condition at `at`, by the oracle's method: the condition
 * with its references inlined, against the contact folded from its whole stream.
 */
export const matches = (
  stream: ReadonlyArray<EventStore.RecordedEvent>,
  condition: Segment.Segment["condition"],
  defined: ReadonlyArray<Segment.Segment>,
  at: number
): boolean => {
  const nodes = nodesOf(defined)
  const node = SegmentNode.inline(Either.getOrThrow(SegmentCondition.decode(condition)).node, (id) => nodes.get(id))
  const subject = subjectOf(stream)
  return subject !== undefined && SegmentEvaluation.evaluate(node, subject, at).matches
}

// Each segment's own tree, by id.
const nodesOf = (defined: ReadonlyArray<Segment.Segment>): Map<string, SegmentNode.Node> =>
  new Map(defined.map((s) => [s.id, Either.getOrThrow(SegmentCondition.decode(s.condition)).node]))

// What a condition reads of the contact folded from these events, every recent time kept;
// `undefined` when they leave no contact.
const subjectOf = (
  events: ReadonlyArray<EventStore.RecordedEvent>
): SegmentEvaluation.Subject | undefined => {
  const folded = events.map((e) => e.event)
  const contact = Contact.fold(folded)
  return contact === null ? undefined : SegmentMembership.subjectOf(contact, EventFacts.fold(folded, () => 1000))
}
