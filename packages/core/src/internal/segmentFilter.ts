/**
 * One filter of a segment condition, read into its leaf: the kinds of field, the operators each
 * kind takes, each negative operator as NOT of its positive one, and the value, unit and window each
 * operator wants, parsed once. With the small tools `SegmentCondition`'s decoding shares: issues
 * recorded at their paths, keys read as JSON has them.
 */
import * as EventFacts from "../EventFacts.js"
import type * as FieldIssue from "../FieldIssue.js"
import * as Json from "../Json.js"
import type * as SegmentCondition from "../SegmentCondition.js"
import * as SegmentNode from "../SegmentNode.js"
import * as Timestamp from "../Timestamp.js"

/** Largest count a `triggeredAtLeast` / `triggeredFewerThan` filter may ask for. */
export const MaxCount = 1000
/** Longest window, in ms (100 years of days): `instant + window` must stay an exact integer. */
export const MaxWindow = 36_500 * Timestamp.DayMillis

/** Milliseconds in one of each unit (a day is always 86 400 000 ms). */
export const UnitMillis: { readonly [U in SegmentCondition.Unit]: number } = {
  minutes: 60_000,
  hours: 3_600_000,
  days: Timestamp.DayMillis
}

/** Whether `u` is a JSON value: finite numbers only, plain objects and arrays of JSON values. */
export const isJson = (u: unknown): u is Json.Json => {
  if (u === null || typeof u === "string" || typeof u === "boolean") return true
  if (typeof u === "number") return Number.isFinite(u)
  if (Array.isArray(u)) return u.every(isJson)
  return Json.isObject(u) && Object.values(u).every(isJson)
}

// ---------------------------------------------------------------------------------------------
// Reading the input

/** Where a decoding records the issues it finds, in document order. */
export interface Issues {
  readonly issues: Array<FieldIssue.FieldIssue>
}

/** A part decoded: its wire form as kept and its normalised tree. */
export interface Parsed<W> {
  readonly wire: W
  readonly node: SegmentNode.Node
}

/** An object as sent, its keys not yet read. */
export type Input = { readonly [key: string]: unknown }

/** Whether `u` is an object (not null, not an array). */
export const isInput = (u: unknown): u is Input => typeof u === "object" && u !== null && !Array.isArray(u)

/** The value at `key`: a key holding `undefined` is as good as absent, since JSON has no `undefined`. */
export const get = (u: Input, key: string): unknown => Object.hasOwn(u, key) ? u[key] : undefined

/** Records an issue; `undefined` so that a decoder can `return report(…)`. */
export const report = (w: Issues, field: string, code: SegmentCondition.IssueCode, message: string): undefined => {
  w.issues.push({ field, code, message })
  return undefined
}

/** Records an issue; `false` so that a check can write `ok = refuse(…)`. */
export const refuse = (w: Issues, field: string, code: SegmentCondition.IssueCode, message: string): false => {
  w.issues.push({ field, code, message })
  return false
}

// ---------------------------------------------------------------------------------------------
// Fields and operators

type Target =
  | { readonly kind: "email" }
  | { readonly kind: "subscribed" }
  | { readonly kind: "date"; readonly attribute: SegmentNode.DateAttribute }
  | { readonly kind: "data"; readonly path: ReadonlyArray<string> }
  | { readonly kind: "event"; readonly name: string }
  | { readonly kind: "segment"; readonly id: string }

type Kind = Target["kind"]

const Comparisons: ReadonlyArray<SegmentNode.Comparison> = [
  "greaterThan",
  "lessThan",
  "greaterThanOrEqual",
  "lessThanOrEqual"
]
const DateOperators = ["equals", "notEquals", ...Comparisons, "within", "olderThan"]

/** The operators each kind of field takes. */
const Operators: { readonly [K in Kind]: ReadonlySet<string> } = {
  email: new Set(["equals", "notEquals", "contains", "notContains"]),
  subscribed: new Set(["equals", "notEquals"]),
  date: new Set(DateOperators),
  data: new Set([...DateOperators, "contains", "notContains", "exists", "notExists"]),
  event: new Set([
    "triggered",
    "notTriggered",
    "triggeredWithin",
    "notTriggeredWithin",
    "triggeredOlderThan",
    "triggeredAtLeast",
    "triggeredFewerThan"
  ]),
  segment: new Set(["memberOfSegment", "notMemberOfSegment"])
}

/** Each negative operator and the positive one it is exactly NOT of. */
const Negations: { readonly [operator: string]: string } = {
  notEquals: "equals",
  notContains: "contains",
  notExists: "exists",
  notTriggered: "triggered",
  notTriggeredWithin: "triggeredWithin",
  triggeredFewerThan: "triggeredAtLeast",
  notMemberOfSegment: "memberOfSegment"
}

// ---------------------------------------------------------------------------------------------
// A filter

const target = (field: string, path: string, w: Issues): Target | undefined => {
  switch (field) {
    case "email":
      return { kind: "email" }
    case "subscribed":
      return { kind: "subscribed" }
    case "createdAt":
    case "updatedAt":
      return { kind: "date", attribute: field }
  }
  const dot = field.indexOf(".")
  const prefix = dot < 0 ? field : field.slice(0, dot)
  const rest = dot < 0 ? "" : field.slice(dot + 1)
  switch (prefix) {
    case "data": {
      const keys = rest.split(".")
      if (dot < 0 || keys.some((k) => k.length === 0)) {
        return report(w, path, "unknown_field", "A data field is data.<key>[.<key>…], with no empty key")
      }
      return { kind: "data", path: keys }
    }
    case "event": {
      if (rest.length === 0) return report(w, path, "unknown_field", "An event field is event.<name>")
      if (!EventFacts.readable(rest)) {
        return report(
          w,
          path,
          "reserved_event",
          rest.startsWith("email.")
            ? `Event "${rest}" is reserved for the system and is not recorded as a tracked event`
            : `Event "${rest}" is reserved for the system; to test segment membership use field "segment.<id>" ` +
              `with operator "memberOfSegment"`
        )
      }
      return { kind: "event", name: rest }
    }
    case "segment":
      if (rest.length === 0) return report(w, path, "unknown_field", "A segment field is segment.<id>")
      return { kind: "segment", id: rest }
  }
  return report(
    w,
    path,
    "unknown_field",
    `Unknown field "${field}": expected email, subscribed, createdAt, updatedAt, data.<path>, event.<name> or ` +
      `segment.<id>`
  )
}

const isPositiveInteger = (u: unknown): u is number => Number.isSafeInteger(u) && (u as number) > 0

/**
 * Decodes one filter at `path` (`at`: the same below the root, which `MemberOf` keeps), or records
 * every rule it breaks and answers `undefined`.
 */
export const decodeFilter = (
  u: unknown,
  path: string,
  at: string,
  w: Issues
): Parsed<SegmentCondition.WireFilter> | undefined => {
  if (!isInput(u)) return report(w, path, "invalid_type", "Expected an object")
  const before = w.issues.length
  const field = get(u, "field")
  const operator = get(u, "operator")
  const value = get(u, "value")
  const unit = get(u, "unit")
  const within = get(u, "within")
  let where: Target | undefined
  if (field === undefined) report(w, `${path}.field`, "required", "field is required")
  else if (typeof field !== "string") report(w, `${path}.field`, "invalid_type", "Expected a string")
  else where = target(field, `${path}.field`, w)
  if (operator === undefined) report(w, `${path}.operator`, "required", "operator is required")
  else if (typeof operator !== "string") report(w, `${path}.operator`, "invalid_type", "Expected a string")
  else if (where !== undefined && !Operators[where.kind].has(operator)) {
    report(
      w,
      `${path}.operator`,
      "unknown_operator",
      `Operator "${operator}" is not one of ${[...Operators[where.kind]].join(", ")} for field "${field as string}"`
    )
  }
  // `unit` and `within` are checked wherever they appear, so that the wire form kept is well typed.
  if (unit !== undefined && !(typeof unit === "string" && Object.hasOwn(UnitMillis, unit))) {
    report(w, `${path}.unit`, "invalid_unit", "unit must be minutes, hours or days")
  }
  if (within !== undefined && !isPositiveInteger(within)) {
    report(w, `${path}.within`, "invalid_value", "within must be a positive integer")
  }
  if (value !== undefined && !isJson(value)) report(w, `${path}.value`, "invalid_value", "value must be JSON")
  if (w.issues.length > before || where === undefined) return undefined
  const op = operator as string
  const positive = Negations[op] ?? op
  const leaf = leafOf(where, positive, { path, at, value, unit: unit as SegmentCondition.Unit | undefined, within }, w)
  if (leaf === undefined) return undefined
  const wire: { -readonly [K in keyof SegmentCondition.WireFilter]: SegmentCondition.WireFilter[K] } = {
    field: field as string,
    operator: op
  }
  if (value !== undefined) wire.value = value as Json.Json
  if (unit !== undefined) wire.unit = unit as SegmentCondition.Unit
  if (within !== undefined) wire.within = within as number
  return { wire, node: positive === op ? leaf : SegmentNode.not(leaf) }
}

interface Sent {
  readonly path: string
  readonly at: string
  readonly value: unknown
  readonly unit: SegmentCondition.Unit | undefined
  readonly within: unknown
}

const needValue = (sent: Sent, w: Issues): boolean =>
  sent.value === undefined ? refuse(w, `${sent.path}.value`, "missing_value", "This operator needs a value") : true

// A window of `amount` units, or undefined (reported) when `amount` is not a positive integer, the
// unit is missing, or the window is longer than `MaxWindow`.
const windowOf = (amount: unknown, amountPath: string, sent: Sent, w: Issues): number | undefined => {
  let ok = true
  if (!isPositiveInteger(amount)) ok = refuse(w, amountPath, "invalid_value", "Expected a positive integer")
  if (sent.unit === undefined) {
    ok = refuse(w, `${sent.path}.unit`, "missing_unit", "This operator needs a unit: minutes, hours or days")
  }
  if (!ok) return undefined
  const window = (amount as number) * UnitMillis[sent.unit!]
  if (window > MaxWindow) return report(w, amountPath, "invalid_value", "A window may be at most 36500 days")
  return window
}

const timedValue = (sent: Sent, w: Issues): number | undefined =>
  needValue(sent, w) ? windowOf(sent.value, `${sent.path}.value`, sent, w) : undefined

const instantOf = (sent: Sent, w: Issues): number | undefined => {
  if (!needValue(sent, w)) return undefined
  const millis = typeof sent.value === "string" ? Timestamp.parse(sent.value) : NaN
  return Number.isNaN(millis)
    ? report(w, `${sent.path}.value`, "invalid_value", "Expected an ISO-8601 date (YYYY-MM-DD) or instant")
    : millis
}

const stringOf = (sent: Sent, w: Issues): string | undefined => {
  if (!needValue(sent, w)) return undefined
  return typeof sent.value === "string"
    ? sent.value.toLowerCase()
    : report(w, `${sent.path}.value`, "invalid_value", "Expected a string")
}

// The inclusive range of instants a comparison with `bound` admits (instants are whole ms).
const rangeOf = (comparison: SegmentNode.Comparison, bound: number): readonly [number, number] => {
  switch (comparison) {
    case "greaterThan":
      return [bound + 1, Infinity]
    case "greaterThanOrEqual":
      return [bound, Infinity]
    case "lessThan":
      return [-Infinity, bound - 1]
    case "lessThanOrEqual":
      return [-Infinity, bound]
  }
}

// The positive leaf of a filter whose field and operator are known to go together.
const leafOf = (where: Target, op: string, sent: Sent, w: Issues): SegmentNode.Leaf | undefined => {
  switch (where.kind) {
    case "email": {
      const value = stringOf(sent, w)
      if (value === undefined) return undefined
      return op === "equals" ? { _tag: "EmailEquals", value } : { _tag: "EmailContains", value }
    }
    case "subscribed": {
      if (!needValue(sent, w)) return undefined
      return typeof sent.value === "boolean"
        ? { _tag: "Subscribed", value: sent.value }
        : report(w, `${sent.path}.value`, "invalid_value", "Expected a boolean")
    }
    case "date": {
      const { attribute } = where
      if (op === "within" || op === "olderThan") {
        const window = timedValue(sent, w)
        if (window === undefined) return undefined
        return { _tag: op === "within" ? "DateWithin" : "DateOlderThan", attribute, window }
      }
      const instant = instantOf(sent, w)
      if (instant === undefined) return undefined
      if (op === "equals") {
        // A day covers all of its UTC milliseconds; an instant only itself.
        const last = Timestamp.isDate(sent.value as string) ? instant + Timestamp.DayMillis - 1 : instant
        return { _tag: "DateIn", attribute, from: instant, to: last }
      }
      const [from, to] = rangeOf(op as SegmentNode.Comparison, instant)
      return { _tag: "DateIn", attribute, from, to }
    }
    case "data": {
      const { path } = where
      if (op === "exists") return { _tag: "DataExists", path }
      if (op === "within" || op === "olderThan") {
        const window = timedValue(sent, w)
        if (window === undefined) return undefined
        return { _tag: op === "within" ? "DataWithin" : "DataOlderThan", path, window }
      }
      if (op === "contains") {
        const value = stringOf(sent, w)
        return value === undefined ? undefined : { _tag: "DataContains", path, value }
      }
      if (!needValue(sent, w)) return undefined
      const value = sent.value as Json.Json
      if (op === "equals") {
        const day = typeof value === "string" && Timestamp.isDate(value) ? Timestamp.parse(value) : undefined
        return { _tag: "DataEquals", path, value, day }
      }
      // What is left is a comparison: `Operators` admitted nothing else for a data field.
      const comparison = op as SegmentNode.Comparison
      if (typeof value === "number") return { _tag: "DataCompare", path, comparison, bound: value, instant: false }
      const instant = typeof value === "string" ? Timestamp.parse(value) : NaN
      // A bound that is neither would make a filter that never holds: refused as a mistake.
      return Number.isNaN(instant)
        ? report(w, `${sent.path}.value`, "invalid_value", "Expected a number or an ISO-8601 date or instant")
        : { _tag: "DataCompare", path, comparison, bound: instant, instant: true }
    }
    case "event": {
      const event = where.name
      switch (op) {
        case "triggered":
          return { _tag: "Triggered", event }
        case "triggeredWithin":
        case "triggeredOlderThan": {
          const window = timedValue(sent, w)
          if (window === undefined) return undefined
          return op === "triggeredWithin"
            ? { _tag: "TriggeredWithin", event, window }
            : { _tag: "TriggeredOlderThan", event, window }
        }
        default: {
          // `triggeredAtLeast`, the only other positive event operator.
          if (!needValue(sent, w)) return undefined
          const count = sent.value
          let ok = true
          if (!(Number.isSafeInteger(count) && (count as number) >= 1 && (count as number) <= MaxCount)) {
            ok = refuse(w, `${sent.path}.value`, "invalid_value", `Expected an integer from 1 to ${MaxCount}`)
          }
          let window: number | undefined
          if (sent.within !== undefined) {
            window = windowOf(sent.within, `${sent.path}.within`, sent, w)
            if (window === undefined) ok = false
          }
          return ok ? { _tag: "TriggeredAtLeast", event, count: count as number, window } : undefined
        }
      }
    }
    case "segment":
      return { _tag: "MemberOf", segmentId: where.id, at: sent.at.slice(1) + ".field" }
  }
}
