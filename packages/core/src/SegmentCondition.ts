/**
 * A segment's condition: Plunk's wire format (`{logic, groups: [{filters, conditions?}]}`), checked
 * rule by rule, every broken rule at its path, and normalised into a `SegmentNode.Node` that
 * `SegmentEvaluation` evaluates and `SegmentRouting` reads. Decoding keeps the wire form too, as
 * sent, because the API answers with the condition it was given.
 *
 * Normalisation: `AND`/`OR` become `And`/`Or` (nested ones of the same kind flattened, single
 * children unwrapped), a group is the `And` of its filters and its nested condition, and every
 * negative operator is `Not` over its positive leaf (one filter's leaf: `internal/segmentFilter`).
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as FieldIssue from "./FieldIssue.js"
import * as SegmentFilter from "./internal/segmentFilter.js"
import type * as Json from "./Json.js"
import * as SegmentNode from "./SegmentNode.js"

/** Most filters one condition may hold, counted over every group at every depth. */
export const MaxFilters = 100
/** Deepest nesting: the top condition is depth 1, a group's `conditions` depth 2, and so on. */
export const MaxDepth = 5
/** Largest count a `triggeredAtLeast` / `triggeredFewerThan` filter may ask for. */
export const MaxCount = SegmentFilter.MaxCount
/** Longest window, in ms (100 years of days): `instant + window` must stay an exact integer. */
export const MaxWindow = SegmentFilter.MaxWindow

/** How a condition joins its groups. */
export type Logic = "AND" | "OR"

/** The unit of a window: rolling durations, not calendar units. */
export type Unit = "minutes" | "hours" | "days"

/** Milliseconds in one of each unit (a day is always 86 400 000 ms). */
export const UnitMillis: { readonly [U in Unit]: number } = SegmentFilter.UnitMillis

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

const JsonValue: Schema.Schema<Json.Json> = Schema.declare(SegmentFilter.isJson, {
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
  // The two of `SegmentNode.checkReferences`.
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

/** A decoded condition: the wire form as sent (unknown keys dropped) and its normalised tree. */
export interface Condition {
  readonly wire: WireCondition
  readonly node: SegmentNode.Node
}

// ---------------------------------------------------------------------------------------------
// Decoding

interface Walk extends SegmentFilter.Issues {
  filters: number
  /** Some part could not be read (not an object or array, too deep): it may hold filters. */
  opaque: boolean
}

// Reports a part of the structure that is not what it must be: what it holds is not looked at.
const unreadable = (w: Walk, field: string, expected: string): false => {
  w.opaque = true
  return SegmentFilter.refuse(w, field, "invalid_type", expected)
}

/**
 * Decodes a condition as sent, or fails with every broken rule, each at its path below `root`
 * (`condition.groups[0].filters[1].operator`). Unknown keys are ignored and left out of `wire`.
 * Segment references are not looked up here: see `SegmentNode.checkReferences`.
 */
export const decode = (u: unknown, root: string = "condition"): Either.Either<Condition, InvalidCondition> => {
  const w: Walk = { issues: [], filters: 0, opaque: false }
  const parsed = decodeCondition(u, root, "", 1, w)
  if (w.filters > MaxFilters) {
    SegmentFilter.report(
      w,
      root,
      "too_many_filters",
      `A condition may hold at most ${MaxFilters} filters, it holds ${w.filters}`
    )
  } else if (w.filters === 0 && !w.opaque && SegmentFilter.isInput(u)) {
    const groups = SegmentFilter.get(u, "groups")
    // An empty `groups` was already reported as such.
    if (Array.isArray(groups) && groups.length > 0) {
      SegmentFilter.report(w, root, "empty_condition", "A condition needs at least one filter")
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
): SegmentFilter.Parsed<WireCondition> | undefined => {
  if (!SegmentFilter.isInput(u)) return void unreadable(w, path, "Expected an object")
  if (depth > MaxDepth) {
    w.opaque = true
    return SegmentFilter.report(w, path, "too_deep", `Conditions must not nest deeper than ${MaxDepth} levels`)
  }
  const logic = SegmentFilter.get(u, "logic")
  let ok = true
  if (logic === undefined) ok = SegmentFilter.refuse(w, `${path}.logic`, "required", "logic is required")
  else if (typeof logic !== "string") ok = SegmentFilter.refuse(w, `${path}.logic`, "invalid_type", "Expected a string")
  else if (logic !== "AND" && logic !== "OR") {
    ok = SegmentFilter.refuse(w, `${path}.logic`, "invalid_value", "logic must be AND or OR")
  }
  const groups = SegmentFilter.get(u, "groups")
  const wires: Array<WireGroup> = []
  const nodes: Array<SegmentNode.Node> = []
  if (groups === undefined) ok = SegmentFilter.refuse(w, `${path}.groups`, "required", "groups is required")
  else if (!Array.isArray(groups)) ok = unreadable(w, `${path}.groups`, "Expected an array")
  else if (groups.length === 0) {
    ok = SegmentFilter.refuse(w, `${path}.groups`, "empty_condition", "A condition needs at least one group")
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
  return { wire, node: logic === "AND" ? SegmentNode.and(nodes) : SegmentNode.or(nodes) }
}

const decodeGroup = (
  u: unknown,
  path: string,
  at: string,
  depth: number,
  w: Walk
): SegmentFilter.Parsed<WireGroup> | undefined => {
  if (!SegmentFilter.isInput(u)) return void unreadable(w, path, "Expected an object")
  const filters = SegmentFilter.get(u, "filters")
  const conditions = SegmentFilter.get(u, "conditions")
  let ok = true
  const wires: Array<WireFilter> = []
  const nodes: Array<SegmentNode.Node> = []
  if (filters === undefined) ok = SegmentFilter.refuse(w, `${path}.filters`, "required", "filters is required")
  else if (!Array.isArray(filters)) ok = unreadable(w, `${path}.filters`, "Expected an array")
  else {
    if (filters.length === 0 && conditions === undefined) {
      ok = SegmentFilter.refuse(w, path, "empty_group", "A group needs at least one filter or a nested condition")
    }
    for (let i = 0; i < filters.length; i++) {
      // Past the limit only the count goes on: the answer is already a refusal, and a huge
      // condition should not make a huge list of issues.
      if (++w.filters > MaxFilters) {
        ok = false
        continue
      }
      const sub = `.filters[${i}]`
      const filter = SegmentFilter.decodeFilter(filters[i], path + sub, at + sub, w)
      if (filter === undefined) ok = false
      else {
        wires.push(filter.wire)
        nodes.push(filter.node)
      }
    }
  }
  let nested: SegmentFilter.Parsed<WireCondition> | undefined
  if (conditions !== undefined) {
    nested = decodeCondition(conditions, `${path}.conditions`, `${at}.conditions`, depth + 1, w)
    if (nested === undefined) ok = false
    else nodes.push(nested.node)
  }
  if (!ok) return undefined
  const wire: WireGroup = nested === undefined ? { filters: wires } : { filters: wires, conditions: nested.wire }
  return { wire, node: SegmentNode.and(nodes) }
}
