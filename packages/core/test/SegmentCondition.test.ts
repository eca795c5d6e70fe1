import { describe, expect, it } from "@effect/vitest"
import type * as FieldIssue from "@tracklog/core/FieldIssue"
import * as SegmentCondition from "@tracklog/core/SegmentCondition"
import * as SegmentNode from "@tracklog/core/SegmentNode"
import * as Either from "effect/Either"
import * as JSONSchema from "effect/JSONSchema"
import * as Schema from "effect/Schema"

const Day = 86_400_000

const decoded = (u: unknown, root?: string): SegmentCondition.Condition => {
  const result = SegmentCondition.decode(u, root)
  if (Either.isLeft(result)) throw new Error(`rejected: ${result.left.message}`)
  return result.right
}

const issuesOf = (u: unknown, root?: string): ReadonlyArray<FieldIssue.FieldIssue> => {
  const result = SegmentCondition.decode(u, root)
  if (Either.isRight(result)) throw new Error(`accepted: ${JSON.stringify(result.right.wire)}`)
  return result.left.issues
}

// The issues as `path code` lines: the order is the document order, and every issue counts.
const codes = (u: unknown, root?: string) => issuesOf(u, root).map((i) => `${i.field} ${i.code}`)

const one = (filter: unknown) => ({ logic: "AND", groups: [{ filters: [filter] }] })
const nodeOf = (filter: unknown) => decoded(one(filter)).node
const codesOf = (filter: unknown) => codes(one(filter))
const at = "condition.groups[0].filters[0]"

describe("decode: valid conditions (Plunk's wire format)", () => {
  it("a single filter decodes to its leaf, the email lower-cased once", () =>
    expect(nodeOf({ field: "email", operator: "equals", value: "Ada@Example.com" })).toEqual({
      _tag: "EmailEquals",
      value: "ada@example.com"
    }))

  it("logic joins the groups, a group ANDs its filters and its nested condition", () => {
    const a = { field: "subscribed", operator: "equals", value: true }
    const b = { field: "email", operator: "contains", value: "x" }
    const c = { field: "event.signup", operator: "triggered" }
    const d = { field: "data.plan", operator: "exists" }
    const { node } = decoded({
      logic: "OR",
      groups: [{ filters: [a, b] }, { filters: [c], conditions: { logic: "AND", groups: [{ filters: [d] }] } }]
    })
    expect(node).toEqual({
      _tag: "Or",
      children: [
        { _tag: "And", children: [{ _tag: "Subscribed", value: true }, { _tag: "EmailContains", value: "x" }] },
        { _tag: "And", children: [{ _tag: "Triggered", event: "signup" }, { _tag: "DataExists", path: ["plan"] }] }
      ]
    })
  })

  it("a group with only a nested condition is valid", () =>
    expect(
      decoded({
        logic: "AND",
        groups: [{
          filters: [],
          conditions: { logic: "OR", groups: [{ filters: [{ field: "email", operator: "contains", value: "a" }] }] }
        }]
      }).node
    ).toEqual({ _tag: "EmailContains", value: "a" }))

  it("every negative operator is Not over its positive leaf", () => {
    const pairs: ReadonlyArray<readonly [Record<string, unknown>, string, string]> = [
      [{ field: "email", value: "a" }, "notEquals", "equals"],
      [{ field: "email", value: "a" }, "notContains", "contains"],
      [{ field: "subscribed", value: true }, "notEquals", "equals"],
      [{ field: "createdAt", value: "2025-01-01" }, "notEquals", "equals"],
      [{ field: "data.a", value: 1 }, "notEquals", "equals"],
      [{ field: "data.a", value: "x" }, "notContains", "contains"],
      [{ field: "data.a" }, "notExists", "exists"],
      [{ field: "event.e" }, "notTriggered", "triggered"],
      [{ field: "event.e", value: 3, unit: "days" }, "notTriggeredWithin", "triggeredWithin"],
      [{ field: "event.e", value: 3 }, "triggeredFewerThan", "triggeredAtLeast"],
      [{ field: "segment.s1" }, "notMemberOfSegment", "memberOfSegment"]
    ]
    for (const [filter, negative, positive] of pairs) {
      expect(nodeOf({ ...filter, operator: negative })).toEqual({
        _tag: "Not",
        child: nodeOf({ ...filter, operator: positive })
      })
    }
  })

  it("exists and notExists ignore a value (Plunk's examples send true), and the wire keeps it", () => {
    const condition = decoded(one({ field: "data.plan", operator: "exists", value: true }))
    expect(condition.node).toEqual({ _tag: "DataExists", path: ["plan"] })
    expect(condition.wire.groups[0]!.filters[0]).toEqual({ field: "data.plan", operator: "exists", value: true })
  })

  it("the wire form is the condition as sent, without unknown keys", () => {
    const sent = {
      logic: "OR",
      note: "x",
      groups: [{
        id: 7,
        filters: [{ field: "event.buy", operator: "triggeredAtLeast", value: 2, within: 30, unit: "days", ui: {} }],
        conditions: { logic: "AND", groups: [{ filters: [{ field: "data.a.b", operator: "greaterThan", value: 5 }] }] }
      }]
    }
    expect(decoded(sent).wire).toStrictEqual({
      logic: "OR",
      groups: [{
        filters: [{ field: "event.buy", operator: "triggeredAtLeast", value: 2, unit: "days", within: 30 }],
        conditions: { logic: "AND", groups: [{ filters: [{ field: "data.a.b", operator: "greaterThan", value: 5 }] }] }
      }]
    })
  })

  it("the wire form decodes to the same tree again", () => {
    const sent = one({ field: "event.buy", operator: "triggeredAtLeast", value: 2, within: 3, unit: "hours" })
    const first = decoded(sent)
    expect(decoded(first.wire)).toEqual(first)
  })

  it("event.contact.subscribed and event.contact.unsubscribed are events the log records", () => {
    expect(nodeOf({ field: "event.contact.subscribed", operator: "triggered" })).toEqual({
      _tag: "Triggered",
      event: "contact.subscribed"
    })
    expect(nodeOf({ field: "event.contact.unsubscribed", operator: "triggered" })).toEqual({
      _tag: "Triggered",
      event: "contact.unsubscribed"
    })
  })

  it("an event name may hold dots, and segment.<x> without .entry or .exit is an ordinary name", () =>
    expect(nodeOf({ field: "event.segment.vip", operator: "triggered" })).toEqual({
      _tag: "Triggered",
      event: "segment.vip"
    }))

  it("windows are rolling durations in ms", () => {
    expect(nodeOf({ field: "event.e", operator: "triggeredWithin", value: 30, unit: "days" })).toEqual({
      _tag: "TriggeredWithin",
      event: "e",
      window: 30 * Day
    })
    expect(nodeOf({ field: "createdAt", operator: "olderThan", value: 2, unit: "hours" })).toEqual({
      _tag: "DateOlderThan",
      attribute: "createdAt",
      window: 2 * 3_600_000
    })
    expect(nodeOf({ field: "data.seen", operator: "within", value: 5, unit: "minutes" })).toEqual({
      _tag: "DataWithin",
      path: ["seen"],
      window: 5 * 60_000
    })
  })

  it("triggeredAtLeast takes a count, with or without a window", () => {
    expect(nodeOf({ field: "event.e", operator: "triggeredAtLeast", value: 2 })).toEqual({
      _tag: "TriggeredAtLeast",
      event: "e",
      count: 2,
      window: undefined
    })
    expect(nodeOf({ field: "event.e", operator: "triggeredAtLeast", value: 1000, within: 7, unit: "days" }))
      .toEqual({ _tag: "TriggeredAtLeast", event: "e", count: 1000, window: 7 * Day })
  })

  it("a YYYY-MM-DD equality covers the UTC day, an instant only itself, comparisons are exact", () => {
    const midnight = Date.UTC(2025, 0, 31)
    expect(nodeOf({ field: "createdAt", operator: "equals", value: "2025-01-31" })).toEqual({
      _tag: "DateIn",
      attribute: "createdAt",
      from: midnight,
      to: midnight + Day - 1
    })
    expect(nodeOf({ field: "updatedAt", operator: "equals", value: "2025-01-31T02:00:00+02:00" })).toEqual({
      _tag: "DateIn",
      attribute: "updatedAt",
      from: midnight,
      to: midnight
    })
    expect(nodeOf({ field: "createdAt", operator: "greaterThan", value: "2025-01-31" })).toMatchObject({
      from: midnight + 1,
      to: Infinity
    })
    expect(nodeOf({ field: "createdAt", operator: "lessThanOrEqual", value: "2025-01-31T00:00:00.000Z" }))
      .toMatchObject({ from: -Infinity, to: midnight })
  })

  it("data comparisons are numeric for a number and by instant for an ISO-8601 value", () => {
    expect(nodeOf({ field: "data.n", operator: "lessThan", value: 2.5 })).toEqual({
      _tag: "DataCompare",
      path: ["n"],
      comparison: "lessThan",
      bound: 2.5,
      instant: false
    })
    expect(nodeOf({ field: "data.a.b", operator: "greaterThanOrEqual", value: "2025-01-31" })).toEqual({
      _tag: "DataCompare",
      path: ["a", "b"],
      comparison: "greaterThanOrEqual",
      bound: Date.UTC(2025, 0, 31),
      instant: true
    })
  })

  it("a YYYY-MM-DD data equality keeps its day; any other value is plain JSON", () => {
    expect(nodeOf({ field: "data.d", operator: "equals", value: "2025-01-31" })).toMatchObject({
      day: Date.UTC(2025, 0, 31)
    })
    expect(nodeOf({ field: "data.d", operator: "equals", value: "2025-01-31T00:00:00Z" })).toMatchObject({
      day: undefined
    })
    expect(nodeOf({ field: "data.d", operator: "equals", value: { a: [1, null] } })).toEqual({
      _tag: "DataEquals",
      path: ["d"],
      value: { a: [1, null] },
      day: undefined
    })
  })

  it("the wire schema describes what decode keeps, and has a JSON Schema for the API document", () => {
    const { wire } = decoded({
      logic: "AND",
      groups: [{
        filters: [{ field: "data.a", operator: "exists", value: [true] }],
        conditions: {
          logic: "OR",
          groups: [{ filters: [{ field: "event.e", operator: "triggeredAtLeast", value: 2, within: 1, unit: "days" }] }]
        }
      }]
    })
    expect(Schema.decodeUnknownSync(SegmentCondition.WireCondition)(wire)).toEqual(wire)
    expect(Object.keys(JSONSchema.make(SegmentCondition.WireCondition).$defs ?? {}).sort()).toEqual([
      "Int",
      "JsonValue",
      "SegmentCondition",
      "SegmentFilter",
      "SegmentFilterGroup"
    ])
  })

  it("100 filters are allowed, nesting 5 deep is allowed", () => {
    const filters = Array.from({ length: 100 }, () => ({ field: "data.a", operator: "exists" }))
    expect(Either.isRight(SegmentCondition.decode({ logic: "AND", groups: [{ filters }] }))).toBe(true)
    expect(Either.isRight(SegmentCondition.decode(nested(5)))).toBe(true)
  })
})

// A condition nested `depth` deep, one filter at each level.
const nested = (depth: number): unknown => {
  let condition: Record<string, unknown> = one({ field: "data.a", operator: "exists" })
  for (let d = 1; d < depth; d++) {
    condition = {
      logic: "AND",
      groups: [{ filters: [{ field: "data.a", operator: "exists" }], conditions: condition }]
    }
  }
  return condition
}

describe("decode: invalid conditions, every issue at its path", () => {
  it("several issues at once, in document order", () =>
    expect(codes({
      logic: "AND",
      groups: [
        {
          filters: [
            { field: "name", operator: "equals", value: "x" },
            { field: "email", operator: "exists" },
            { field: "email", operator: "equals" },
            { field: "createdAt", operator: "within", value: 3 }
          ]
        },
        { filters: [{ operator: "triggered" }, { field: "event.email.opened", operator: "triggered" }] },
        { filters: [] }
      ]
    })).toEqual([
      "condition.groups[0].filters[0].field unknown_field",
      "condition.groups[0].filters[1].operator unknown_operator",
      "condition.groups[0].filters[2].value missing_value",
      "condition.groups[0].filters[3].unit missing_unit",
      "condition.groups[1].filters[0].field required",
      "condition.groups[1].filters[1].field reserved_event",
      "condition.groups[2] empty_group"
    ]))

  it("paths start at the root the caller gives", () =>
    expect(codes(one({ field: "email", operator: "nope", value: "a" }), "body.audience")).toEqual([
      "body.audience.groups[0].filters[0].operator unknown_operator"
    ]))

  it("the condition, its groups and its filters must be objects and arrays", () => {
    expect(codes(null)).toEqual(["condition invalid_type"])
    expect(codes([])).toEqual(["condition invalid_type"])
    expect(codes({ logic: "AND", groups: {} })).toEqual(["condition.groups invalid_type"])
    expect(codes({ logic: "AND", groups: [3] })).toEqual(["condition.groups[0] invalid_type"])
    expect(codes({ logic: "AND", groups: [{ filters: "x" }] })).toEqual(["condition.groups[0].filters invalid_type"])
    expect(codes({ logic: "AND", groups: [{ filters: ["x"] }] })).toEqual([
      "condition.groups[0].filters[0] invalid_type"
    ])
    expect(codes({ logic: "AND", groups: [{ filters: [], conditions: null }] })).toEqual([
      "condition.groups[0].conditions invalid_type"
    ])
  })

  it("logic and groups are required; logic is AND or OR", () => {
    expect(codes({})).toEqual(["condition.logic required", "condition.groups required"])
    expect(codes({ logic: "and", groups: [{ filters: [{ field: "data.a", operator: "exists" }] }] })).toEqual([
      "condition.logic invalid_value"
    ])
    expect(codes({ logic: 1, groups: [{ filters: [{ field: "data.a", operator: "exists" }] }] })).toEqual([
      "condition.logic invalid_type"
    ])
  })

  it("a filter needs field and operator, both strings", () => {
    expect(codesOf({})).toEqual([`${at}.field required`, `${at}.operator required`])
    expect(codesOf({ field: 1, operator: ["x"] })).toEqual([`${at}.field invalid_type`, `${at}.operator invalid_type`])
  })

  it("an empty group is refused; a group needs its filters array", () => {
    expect(codes({ logic: "AND", groups: [{ filters: [{ field: "data.a", operator: "exists" }] }, { filters: [] }] }))
      .toEqual(["condition.groups[1] empty_group"])
    expect(codes({ logic: "AND", groups: [{ conditions: nested(1) }] })).toEqual([
      "condition.groups[0].filters required"
    ])
  })

  it("a condition with no filter anywhere is refused, as is an empty groups array", () => {
    expect(codes({ logic: "AND", groups: [] })).toEqual(["condition.groups empty_condition"])
    expect(codes({ logic: "OR", groups: [{ filters: [] }] })).toEqual([
      "condition.groups[0] empty_group",
      "condition empty_condition"
    ])
    expect(codes({
      logic: "OR",
      groups: [{ filters: [], conditions: { logic: "AND", groups: [{ filters: [] }] } }]
    })).toEqual(["condition.groups[0].conditions.groups[0] empty_group", "condition empty_condition"])
    expect(codes({ logic: "OR", groups: [{ filters: [], conditions: { logic: "AND", groups: [] } }] })).toEqual([
      "condition.groups[0].conditions.groups empty_condition",
      "condition empty_condition"
    ])
  })

  it("more than 100 filters over the whole condition is too_many_filters", () => {
    const filters = (n: number) => Array.from({ length: n }, () => ({ field: "data.a", operator: "exists" }))
    expect(codes({ logic: "AND", groups: [{ filters: filters(101) }] })).toEqual(["condition too_many_filters"])
    expect(codes({
      logic: "AND",
      groups: [{ filters: filters(60) }, {
        filters: [],
        conditions: { logic: "OR", groups: [{ filters: filters(41) }] }
      }]
    })).toEqual(["condition too_many_filters"])
  })

  it("nesting deeper than 5 is too_deep, at the condition that is too deep", () =>
    expect(codes(nested(6))).toEqual([
      `condition${".groups[0].conditions".repeat(5)} too_deep`
    ]))

  it("unknown fields", () => {
    for (const field of ["name", "Email", "data", "data.", "data.a..b", "event.", "segment.", "email.opened", "tags"]) {
      expect(codesOf({ field, operator: "exists", value: "x" })).toEqual([`${at}.field unknown_field`])
    }
  })

  it("operators not valid for their field", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["email", "exists"],
      ["email", "greaterThan"],
      ["email", "within"],
      ["subscribed", "contains"],
      ["subscribed", "exists"],
      ["createdAt", "contains"],
      ["updatedAt", "exists"],
      ["data.a", "triggered"],
      ["data.a", "memberOfSegment"],
      ["event.e", "equals"],
      ["event.e", "within"],
      ["segment.s", "equals"],
      ["segment.s", "triggered"],
      ["email", "like"]
    ]
    for (const [field, operator] of cases) {
      expect(codesOf({ field, operator, value: "x", unit: "days" })).toEqual([`${at}.operator unknown_operator`])
    }
  })

  it("every operator that needs a value refuses a filter without one", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["email", "equals"],
      ["email", "notEquals"],
      ["email", "contains"],
      ["email", "notContains"],
      ["subscribed", "equals"],
      ["subscribed", "notEquals"],
      ["createdAt", "equals"],
      ["updatedAt", "notEquals"],
      ["createdAt", "greaterThan"],
      ["createdAt", "lessThan"],
      ["createdAt", "greaterThanOrEqual"],
      ["createdAt", "lessThanOrEqual"],
      ["updatedAt", "within"],
      ["updatedAt", "olderThan"],
      ["data.a", "equals"],
      ["data.a", "notEquals"],
      ["data.a", "contains"],
      ["data.a", "notContains"],
      ["data.a", "greaterThan"],
      ["data.a", "lessThanOrEqual"],
      ["data.a", "within"],
      ["data.a", "olderThan"],
      ["event.e", "triggeredWithin"],
      ["event.e", "notTriggeredWithin"],
      ["event.e", "triggeredOlderThan"],
      ["event.e", "triggeredAtLeast"],
      ["event.e", "triggeredFewerThan"]
    ]
    for (const [field, operator] of cases) {
      expect(codesOf({ field, operator, unit: "days" }), `${field} ${operator}`).toEqual([`${at}.value missing_value`])
    }
  })

  it("operators that need no value accept a filter without one", () => {
    for (
      const [field, operator] of [
        ["data.a", "exists"],
        ["data.a", "notExists"],
        ["event.e", "triggered"],
        ["event.e", "notTriggered"],
        ["segment.s", "memberOfSegment"],
        ["segment.s", "notMemberOfSegment"]
      ]
    ) expect(Either.isRight(SegmentCondition.decode(one({ field, operator })))).toBe(true)
  })

  it("every windowed operator needs a unit, and a valid one", () => {
    const windowed: ReadonlyArray<readonly [string, string]> = [
      ["createdAt", "within"],
      ["updatedAt", "olderThan"],
      ["data.a", "within"],
      ["data.a", "olderThan"],
      ["event.e", "triggeredWithin"],
      ["event.e", "notTriggeredWithin"],
      ["event.e", "triggeredOlderThan"]
    ]
    for (const [field, operator] of windowed) {
      expect(codesOf({ field, operator, value: 3 }), `${field} ${operator}`).toEqual([`${at}.unit missing_unit`])
      expect(codesOf({ field, operator, value: 3, unit: "weeks" })).toEqual([`${at}.unit invalid_unit`])
    }
    expect(codesOf({ field: "event.e", operator: "triggeredAtLeast", value: 2, within: 3 })).toEqual([
      `${at}.unit missing_unit`
    ])
    // A unit is checked wherever it appears, so the wire form kept is always well formed.
    expect(codesOf({ field: "event.e", operator: "triggered", unit: 5 })).toEqual([`${at}.unit invalid_unit`])
  })

  it("wrong value types are invalid_value", () => {
    const cases: ReadonlyArray<Record<string, unknown>> = [
      { field: "email", operator: "equals", value: 5 },
      { field: "email", operator: "contains", value: null },
      { field: "subscribed", operator: "equals", value: "true" },
      { field: "createdAt", operator: "equals", value: "yesterday" },
      { field: "createdAt", operator: "equals", value: "2025-02-30" },
      { field: "createdAt", operator: "greaterThan", value: 1735689600000 },
      { field: "updatedAt", operator: "lessThan", value: "2025-01-01T25:00:00Z" },
      { field: "data.a", operator: "contains", value: 5 },
      { field: "data.a", operator: "greaterThan", value: "abc" },
      { field: "data.a", operator: "lessThan", value: "5" },
      { field: "data.a", operator: "lessThan", value: true },
      { field: "createdAt", operator: "within", value: 0, unit: "days" },
      { field: "createdAt", operator: "within", value: -1, unit: "days" },
      { field: "data.a", operator: "olderThan", value: 1.5, unit: "days" },
      { field: "event.e", operator: "triggeredWithin", value: "30", unit: "days" },
      { field: "event.e", operator: "triggeredOlderThan", value: 36501, unit: "days" },
      { field: "event.e", operator: "triggeredAtLeast", value: 0 },
      { field: "event.e", operator: "triggeredFewerThan", value: 1001 },
      { field: "event.e", operator: "triggeredAtLeast", value: 2.5 }
    ]
    for (const filter of cases) {
      expect(codesOf(filter), JSON.stringify(filter)).toEqual([`${at}.value invalid_value`])
    }
    expect(codesOf({ field: "event.e", operator: "triggeredAtLeast", value: 2, within: 0, unit: "days" })).toEqual([
      `${at}.within invalid_value`
    ])
  })

  it("reserved event names are refused; the message points segment events to memberOfSegment", () => {
    for (const name of ["email.opened", "email.", "segment.vip.entry", "segment.vip.exit", "segment..exit"]) {
      expect(codesOf({ field: `event.${name}`, operator: "triggered" })).toEqual([`${at}.field reserved_event`])
    }
    const [issue] = issuesOf(one({ field: "event.segment.vip.entry", operator: "triggered" }))
    expect(issue!.message).toContain("segment.<id>")
    expect(issue!.message).toContain("memberOfSegment")
  })

  it("the failure is an InvalidCondition whose message lists the issues", () => {
    const result = SegmentCondition.decode(one({ field: "email", operator: "equals" }))
    expect(Either.isLeft(result) && result.left._tag).toBe("InvalidCondition")
    expect(Either.isLeft(result) && result.left.message).toContain(`${at}.value`)
  })
})

describe("segment references", () => {
  const member = (id: string, operator = "memberOfSegment") => ({ field: `segment.${id}`, operator })
  const plan = nodeOf({ field: "data.plan", operator: "equals", value: "pro" })
  const refs = (...ids: Array<string>) =>
    decoded({ logic: "OR", groups: ids.map((id) => ({ filters: [member(id)] })) }).node

  it("references lists the segments a condition names", () => {
    const { node } = decoded({
      logic: "AND",
      groups: [{
        filters: [member("a"), member("b", "notMemberOfSegment")],
        conditions: { logic: "OR", groups: [{ filters: [member("a"), member("c")] }] }
      }]
    })
    expect([...SegmentNode.references(node)].sort()).toEqual(["a", "b", "c"])
    expect(SegmentNode.references(plan).size).toBe(0)
  })

  it("an unknown segment is unknown_segment at the filter's field", () => {
    const node = refs("known", "ghost")
    const lookup = (id: string) => (id === "known" ? plan : undefined)
    expect(SegmentNode.checkReferences(undefined, node, lookup)).toMatchObject([
      { field: "condition.groups[1].filters[0].field", code: "unknown_segment" }
    ])
    expect(SegmentNode.checkReferences(undefined, node, lookup, "body.condition")).toMatchObject([
      { field: "body.condition.groups[1].filters[0].field", code: "unknown_segment" }
    ])
  })

  it("a segment referring to itself is a cycle", () =>
    expect(SegmentNode.checkReferences("a", refs("a"), () => undefined)).toMatchObject([
      { field: "condition.groups[0].filters[0].field", code: "segment_cycle" }
    ]))

  it("A → B → A is a cycle, found when A is (re)defined", () => {
    const segments: Record<string, SegmentNode.Node> = { b: refs("a") }
    expect(SegmentNode.checkReferences("a", refs("b"), (id) => segments[id])).toMatchObject([
      { code: "segment_cycle" }
    ])
  })

  it("A → B → C → A is a cycle too, through others", () => {
    const segments: Record<string, SegmentNode.Node> = { b: refs("c"), c: refs("a") }
    expect(SegmentNode.checkReferences("a", refs("b"), (id) => segments[id])).toMatchObject([
      { code: "segment_cycle" }
    ])
  })

  it("shared references without a cycle are fine (a diamond)", () => {
    const segments: Record<string, SegmentNode.Node> = { b: refs("d"), c: refs("d"), d: plan }
    expect(SegmentNode.checkReferences("a", refs("b", "c"), (id) => segments[id])).toEqual([])
    expect(SegmentNode.checkReferences(undefined, refs("b", "c"), (id) => segments[id])).toEqual([])
  })

  it("a cycle among other segments is reported too, and does not loop", () => {
    const segments: Record<string, SegmentNode.Node> = { b: refs("c"), c: refs("b") }
    expect(SegmentNode.checkReferences(undefined, refs("b"), (id) => segments[id])).toMatchObject([
      { code: "segment_cycle" }
    ])
  })

  it("inline replaces each reference by the referenced tree, itself inlined", () => {
    const segments: Record<string, SegmentNode.Node> = { b: refs("c"), c: plan }
    const { node } = decoded({
      logic: "AND",
      groups: [{ filters: [member("b", "notMemberOfSegment"), { field: "email", operator: "contains", value: "x" }] }]
    })
    expect(SegmentNode.inline(node, (id) => segments[id])).toEqual({
      _tag: "And",
      children: [{ _tag: "Not", child: plan }, { _tag: "EmailContains", value: "x" }]
    })
  })

  it("inline flattens what it puts in place, and leaves a tree without references as it is", () => {
    const both = decoded({
      logic: "AND",
      groups: [{
        filters: [{ field: "email", operator: "contains", value: "x" }, { field: "data.a", operator: "exists" }]
      }]
    }).node
    const { node } = decoded({
      logic: "AND",
      groups: [{ filters: [member("b"), { field: "subscribed", operator: "equals", value: true }] }]
    })
    expect(SegmentNode.inline(node, () => both)).toEqual({
      _tag: "And",
      children: [
        { _tag: "EmailContains", value: "x" },
        { _tag: "DataExists", path: ["a"] },
        { _tag: "Subscribed", value: true }
      ]
    })
    expect(SegmentNode.inline(both, () => undefined)).toBe(both)
  })

  it("a reference to a segment that is gone inlines to never", () =>
    expect(SegmentNode.inline(refs("ghost"), () => undefined)).toEqual(SegmentNode.never))

  it("inlining a cycle throws (checkReferences refuses them)", () => {
    const segments: Record<string, SegmentNode.Node> = { a: refs("b"), b: refs("a") }
    expect(() => SegmentNode.inline(refs("a"), (id) => segments[id])).toThrow(/cycle/)
  })
})
