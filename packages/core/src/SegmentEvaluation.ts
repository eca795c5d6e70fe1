/**
 * Whether a contact matches a condition at an instant, and until when that answer holds without new
 * input: the deadline a live segment schedules its next look at, so that a time window passing
 * moves a contact in or out at the exact instant it passes.
 *
 * Every time rule changes its answer right after an instant `ts + N`: a window (`within`,
 * `triggeredWithin`, a count in a window) holds through `ts + N` inclusive and not after;
 * `olderThan`, `triggeredOlderThan` hold only after it. Each such leaf changes at most once without
 * new input, so its boundary is exact; a leaf whose instant is already behind `t` never changes
 * again (`Infinity`).
 */
import type * as EventFacts from "./EventFacts.js"
import * as Json from "./Json.js"
import type * as SegmentNode from "./SegmentNode.js"
import * as Timestamp from "./Timestamp.js"

/** What a condition is evaluated against: a contact's state and the facts of its events. */
export interface Subject {
  readonly email: string
  readonly subscribed: boolean
  /** ms since the epoch. */
  readonly createdAt: number
  /** ms since the epoch: the contact's last state change (subscription, data, email). */
  readonly updatedAt: number
  readonly data: Json.JsonObject
  /** The facts about one event name; `undefined` for a name the contact never had. */
  readonly facts: (name: string) => EventFacts.Facts | undefined
}

/**
 * The answer at `t`, and `boundary`: an instant `≥ t` through which the answer stays the same
 * (it may change at `boundary + 1`), `Infinity` when only new input can change it.
 */
export interface Result {
  readonly matches: boolean
  readonly boundary: number
}

// One per evaluation, so that leaves report their boundary without allocating a result each.
interface Context {
  readonly subject: Subject
  readonly t: number
  boundary: number
}

/**
 * Evaluates an inlined condition (`SegmentNode.inline`) for `subject` at `t` (ms). A
 * `segment.<id>` leaf left in it is a defect and throws.
 */
export const evaluate = (node: SegmentNode.Node, subject: Subject, t: number): Result => {
  const context: Context = { subject, t, boundary: Infinity }
  const matches = go(node, context)
  return { matches, boundary: context.boundary }
}

// A window that holds through `end` (inclusive): true with `end` as its boundary while `t ≤ end`,
// false for good after.
const until = (end: number, c: Context): boolean => {
  if (c.t <= end) {
    c.boundary = end
    return true
  }
  c.boundary = Infinity
  return false
}

// The converse: false through `end`, then true for good.
const after = (end: number, c: Context): boolean => {
  if (c.t <= end) {
    c.boundary = end
    return false
  }
  c.boundary = Infinity
  return true
}

const constant = (value: boolean, c: Context): boolean => {
  c.boundary = Infinity
  return value
}

// The data value at `path`, walking nested objects only (own keys: data may hold `__proto__`).
const resolve = (data: Json.JsonObject, path: ReadonlyArray<string>): Json.Json | undefined => {
  let value: Json.Json = data
  for (let i = 0; i < path.length; i++) {
    if (!Json.isObject(value)) return undefined
    const key = path[i]!
    if (!Object.hasOwn(value, key)) return undefined
    value = value[key]!
  }
  return value
}

// The instant a data value names, or NaN.
const instantOf = (value: Json.Json | undefined): number => typeof value === "string" ? Timestamp.parse(value) : NaN

const compare = (comparison: SegmentNode.Comparison, value: number, bound: number): boolean => {
  switch (comparison) {
    case "greaterThan":
      return value > bound
    case "lessThan":
      return value < bound
    case "greaterThanOrEqual":
      return value >= bound
    case "lessThanOrEqual":
      return value <= bound
  }
}

const go = (node: SegmentNode.Node, c: Context): boolean => {
  switch (node._tag) {
    case "And": {
      // True: it stays true while every child does (the least boundary). False: it stays false
      // while any false child does (the greatest boundary among them).
      let least = Infinity
      let greatestFalse = -Infinity
      let matches = true
      for (const child of node.children) {
        if (go(child, c)) {
          if (c.boundary < least) least = c.boundary
        } else {
          if (c.boundary === Infinity) return false
          matches = false
          if (c.boundary > greatestFalse) greatestFalse = c.boundary
        }
      }
      c.boundary = matches ? least : greatestFalse
      return matches
    }
    case "Or": {
      let least = Infinity
      let greatestTrue = -Infinity
      let matches = false
      for (const child of node.children) {
        if (go(child, c)) {
          if (c.boundary === Infinity) return true
          matches = true
          if (c.boundary > greatestTrue) greatestTrue = c.boundary
        } else if (c.boundary < least) least = c.boundary
      }
      c.boundary = matches ? greatestTrue : least
      return matches
    }
    case "Not":
      return !go(node.child, c)
    case "EmailEquals":
      return constant(c.subject.email.toLowerCase() === node.value, c)
    case "EmailContains":
      return constant(c.subject.email.toLowerCase().includes(node.value), c)
    case "Subscribed":
      return constant(c.subject.subscribed === node.value, c)
    case "DateIn": {
      const at = c.subject[node.attribute]
      return constant(node.from <= at && at <= node.to, c)
    }
    case "DateWithin":
      return until(c.subject[node.attribute] + node.window, c)
    case "DateOlderThan":
      return after(c.subject[node.attribute] + node.window, c)
    case "DataExists": {
      const value = resolve(c.subject.data, node.path)
      return constant(value !== undefined && value !== null, c)
    }
    case "DataEquals": {
      const value = resolve(c.subject.data, node.path)
      if (value === undefined) return constant(false, c)
      if (Json.equals(value, node.value)) return constant(true, c)
      if (node.day === undefined || typeof value !== "string") return constant(false, c)
      const at = Timestamp.parse(value)
      return constant(node.day <= at && at < node.day + Timestamp.DayMillis, c)
    }
    case "DataContains": {
      const value = resolve(c.subject.data, node.path)
      return constant(typeof value === "string" && value.toLowerCase().includes(node.value), c)
    }
    case "DataCompare": {
      const value = resolve(c.subject.data, node.path)
      if (node.instant) {
        const at = instantOf(value)
        // NaN compares false, which is the answer for a value that is not an instant.
        return constant(compare(node.comparison, at, node.bound), c)
      }
      return constant(typeof value === "number" && compare(node.comparison, value, node.bound), c)
    }
    case "DataWithin": {
      const at = instantOf(resolve(c.subject.data, node.path))
      return Number.isNaN(at) ? constant(false, c) : until(at + node.window, c)
    }
    case "DataOlderThan": {
      const at = instantOf(resolve(c.subject.data, node.path))
      return Number.isNaN(at) ? constant(false, c) : after(at + node.window, c)
    }
    case "Triggered":
      return constant(c.subject.facts(node.event) !== undefined, c)
    case "TriggeredWithin": {
      const facts = c.subject.facts(node.event)
      return facts === undefined ? constant(false, c) : until(facts.lastAt + node.window, c)
    }
    case "TriggeredOlderThan": {
      const facts = c.subject.facts(node.event)
      return facts === undefined ? constant(false, c) : after(facts.lastAt + node.window, c)
    }
    case "TriggeredAtLeast": {
      const facts = c.subject.facts(node.event)
      if (facts === undefined || facts.count < node.count) return constant(false, c)
      if (node.window === undefined) return constant(true, c)
      // At least `count` in the window while the count-th newest is in it. `recent` holds that
      // many when the facts were kept for this condition (`SegmentRouting.reads`).
      const { recent } = facts
      if (recent.length < node.count) return constant(false, c)
      return until(recent[recent.length - node.count]! + node.window, c)
    }
    case "MemberOf":
      throw new Error(`Segment "${node.segmentId}" must be inlined before a condition is evaluated`)
  }
}
