/**
 * A segment's condition: Plunk's wire format (`{logic, groups: [{filters, conditions?}]}`), checked
 * rule by rule and normalised into a small tree (`Node`) that `SegmentEvaluation` evaluates and
 * `SegmentRouting` reads. Decoding keeps the wire form too, as sent, because the API answers with
 * the condition it was given.
 *
 * Normalisation: `AND`/`OR` become `And`/`Or` (nested ones of the same kind flattened, single
 * children unwrapped), a group is the `And` of its filters and its nested condition, and every
 * negative operator is `Not` over its positive leaf, so "a negative is exactly NOT its positive"
 * holds by construction. Leaves carry their values parsed once: instants in ms, windows in ms,
 * lower-cased needles, data paths split.
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as FieldIssue from "./FieldIssue.js"
import * as Json from "./Json.js"
import * as Timestamp from "./Timestamp.js"

/** Most filters one condition may hold, counted over every group at every depth. */
export const MaxFilters = 100
/** Deepest nesting: the top condition is depth 1, a group's `conditions` depth 2, and so on. */
export const MaxDepth = 5
/** Largest count a `triggeredAtLeast` / `triggeredFewerThan` filter may ask for. */
export const MaxCount = 1000
/** Longest window, in ms (100 years of days): `instant + window` must stay an exact integer. */
export const MaxWindow = 36_500 * Timestamp.DayMillis

/** How a condition joins its groups. */
export type Logic = "AND" | "OR"

/** The unit of a window: rolling durations, not calendar units. */
export type Unit = "minutes" | "hours" | "days"

/** Milliseconds in one of each unit (a day is always 86 400 000 ms). */
export const UnitMillis: { readonly [U in Unit]: number } = {
  minutes: 60_000,
  hours: 3_600_000,
  days: Timestamp.DayMillis
}

/** One filter as sent: `value`, `unit` and `within` as the operator wants them. */
export interface WireFilter {
  readonly field: string
  readonly operator: string
  readonly value?: Json.Json
  readonly unit?: Unit
  readonly within?: number
}

/** One group as sent: its filters and its nested condition, all ANDed. */
export interface WireGroup {
  readonly filters: ReadonlyArray<WireFilter>
  readonly conditions?: WireCondition
}

/** A condition as sent: groups joined by `logic`. */
export interface WireCondition {
  readonly logic: Logic
  readonly groups: ReadonlyArray<WireGroup>
}

const isJson = (u: unknown): u is Json.Json => {
  if (u === null || typeof u === "string" || typeof u === "boolean") return true
  if (typeof u === "number") return Number.isFinite(u)
  if (Array.isArray(u)) return u.every(isJson)
  return Json.isObject(u) && Object.values(u).every(isJson)
}

const JsonValue: Schema.Schema<Json.Json> = Schema.declare(isJson, {
  identifier: "JsonValue",
  description: "Any JSON value",
  jsonSchema: {
    anyOf: [
      { type: "string" },
      { type: "number" },
      { type: "boolean" },
      { type: "null" },
      { type: "array" },
      { type: "object" }
    ]
  }
})

/** The unit of a window, as a schema. */
export const UnitSchema = Schema.Literal("minutes", "hours", "days")

/** The wire form of one filter. Its shape only: `decode` checks the rules between its fields. */
export const WireFilter: Schema.Schema<WireFilter> = Schema.Struct({
  field: Schema.String.annotations({ description: "email, subscribed, createdAt, updatedAt, data.<path>, …" }),
  operator: Schema.String,
  value: Schema.optionalWith(JsonValue, { exact: true }),
  unit: Schema.optionalWith(UnitSchema, { exact: true }),
  within: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { exact: true })
}).annotations({ identifier: "SegmentFilter" })

/** The wire form of one group. */
export const WireGroup: Schema.Schema<WireGroup> = Schema.Struct({
  filters: Schema.Array(WireFilter),
  conditions: Schema.optionalWith(Schema.suspend((): Schema.Schema<WireCondition> => WireCondition), { exact: true })
}).annotations({ identifier: "SegmentFilterGroup" })

/** The wire form of a condition (Plunk's), as the API documents it. Its shape only: `decode` validates. */
export const WireCondition: Schema.Schema<WireCondition> = Schema.Struct({
  logic: Schema.Literal("AND", "OR"),
  groups: Schema.Array(WireGroup)
}).annotations({ identifier: "SegmentCondition" })

/** The code of a condition issue, as it appears in `errors[].code`. */
export type IssueCode =
  | "required"
  | "invalid_type"
  | "unknown_field"
  | "unknown_operator"
  | "invalid_value"
  | "missing_value"
  | "missing_unit"
  | "invalid_unit"
  | "empty_group"
  | "empty_condition"
  | "too_many_filters"
  | "too_deep"
  | "reserved_event"
  | "unknown_segment"
  | "segment_cycle"

/** A condition that breaks one or more rules; each issue names the path of what breaks it. */
export class InvalidCondition extends Schema.TaggedError<InvalidCondition>()("InvalidCondition", {
  issues: Schema.Array(FieldIssue.FieldIssue)
}) {
  override get message() {
    return this.issues.map((i) => `${i.field}: ${i.message}`).join("; ")
  }
}

// ---------------------------------------------------------------------------------------------
// The normalised tree

/** The contact attributes that hold an instant. */
export type DateAttribute = "createdAt" | "updatedAt"

/** An ordering comparison. */
export type Comparison = "greaterThan" | "lessThan" | "greaterThanOrEqual" | "lessThanOrEqual"

/** Every child holds (the empty `And` always holds). */
export interface And {
  readonly _tag: "And"
  readonly children: ReadonlyArray<Node>
}

/** Some child holds (the empty `Or` never holds). */
export interface Or {
  readonly _tag: "Or"
  readonly children: ReadonlyArray<Node>
}

/** The child does not hold: every negative operator. */
export interface Not {
  readonly _tag: "Not"
  readonly child: Node
}

/** The email equals `value` (lower-cased here, compared case-insensitively). */
export interface EmailEquals {
  readonly _tag: "EmailEquals"
  readonly value: string
}

/** The email contains `value` (lower-cased here, compared case-insensitively). */
export interface EmailContains {
  readonly _tag: "EmailContains"
  readonly value: string
}

/** The contact's subscription state is `value`. */
export interface Subscribed {
  readonly _tag: "Subscribed"
  readonly value: boolean
}

/** `from ≤ attribute ≤ to` (ms, inclusive): equality with an instant or a UTC day, and the comparisons. */
export interface DateIn {
  readonly _tag: "DateIn"
  readonly attribute: DateAttribute
  readonly from: number
  readonly to: number
}

/** `attribute ≥ t − window`: true through `attribute + window`. */
export interface DateWithin {
  readonly _tag: "DateWithin"
  readonly attribute: DateAttribute
  readonly window: number
}

/** `attribute < t − window`: true after `attribute + window`. */
export interface DateOlderThan {
  readonly _tag: "DateOlderThan"
  readonly attribute: DateAttribute
  readonly window: number
}

/**
 * The data value at `path` equals `value` as JSON; when the filter's value is a `YYYY-MM-DD` day,
 * `day` is its UTC midnight and a string value naming an instant of that day matches too.
 */
export interface DataEquals {
  readonly _tag: "DataEquals"
  readonly path: ReadonlyArray<string>
  readonly value: Json.Json
  readonly day: number | undefined
}

/** The data value at `path` is a string containing `value` (lower-cased here), case-insensitively. */
export interface DataContains {
  readonly _tag: "DataContains"
  readonly path: ReadonlyArray<string>
  readonly value: string
}

/**
 * The data value at `path` compared with `bound`: as numbers when `instant` is false (a number
 * value only), as instants when it is true (an ISO-8601 string value only).
 */
export interface DataCompare {
  readonly _tag: "DataCompare"
  readonly path: ReadonlyArray<string>
  readonly comparison: Comparison
  readonly bound: number
  readonly instant: boolean
}

/** The data value at `path` is there and is not JSON null. */
export interface DataExists {
  readonly _tag: "DataExists"
  readonly path: ReadonlyArray<string>
}

/** The data value at `path` is an ISO-8601 instant `≥ t − window`. */
export interface DataWithin {
  readonly _tag: "DataWithin"
  readonly path: ReadonlyArray<string>
  readonly window: number
}

/** The data value at `path` is an ISO-8601 instant `< t − window`. */
export interface DataOlderThan {
  readonly _tag: "DataOlderThan"
  readonly path: ReadonlyArray<string>
  readonly window: number
}

/** The contact has had the event at least once. */
export interface Triggered {
  readonly _tag: "Triggered"
  readonly event: string
}

/** The contact's last such event is at `≥ t − window`. */
export interface TriggeredWithin {
  readonly _tag: "TriggeredWithin"
  readonly event: string
  readonly window: number
}

/** The contact has had the event, the last one at `< t − window`. */
export interface TriggeredOlderThan {
  readonly _tag: "TriggeredOlderThan"
  readonly event: string
  readonly window: number
}

/** At least `count` such events, at `≥ t − window` when there is a window. */
export interface TriggeredAtLeast {
  readonly _tag: "TriggeredAtLeast"
  readonly event: string
  readonly count: number
  readonly window: number | undefined
}

/**
 * The contact is a member of segment `segmentId`: its condition holds. `at` is the path of the
 * filter's field below the root (`groups[0].filters[1].field`), for the issues of `checkReferences`.
 */
export interface MemberOf {
  readonly _tag: "MemberOf"
  readonly segmentId: string
  readonly at: string
}

/** A test of one filter. */
export type Leaf =
  | EmailEquals
  | EmailContains
  | Subscribed
  | DateIn
  | DateWithin
  | DateOlderThan
  | DataEquals
  | DataContains
  | DataCompare
  | DataExists
  | DataWithin
  | DataOlderThan
  | Triggered
  | TriggeredWithin
  | TriggeredOlderThan
  | TriggeredAtLeast
  | MemberOf

/** A normalised condition. */
export type Node = And | Or | Not | Leaf

/** A decoded condition: the wire form as sent (unknown keys dropped) and its normalised tree. */
export interface Condition {
  readonly wire: WireCondition
  readonly node: Node
}

// Nested nodes of the same kind are flattened and a single child stands for itself: the tree an
// evaluation walks is no deeper than it must be.
const junction = (tag: "And" | "Or", nodes: ReadonlyArray<Node>): Node => {
  const children: Array<Node> = []
  for (const node of nodes) {
    if (node._tag === tag) children.push(...node.children)
    else children.push(node)
  }
  return children.length === 1 ? children[0]! : { _tag: tag, children }
}

/** Every node holds; nested `And`s are flattened, one child is returned as is. */
export const and = (nodes: ReadonlyArray<Node>): Node => junction("And", nodes)

/** Some node holds; nested `Or`s are flattened, one child is returned as is. */
export const or = (nodes: ReadonlyArray<Node>): Node => junction("Or", nodes)

/** The node does not hold; `not(not(x))` is `x`. */
export const not = (node: Node): Node => node._tag === "Not" ? node.child : { _tag: "Not", child: node }

// ---------------------------------------------------------------------------------------------
// Fields and operators

type Target =
  | { readonly kind: "email" }
  | { readonly kind: "subscribed" }
  | { readonly kind: "date"; readonly attribute: DateAttribute }
  | { readonly kind: "data"; readonly path: ReadonlyArray<string> }
  | { readonly kind: "event"; readonly name: string }
  | { readonly kind: "segment"; readonly id: string }

type Kind = Target["kind"]

const Comparisons: ReadonlyArray<Comparison> = ["greaterThan", "lessThan", "greaterThanOrEqual", "lessThanOrEqual"]
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

const isReservedEvent = (name: string): boolean =>
  name.startsWith("email.") || (name.startsWith("segment.") && (name.endsWith(".entry") || name.endsWith(".exit")))

// ---------------------------------------------------------------------------------------------
// Decoding

interface Walk {
  readonly issues: Array<FieldIssue.FieldIssue>
  filters: number
  /** Some part could not be read (not an object or array, too deep): it may hold filters. */
  opaque: boolean
}

interface Parsed<W> {
  readonly wire: W
  readonly node: Node
}

type Input = { readonly [key: string]: unknown }

const isInput = (u: unknown): u is Input => typeof u === "object" && u !== null && !Array.isArray(u)

// A key holding `undefined` is as good as absent: JSON has no `undefined`.
const get = (u: Input, key: string): unknown => Object.hasOwn(u, key) ? u[key] : undefined

// Records an issue; `undefined` so that a decoder can `return report(…)`.
const report = (w: Walk, field: string, code: IssueCode, message: string): undefined => {
  w.issues.push({ field, code, message })
  return undefined
}

// Records an issue; `false` so that a check can write `ok = refuse(…)`.
const refuse = (w: Walk, field: string, code: IssueCode, message: string): false => {
  w.issues.push({ field, code, message })
  return false
}

// Reports a part of the structure that is not what it must be: what it holds is not looked at.
const unreadable = (w: Walk, field: string, expected: string): false => {
  w.opaque = true
  return refuse(w, field, "invalid_type", expected)
}

/**
 * Decodes a condition as sent, or fails with every broken rule, each at its path below `root`
 * (`condition.groups[0].filters[1].operator`). Unknown keys are ignored and left out of `wire`.
 * Segment references are not looked up here: see `checkReferences`.
 */
export const decode = (u: unknown, root: string = "condition"): Either.Either<Condition, InvalidCondition> => {
  const w: Walk = { issues: [], filters: 0, opaque: false }
  const parsed = decodeCondition(u, root, "", 1, w)
  if (w.filters > MaxFilters) {
    report(w, root, "too_many_filters", `A condition may hold at most ${MaxFilters} filters, it holds ${w.filters}`)
  } else if (w.filters === 0 && !w.opaque && isInput(u)) {
    const groups = get(u, "groups")
    // An empty `groups` was already reported as such.
    if (Array.isArray(groups) && groups.length > 0) {
      report(w, root, "empty_condition", "A condition needs at least one filter")
    }
  }
  return w.issues.length === 0 && parsed !== undefined
    ? Either.right(parsed)
    : Either.left(new InvalidCondition({ issues: w.issues }))
}

// `path` is the full path for issues; `at` the same below the root, which `MemberOf` keeps.
const decodeCondition = (
  u: unknown,
  path: string,
  at: string,
  depth: number,
  w: Walk
): Parsed<WireCondition> | undefined => {
  if (!isInput(u)) return void unreadable(w, path, "Expected an object")
  if (depth > MaxDepth) {
    w.opaque = true
    return report(w, path, "too_deep", `Conditions must not nest deeper than ${MaxDepth} levels`)
  }
  const logic = get(u, "logic")
  let ok = true
  if (logic === undefined) ok = refuse(w, `${path}.logic`, "required", "logic is required")
  else if (typeof logic !== "string") ok = refuse(w, `${path}.logic`, "invalid_type", "Expected a string")
  else if (logic !== "AND" && logic !== "OR") {
    ok = refuse(w, `${path}.logic`, "invalid_value", "logic must be AND or OR")
  }
  const groups = get(u, "groups")
  const wires: Array<WireGroup> = []
  const nodes: Array<Node> = []
  if (groups === undefined) ok = refuse(w, `${path}.groups`, "required", "groups is required")
  else if (!Array.isArray(groups)) ok = unreadable(w, `${path}.groups`, "Expected an array")
  else if (groups.length === 0) {
    ok = refuse(w, `${path}.groups`, "empty_condition", "A condition needs at least one group")
  } else {
    for (let i = 0; i < groups.length; i++) {
      const sub = `.groups[${i}]`
      const group = decodeGroup(groups[i], path + sub, at + sub, depth, w)
      if (group === undefined) ok = false
      else {
        wires.push(group.wire)
        nodes.push(group.node)
      }
    }
  }
  if (!ok) return undefined
  const wire: WireCondition = { logic: logic as Logic, groups: wires }
  return { wire, node: logic === "AND" ? and(nodes) : or(nodes) }
}

const decodeGroup = (u: unknown, path: string, at: string, depth: number, w: Walk): Parsed<WireGroup> | undefined => {
  if (!isInput(u)) return void unreadable(w, path, "Expected an object")
  const filters = get(u, "filters")
  const conditions = get(u, "conditions")
  let ok = true
  const wires: Array<WireFilter> = []
  const nodes: Array<Node> = []
  if (filters === undefined) ok = refuse(w, `${path}.filters`, "required", "filters is required")
  else if (!Array.isArray(filters)) ok = unreadable(w, `${path}.filters`, "Expected an array")
  else {
    if (filters.length === 0 && conditions === undefined) {
      ok = refuse(w, path, "empty_group", "A group needs at least one filter or a nested condition")
    }
    for (let i = 0; i < filters.length; i++) {
      // Past the limit only the count goes on: the answer is already a refusal, and a huge
      // condition should not make a huge list of issues.
      if (++w.filters > MaxFilters) {
        ok = false
        continue
      }
      const sub = `.filters[${i}]`
      const filter = decodeFilter(filters[i], path + sub, at + sub, w)
      if (filter === undefined) ok = false
      else {
        wires.push(filter.wire)
        nodes.push(filter.node)
      }
    }
  }
  let nested: Parsed<WireCondition> | undefined
  if (conditions !== undefined) {
    nested = decodeCondition(conditions, `${path}.conditions`, `${at}.conditions`, depth + 1, w)
    if (nested === undefined) ok = false
    else nodes.push(nested.node)
  }
  if (!ok) return undefined
  const wire: WireGroup = nested === undefined ? { filters: wires } : { filters: wires, conditions: nested.wire }
  return { wire, node: and(nodes) }
}

const target = (field: string, path: string, w: Walk): Target | undefined => {
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
      if (isReservedEvent(rest)) {
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

const decodeFilter = (u: unknown, path: string, at: string, w: Walk): Parsed<WireFilter> | undefined => {
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
  const leaf = leafOf(where, positive, { path, at, value, unit: unit as Unit | undefined, within }, w)
  if (leaf === undefined) return undefined
  const wire: { -readonly [K in keyof WireFilter]: WireFilter[K] } = { field: field as string, operator: op }
  if (value !== undefined) wire.value = value as Json.Json
  if (unit !== undefined) wire.unit = unit as Unit
  if (within !== undefined) wire.within = within as number
  return { wire, node: positive === op ? leaf : not(leaf) }
}

interface Sent {
  readonly path: string
  readonly at: string
  readonly value: unknown
  readonly unit: Unit | undefined
  readonly within: unknown
}

const needValue = (sent: Sent, w: Walk): boolean =>
  sent.value === undefined ? refuse(w, `${sent.path}.value`, "missing_value", "This operator needs a value") : true

// A window of `amount` units, or undefined (reported) when `amount` is not a positive integer, the
// unit is missing, or the window is longer than `MaxWindow`.
const windowOf = (amount: unknown, amountPath: string, sent: Sent, w: Walk): number | undefined => {
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

const timedValue = (sent: Sent, w: Walk): number | undefined =>
  needValue(sent, w) ? windowOf(sent.value, `${sent.path}.value`, sent, w) : undefined

const instantOf = (sent: Sent, w: Walk): number | undefined => {
  if (!needValue(sent, w)) return undefined
  const millis = typeof sent.value === "string" ? Timestamp.parse(sent.value) : NaN
  return Number.isNaN(millis)
    ? report(w, `${sent.path}.value`, "invalid_value", "Expected an ISO-8601 date (YYYY-MM-DD) or instant")
    : millis
}

const stringOf = (sent: Sent, w: Walk): string | undefined => {
  if (!needValue(sent, w)) return undefined
  return typeof sent.value === "string"
    ? sent.value.toLowerCase()
    : report(w, `${sent.path}.value`, "invalid_value", "Expected a string")
}

// The inclusive range of instants a comparison with `bound` admits (instants are whole ms).
const rangeOf = (comparison: Comparison, bound: number): readonly [number, number] => {
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
const leafOf = (where: Target, op: string, sent: Sent, w: Walk): Leaf | undefined => {
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
      const [from, to] = rangeOf(op as Comparison, instant)
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
      const comparison = op as Comparison
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

// ---------------------------------------------------------------------------------------------
// Segment references

const walk = (node: Node, visit: (leaf: Leaf) => void): void => {
  switch (node._tag) {
    case "And":
    case "Or":
      for (const child of node.children) walk(child, visit)
      return
    case "Not":
      return walk(node.child, visit)
    default:
      return visit(node)
  }
}

/** The ids of the segments a condition refers to directly (`segment.<id>` fields). */
export const references = (node: Node): ReadonlySet<string> => {
  const ids = new Set<string>()
  walk(node, (leaf) => {
    if (leaf._tag === "MemberOf") ids.add(leaf.segmentId)
  })
  return ids
}

/**
 * The issues of a condition's segment references: `unknown_segment` for an id `lookup` does not
 * know, `segment_cycle` for one that leads back to `segmentId` (the segment being defined;
 * `undefined` for a new one or an audience) or into any other cycle. Each at the filter's `field`.
 */
export const checkReferences = (
  segmentId: string | undefined,
  node: Node,
  lookup: (id: string) => Node | undefined,
  root: string = "condition"
): Array<FieldIssue.FieldIssue> => {
  const issues: Array<FieldIssue.FieldIssue> = []
  // Ids known to lead to no cycle and no unknown id, shared by every reference checked.
  const sound = new Set<string>()
  // Whether following `id` reaches `segmentId` or a cycle. `path` holds the ids being followed.
  const cyclic = (id: string, path: Set<string>): boolean => {
    if (id === segmentId || path.has(id)) return true
    if (sound.has(id)) return false
    const referenced = lookup(id)
    if (referenced === undefined) return false
    path.add(id)
    for (const next of references(referenced)) {
      if (cyclic(next, path)) return true
    }
    path.delete(id)
    sound.add(id)
    return false
  }
  walk(node, (leaf) => {
    if (leaf._tag !== "MemberOf") return
    const field = `${root}.${leaf.at}`
    if (leaf.segmentId !== segmentId && lookup(leaf.segmentId) === undefined) {
      issues.push({ field, code: "unknown_segment", message: `No segment has id "${leaf.segmentId}"` })
    } else if (cyclic(leaf.segmentId, new Set())) {
      issues.push({
        field,
        code: "segment_cycle",
        message: leaf.segmentId === segmentId
          ? "A segment cannot refer to itself"
          : `Segment "${leaf.segmentId}" refers back to this segment, directly or through others`
      })
    }
  })
  return issues
}

/** The node that never holds: what a reference to a segment that no longer exists inlines to. */
export const never: Node = { _tag: "Or", children: [] }

/**
 * The tree with every `segment.<id>` leaf replaced by that segment's own tree, itself inlined:
 * membership is exactly "the referenced condition holds", so the answers are the same and the
 * referenced segment's time windows become the referencing one's. A reference `lookup` does not
 * know inlines to `never` (a deleted segment has no members); a cycle is a defect (`checkReferences`
 * refuses them) and throws.
 */
export const inline = (node: Node, lookup: (id: string) => Node | undefined): Node => {
  const done = new Map<string, Node>()
  const open = new Set<string>()
  const go = (n: Node): Node => {
    switch (n._tag) {
      case "And":
      case "Or": {
        let changed = false
        const children = n.children.map((child) => {
          const next = go(child)
          if (next !== child) changed = true
          return next
        })
        return changed ? junction(n._tag, children) : n
      }
      case "Not": {
        const child = go(n.child)
        return child === n.child ? n : not(child)
      }
      case "MemberOf": {
        const cached = done.get(n.segmentId)
        if (cached !== undefined) return cached
        if (open.has(n.segmentId)) throw new Error(`Segment reference cycle through "${n.segmentId}"`)
        const referenced = lookup(n.segmentId)
        if (referenced === undefined) return never
        open.add(n.segmentId)
        const inlined = go(referenced)
        open.delete(n.segmentId)
        done.set(n.segmentId, inlined)
        return inlined
      }
      default:
        return n
    }
  }
  return go(node)
}
