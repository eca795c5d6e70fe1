import { describe, expect, it } from "@effect/vitest"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as EventFacts from "@tracklog/core/EventFacts"
import * as Json from "@tracklog/core/Json"
import * as SegmentCondition from "@tracklog/core/SegmentCondition"
import * as SegmentEvaluation from "@tracklog/core/SegmentEvaluation"
import * as SegmentNode from "@tracklog/core/SegmentNode"
import * as SegmentRouting from "@tracklog/core/SegmentRouting"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"

const Minute = 60_000
const Hour = 3_600_000
const Day = 86_400_000
/** The instant most rules are evaluated at. */
const T = Date.parse("2025-06-15T12:00:00.000Z")
const Midnight = Date.parse("2025-06-15T00:00:00.000Z")
const iso = (millis: number) => new Date(millis).toISOString()

/** A contact as a test states it: its attributes, its data and its events (name, time). */
interface Given {
  readonly email?: string
  readonly subscribed?: boolean
  readonly createdAt?: number
  readonly updatedAt?: number
  readonly data?: Json.JsonObject
  readonly events?: ReadonlyArray<readonly [string, number]>
}

const decode = (u: unknown): SegmentCondition.Condition => {
  const result = SegmentCondition.decode(u)
  if (Either.isLeft(result)) throw new Error(result.left.message)
  return result.right
}

// A filter alone, or a whole condition.
const conditionOf = (u: Record<string, unknown>) =>
  decode("logic" in u ? u : { logic: "AND", groups: [{ filters: [u] }] }).node

// The subject as a store would hold it: facts folded from the events in log (time) order, keeping
// as many recent times as the condition reads.
const subjectOf = (given: Given, node: SegmentNode.Node): SegmentEvaluation.Subject => {
  const keep = SegmentRouting.reads(node).events
  const events = [...(given.events ?? [])].sort((a, b) => a[1] - b[1]).map(([name, at]) =>
    ContactEvent.EventTracked.make({ name, data: {}, at: new Date(at) })
  )
  const facts = EventFacts.fold(events, (name) => keep.get(name) ?? 0)
  return {
    email: given.email ?? "ada@example.com",
    subscribed: given.subscribed ?? true,
    createdAt: given.createdAt ?? T - 10 * Day,
    updatedAt: given.updatedAt ?? T - Day,
    data: given.data ?? {},
    facts: (name) => EventFacts.get(facts, name)
  }
}

const given = (state: Given = {}, segments: Record<string, Record<string, unknown>> = {}) => ({
  when: (condition: Record<string, unknown>) => {
    const node = SegmentNode.inline(
      conditionOf(condition),
      (id) => segments[id] === undefined ? undefined : conditionOf(segments[id])
    )
    const subject = subjectOf(state, node)
    const at = (t: number) => SegmentEvaluation.evaluate(node, subject, t)
    return {
      at,
      /** At `t` the answer is `matches`, and only new input can change it. */
      thenAlways: (matches: boolean, t: number = T) => expect(at(t)).toEqual({ matches, boundary: Infinity }),
      /**
       * At `t` the answer is `matches` with `boundary`: still so at `boundary`, the opposite at
       * `boundary + 1` (for good, as a leaf changes only once).
       */
      thenUntil: (matches: boolean, boundary: number, t: number = T) => {
        expect(at(t)).toEqual({ matches, boundary })
        expect(at(boundary)).toEqual({ matches, boundary })
        expect(at(boundary + 1)).toEqual({ matches: !matches, boundary: Infinity })
      }
    }
  }
})

const email = (operator: string, value: string) => ({ field: "email", operator, value })

describe("email: equals, notEquals, contains, notContains, case-insensitive", () => {
  it("equals matches the email whatever its case, and only it", () => {
    given({ email: "ada@example.com" }).when(email("equals", "ADA@Example.com")).thenAlways(true)
    given({ email: "Ada@Example.com" }).when(email("equals", "ada@example.com")).thenAlways(true)
    given({ email: "ada@example.com" }).when(email("equals", "ada@example.co")).thenAlways(false)
  })

  it("notEquals is NOT equals", () => {
    given({ email: "ada@example.com" }).when(email("notEquals", "ADA@example.com")).thenAlways(false)
    given({ email: "ada@example.com" }).when(email("notEquals", "bob@example.com")).thenAlways(true)
  })

  it("contains is a case-insensitive substring", () => {
    given({ email: "ada@example.com" }).when(email("contains", "@EXAMPLE.")).thenAlways(true)
    given({ email: "Ada@Example.com" }).when(email("contains", "ada@")).thenAlways(true)
    given({ email: "ada@example.com" }).when(email("contains", "example.org")).thenAlways(false)
  })

  it("notContains is NOT contains", () => {
    given({ email: "ada@example.com" }).when(email("notContains", "EXAMPLE")).thenAlways(false)
    given({ email: "ada@example.com" }).when(email("notContains", "gmail")).thenAlways(true)
  })
})

describe("subscribed: equals, notEquals", () => {
  const subscribed = (operator: string, value: boolean) => ({ field: "subscribed", operator, value })

  it("equals compares the subscription state", () => {
    given({ subscribed: true }).when(subscribed("equals", true)).thenAlways(true)
    given({ subscribed: false }).when(subscribed("equals", false)).thenAlways(true)
    given({ subscribed: false }).when(subscribed("equals", true)).thenAlways(false)
  })

  it("notEquals is NOT equals", () => {
    given({ subscribed: true }).when(subscribed("notEquals", true)).thenAlways(false)
    given({ subscribed: false }).when(subscribed("notEquals", true)).thenAlways(true)
  })
})

for (const attribute of ["createdAt", "updatedAt"] as const) {
  describe(`${attribute}: equals, comparisons, within, olderThan`, () => {
    const on = (millis: number): Given => ({ [attribute]: millis })
    const filter = (operator: string, value: unknown, unit?: string) =>
      unit === undefined ? { field: attribute, operator, value } : { field: attribute, operator, value, unit }

    it("equals YYYY-MM-DD covers the whole UTC day: its first and last ms, not the ms around it", () => {
      given(on(Midnight)).when(filter("equals", "2025-06-15")).thenAlways(true)
      given(on(Midnight + Day - 1)).when(filter("equals", "2025-06-15")).thenAlways(true)
      given(on(Midnight - 1)).when(filter("equals", "2025-06-15")).thenAlways(false)
      given(on(Midnight + Day)).when(filter("equals", "2025-06-15")).thenAlways(false)
    })

    it("equals a full instant is exact equality, offsets included", () => {
      given(on(T)).when(filter("equals", "2025-06-15T12:00:00.000Z")).thenAlways(true)
      given(on(T)).when(filter("equals", "2025-06-15T14:00:00+02:00")).thenAlways(true)
      given(on(T + 1)).when(filter("equals", "2025-06-15T12:00:00.000Z")).thenAlways(false)
      given(on(T - 1)).when(filter("equals", "2025-06-15T12:00:00.000Z")).thenAlways(false)
    })

    it("notEquals is NOT equals, for a day and for an instant", () => {
      given(on(Midnight - 1)).when(filter("notEquals", "2025-06-15")).thenAlways(true)
      given(on(Midnight + Day - 1)).when(filter("notEquals", "2025-06-15")).thenAlways(false)
      given(on(T)).when(filter("notEquals", iso(T))).thenAlways(false)
      given(on(T + 1)).when(filter("notEquals", iso(T))).thenAlways(true)
    })

    it("greaterThan, greaterThanOrEqual, lessThan, lessThanOrEqual compare instants, exactly at the bound", () => {
      const bound = "2025-06-15T14:00:00+02:00" // T
      given(on(T)).when(filter("greaterThan", bound)).thenAlways(false)
      given(on(T + 1)).when(filter("greaterThan", bound)).thenAlways(true)
      given(on(T)).when(filter("greaterThanOrEqual", bound)).thenAlways(true)
      given(on(T - 1)).when(filter("greaterThanOrEqual", bound)).thenAlways(false)
      given(on(T)).when(filter("lessThan", bound)).thenAlways(false)
      given(on(T - 1)).when(filter("lessThan", bound)).thenAlways(true)
      given(on(T)).when(filter("lessThanOrEqual", bound)).thenAlways(true)
      given(on(T + 1)).when(filter("lessThanOrEqual", bound)).thenAlways(false)
    })

    it("a date-only comparison value means its UTC midnight", () => {
      given(on(Midnight)).when(filter("greaterThanOrEqual", "2025-06-15")).thenAlways(true)
      given(on(Midnight - 1)).when(filter("greaterThanOrEqual", "2025-06-15")).thenAlways(false)
      given(on(Midnight)).when(filter("lessThan", "2025-06-15")).thenAlways(false)
      given(on(Midnight + 1)).when(filter("greaterThan", "2025-06-15")).thenAlways(true)
    })

    it("within N holds through instant + N inclusive, then not", () => {
      given(on(T - Day)).when(filter("within", 1, "days")).thenUntil(true, T, T - Hour)
      given(on(T - 30 * Minute)).when(filter("within", 1, "hours")).thenUntil(true, T + 30 * Minute)
      given(on(T - 3 * Hour)).when(filter("within", 2, "hours")).thenAlways(false)
    })

    it("within counts a future instant as within (Plunk)", () =>
      given(on(T + Day)).when(filter("within", 1, "minutes")).thenUntil(true, T + Day + Minute))

    it("olderThan N is false through instant + N, true after", () => {
      given(on(T - 12 * Hour)).when(filter("olderThan", 1, "days")).thenUntil(false, T + 12 * Hour)
      given(on(T - Day)).when(filter("olderThan", 1, "days")).thenUntil(false, T)
      given(on(T - Day - 1)).when(filter("olderThan", 1, "days")).thenAlways(true)
    })
  })
}

describe("data.<path>: equals, notEquals", () => {
  const equals = (path: string, value: Json.Json) => ({ field: `data.${path}`, operator: "equals", value })
  const notEquals = (path: string, value: Json.Json) => ({ field: `data.${path}`, operator: "notEquals", value })

  it('equals is JSON equality: "5" is not 5, key order does not count, array order does', () => {
    given({ data: { n: 5 } }).when(equals("n", 5)).thenAlways(true)
    given({ data: { n: 5 } }).when(equals("n", "5")).thenAlways(false)
    given({ data: { n: "5" } }).when(equals("n", 5)).thenAlways(false)
    given({ data: { o: { a: 1, b: [1, 2] } } }).when(equals("o", { b: [1, 2], a: 1 })).thenAlways(true)
    given({ data: { o: { a: 1, b: [1, 2] } } }).when(equals("o", { a: 1, b: [2, 1] })).thenAlways(false)
    given({ data: { f: false } }).when(equals("f", false)).thenAlways(true)
  })

  it("equals YYYY-MM-DD also matches an ISO-8601 string value within that UTC day, first ms to last", () => {
    const on = (d: Json.Json): Given => ({ data: { d } })
    given(on("2025-06-15")).when(equals("d", "2025-06-15")).thenAlways(true)
    given(on("2025-06-15T00:00:00.000Z")).when(equals("d", "2025-06-15")).thenAlways(true)
    given(on("2025-06-15T23:59:59.999Z")).when(equals("d", "2025-06-15")).thenAlways(true)
    given(on("2025-06-14T23:59:59.999Z")).when(equals("d", "2025-06-15")).thenAlways(false)
    given(on("2025-06-16T00:00:00.000Z")).when(equals("d", "2025-06-15")).thenAlways(false)
    given(on("2025-06-16T01:00:00+02:00")).when(equals("d", "2025-06-15")).thenAlways(true)
    given(on("June 15")).when(equals("d", "2025-06-15")).thenAlways(false)
    given(on(20250615)).when(equals("d", "2025-06-15")).thenAlways(false)
  })

  it("equals a full instant is plain JSON equality of the text", () => {
    given({ data: { d: "2025-06-15T12:00:00Z" } }).when(equals("d", "2025-06-15T12:00:00Z")).thenAlways(true)
    given({ data: { d: "2025-06-15T12:00:00.000Z" } }).when(equals("d", "2025-06-15T12:00:00Z")).thenAlways(false)
  })

  it("nested paths walk objects: data.a.b", () => {
    given({ data: { a: { b: 7 } } }).when(equals("a.b", 7)).thenAlways(true)
    given({ data: { a: { b: 7 } } }).when(equals("a", { b: 7 })).thenAlways(true)
    given({ data: { a: { b: { c: "x" } } } }).when(equals("a.b.c", "x")).thenAlways(true)
    given({ data: { "a.b": 7 } }).when(equals("a.b", 7)).thenAlways(false)
  })

  it("paths walk nested objects only, never arrays or strings", () => {
    given({ data: { list: [{ b: 1 }] } }).when(equals("list.0.b", 1)).thenAlways(false)
    given({ data: { s: "abc" } }).when(equals("s.length", 3)).thenAlways(false)
  })

  it("paths read own keys only, __proto__ included as plain data", () => {
    given({ data: Json.fromEntries([["__proto__", { x: 1 }]]) }).when(equals("__proto__.x", 1)).thenAlways(true)
    given({ data: {} }).when({ field: "data.constructor", operator: "exists" }).thenAlways(false)
  })

  it("equals null matches a nested null only", () => {
    given({ data: { a: { b: null } } }).when(equals("a.b", null)).thenAlways(true)
    given({ data: { a: {} } }).when(equals("a.b", null)).thenAlways(false)
  })

  it("notEquals is NOT equals: a contact without the key matches it", () => {
    given({ data: {} }).when(notEquals("plan", "pro")).thenAlways(true)
    given({ data: { a: 1 } }).when(notEquals("a.b", "pro")).thenAlways(true)
    given({ data: { plan: "pro" } }).when(notEquals("plan", "pro")).thenAlways(false)
    given({ data: { n: "5" } }).when(notEquals("n", 5)).thenAlways(true)
    given({ data: { d: "2025-06-15T08:00:00Z" } }).when(notEquals("d", "2025-06-15")).thenAlways(false)
  })
})

describe("data.<path>: contains, notContains", () => {
  const contains = (path: string, value: string) => ({ field: `data.${path}`, operator: "contains", value })
  const notContains = (path: string, value: string) => ({ field: `data.${path}`, operator: "notContains", value })

  it("contains is a case-insensitive substring of a string value", () => {
    given({ data: { plan: "Enterprise PRO" } }).when(contains("plan", "pro")).thenAlways(true)
    given({ data: { plan: "enterprise pro" } }).when(contains("plan", "PRO")).thenAlways(true)
    given({ data: { plan: "free" } }).when(contains("plan", "pro")).thenAlways(false)
  })

  it("a non-string never contains", () => {
    given({ data: { n: 123 } }).when(contains("n", "12")).thenAlways(false)
    given({ data: { tags: ["pro"] } }).when(contains("tags", "pro")).thenAlways(false)
    given({ data: { o: { pro: true } } }).when(contains("o", "pro")).thenAlways(false)
  })

  it("notContains is NOT contains: a missing key and a non-string match it", () => {
    given({ data: {} }).when(notContains("plan", "pro")).thenAlways(true)
    given({ data: { n: 123 } }).when(notContains("n", "12")).thenAlways(true)
    given({ data: { plan: "PRO" } }).when(notContains("plan", "pro")).thenAlways(false)
  })
})

describe("data.<path>: greaterThan, lessThan, greaterThanOrEqual, lessThanOrEqual", () => {
  const compare = (path: string, operator: string, value: Json.Json) => ({ field: `data.${path}`, operator, value })

  it("numeric when both are numbers, exactly at the bound", () => {
    given({ data: { n: 5 } }).when(compare("n", "greaterThan", 4.5)).thenAlways(true)
    given({ data: { n: 5 } }).when(compare("n", "greaterThan", 5)).thenAlways(false)
    given({ data: { n: 5 } }).when(compare("n", "greaterThanOrEqual", 5)).thenAlways(true)
    given({ data: { n: 5 } }).when(compare("n", "lessThan", 5)).thenAlways(false)
    given({ data: { n: 5 } }).when(compare("n", "lessThanOrEqual", 5)).thenAlways(true)
    given({ data: { n: -1 } }).when(compare("n", "lessThan", 0)).thenAlways(true)
  })

  it('a string value never compares with a number, "5" included', () => {
    given({ data: { n: "5" } }).when(compare("n", "greaterThan", 4)).thenAlways(false)
    given({ data: { n: "5" } }).when(compare("n", "lessThan", 6)).thenAlways(false)
    given({ data: { n: "2025-06-15" } }).when(compare("n", "greaterThan", 3)).thenAlways(false)
  })

  it("by instant when both are ISO-8601 strings, offsets and date-only values included", () => {
    given({ data: { d: "2025-06-15T12:00:00+02:00" } }).when(compare("d", "lessThan", "2025-06-15T11:00:00Z"))
      .thenAlways(true)
    given({ data: { d: "2025-06-15T12:00:00+02:00" } }).when(compare("d", "greaterThan", "2025-06-15T10:00:00Z"))
      .thenAlways(false)
    given({ data: { d: "2025-06-15" } }).when(compare("d", "greaterThanOrEqual", "2025-06-15T00:00:00Z"))
      .thenAlways(true)
    given({ data: { d: "2025-06-15" } }).when(compare("d", "lessThanOrEqual", "2025-06-14T23:59:59.999Z"))
      .thenAlways(false)
    given({ data: { d: "2025-06-16" } }).when(compare("d", "greaterThan", "2025-06-15")).thenAlways(true)
  })

  it("anything else is false: a non-ISO string, a number against an instant, a missing key", () => {
    given({ data: { d: "tomorrow" } }).when(compare("d", "greaterThan", "2025-01-01")).thenAlways(false)
    given({ data: { d: "tomorrow" } }).when(compare("d", "lessThan", "2025-01-01")).thenAlways(false)
    given({ data: { d: T } }).when(compare("d", "greaterThan", "2025-01-01")).thenAlways(false)
    given({ data: {} }).when(compare("d", "lessThan", 10)).thenAlways(false)
    given({ data: { d: [1] } }).when(compare("d", "lessThan", 10)).thenAlways(false)
  })
})

describe("data.<path>: exists, notExists", () => {
  const exists = (path: string, operator = "exists") => ({ field: `data.${path}`, operator })

  it("exists: the path resolves to a value that is not null; falsy values exist", () => {
    for (const value of ["x", "", 0, false, [], {}]) {
      given({ data: { a: value } }).when(exists("a")).thenAlways(true)
    }
    given({ data: { a: { b: null } } }).when(exists("a.b")).thenAlways(false)
    given({ data: {} }).when(exists("a")).thenAlways(false)
    given({ data: { a: "str" } }).when(exists("a.b")).thenAlways(false)
  })

  it("notExists is NOT exists: a missing key, a nested null", () => {
    given({ data: {} }).when(exists("a", "notExists")).thenAlways(true)
    given({ data: { a: { b: null } } }).when(exists("a.b", "notExists")).thenAlways(true)
    given({ data: { a: 0 } }).when(exists("a", "notExists")).thenAlways(false)
  })
})

describe("data.<path>: within, olderThan read the value as an ISO-8601 instant", () => {
  const timed = (operator: string, value: number, unit: string) => ({ field: "data.seen", operator, value, unit })

  it("within N holds through the value + N", () => {
    given({ data: { seen: iso(T - Day) } }).when(timed("within", 1, "days")).thenUntil(true, T, T - 1)
    given({ data: { seen: "2025-06-15" } }).when(timed("within", 24, "hours")).thenUntil(true, Midnight + Day)
    given({ data: { seen: iso(T - Day - 1) } }).when(timed("within", 1, "days")).thenAlways(false)
  })

  it("olderThan N holds after the value + N", () => {
    given({ data: { seen: iso(T - Hour) } }).when(timed("olderThan", 2, "hours")).thenUntil(false, T + Hour)
    given({ data: { seen: iso(T - 3 * Hour) } }).when(timed("olderThan", 2, "hours")).thenAlways(true)
  })

  it("a value that is not an instant is neither within nor older, for good", () => {
    for (const seen of ["yesterday", T, true, null]) {
      given({ data: { seen } }).when(timed("within", 1, "days")).thenAlways(false)
      given({ data: { seen } }).when(timed("olderThan", 1, "days")).thenAlways(false)
    }
    given({ data: {} }).when(timed("within", 1, "days")).thenAlways(false)
  })
})

describe("event.<name>: triggered, notTriggered", () => {
  it("triggered: the contact had the event at least once", () => {
    given({ events: [["buy", T - 400 * Day]] }).when({ field: "event.buy", operator: "triggered" }).thenAlways(true)
    given({ events: [["view", T]] }).when({ field: "event.buy", operator: "triggered" }).thenAlways(false)
  })

  it("notTriggered is NOT triggered", () => {
    given({ events: [["buy", T]] }).when({ field: "event.buy", operator: "notTriggered" }).thenAlways(false)
    given().when({ field: "event.buy", operator: "notTriggered" }).thenAlways(true)
  })

  it("event names are case-sensitive, as stored", () =>
    given({ events: [["Buy", T]] }).when({ field: "event.buy", operator: "triggered" }).thenAlways(false))
})

describe("event.<name>: triggeredWithin, notTriggeredWithin, triggeredOlderThan", () => {
  const windowed = (operator: string, value = 1, unit = "days") => ({ field: "event.buy", operator, value, unit })

  it("triggeredWithin N holds through the LAST such event + N", () => {
    given({ events: [["buy", T - 5 * Day], ["buy", T - Hour]] }).when(windowed("triggeredWithin"))
      .thenUntil(true, T - Hour + Day)
    given({ events: [["buy", T - Day]] }).when(windowed("triggeredWithin")).thenUntil(true, T, T - Minute)
  })

  it("triggeredWithin is false for good once the last is out of the window, or without any", () => {
    given({ events: [["buy", T - Day - 1]] }).when(windowed("triggeredWithin")).thenAlways(false)
    given().when(windowed("triggeredWithin")).thenAlways(false)
  })

  it("notTriggeredWithin is NOT triggeredWithin: it holds for a contact that never had the event", () => {
    given().when(windowed("notTriggeredWithin")).thenAlways(true)
    given({ events: [["buy", T - 2 * Hour]] }).when(windowed("notTriggeredWithin", 3, "hours"))
      .thenUntil(false, T + Hour)
    given({ events: [["buy", T - 4 * Hour]] }).when(windowed("notTriggeredWithin", 3, "hours")).thenAlways(true)
  })

  it("triggeredOlderThan N: had it, and the last is older than N: false through last + N", () => {
    given({ events: [["buy", T - 10 * Minute]] }).when(windowed("triggeredOlderThan", 15, "minutes"))
      .thenUntil(false, T + 5 * Minute)
    given({ events: [["buy", T - 20 * Minute]] }).when(windowed("triggeredOlderThan", 15, "minutes")).thenAlways(true)
    given({ events: [["buy", T - 5 * Day], ["buy", T - Minute]] }).when(windowed("triggeredOlderThan"))
      .thenUntil(false, T - Minute + Day)
  })

  it("triggeredOlderThan never holds for a contact that never had the event", () =>
    given().when(windowed("triggeredOlderThan")).thenAlways(false))
})

describe("event.<name>: triggeredAtLeast, triggeredFewerThan", () => {
  const count = (operator: string, value: number, within?: number) =>
    within === undefined
      ? { field: "event.buy", operator, value }
      : { field: "event.buy", operator, value, within, unit: "days" }
  const three: Given = { events: [["buy", T - 3 * Hour], ["buy", T - 2 * Hour], ["buy", T - Hour], ["view", T]] }

  it("without within: the total count, whenever the events were", () => {
    given({ events: [["buy", T - 900 * Day], ["buy", T]] }).when(count("triggeredAtLeast", 2)).thenAlways(true)
    given({ events: [["buy", T]] }).when(count("triggeredAtLeast", 2)).thenAlways(false)
    given().when(count("triggeredAtLeast", 1)).thenAlways(false)
  })

  it("with within: at least n in the window, through the n-th newest + w", () => {
    given(three).when(count("triggeredAtLeast", 1, 1)).thenUntil(true, T - Hour + Day)
    given(three).when(count("triggeredAtLeast", 2, 1)).thenUntil(true, T - 2 * Hour + Day)
    given(three).when(count("triggeredAtLeast", 3, 1)).thenUntil(true, T - 3 * Hour + Day)
    given(three).when(count("triggeredAtLeast", 4, 1)).thenAlways(false)
  })

  it("with within: events out of the window do not count", () => {
    given({ events: [["buy", T - 3 * Day], ["buy", T - Hour]] }).when(count("triggeredAtLeast", 2, 1))
      .thenAlways(false)
    given({ events: [["buy", T - 3 * Day], ["buy", T - Hour]] }).when(count("triggeredAtLeast", 2, 3))
      .thenUntil(true, T)
  })

  it("triggeredFewerThan is NOT triggeredAtLeast, with and without within", () => {
    given().when(count("triggeredFewerThan", 1)).thenAlways(true)
    given().when(count("triggeredFewerThan", 2, 1)).thenAlways(true)
    given({ events: [["buy", T]] }).when(count("triggeredFewerThan", 2)).thenAlways(true)
    given(three).when(count("triggeredFewerThan", 3)).thenAlways(false)
    given(three).when(count("triggeredFewerThan", 2, 1)).thenUntil(false, T - 2 * Hour + Day)
  })
})

describe("segment.<id>: memberOfSegment, notMemberOfSegment", () => {
  const segments = {
    pro: { field: "data.plan", operator: "equals", value: "pro" },
    buyer: { field: "event.buy", operator: "triggeredWithin", value: 1, unit: "days" }
  }

  it("memberOfSegment: the referenced segment's condition holds", () => {
    given({ data: { plan: "pro" } }, segments).when({ field: "segment.pro", operator: "memberOfSegment" })
      .thenAlways(true)
    given({ data: { plan: "free" } }, segments).when({ field: "segment.pro", operator: "memberOfSegment" })
      .thenAlways(false)
  })

  it("notMemberOfSegment is NOT memberOfSegment", () => {
    given({ data: {} }, segments).when({ field: "segment.pro", operator: "notMemberOfSegment" }).thenAlways(true)
    given({ data: { plan: "pro" } }, segments).when({ field: "segment.pro", operator: "notMemberOfSegment" })
      .thenAlways(false)
  })

  it("a referenced segment's time window is the referencing one's boundary", () => {
    given({ events: [["buy", T - Hour]] }, segments).when({ field: "segment.buyer", operator: "memberOfSegment" })
      .thenUntil(true, T - Hour + Day)
    given({ events: [["buy", T - Hour]] }, segments).when({ field: "segment.buyer", operator: "notMemberOfSegment" })
      .thenUntil(false, T - Hour + Day)
  })

  it("a reference that was not inlined is a defect", () => {
    const node = conditionOf({ field: "segment.pro", operator: "memberOfSegment" })
    expect(() => SegmentEvaluation.evaluate(node, subjectOf({}, SegmentNode.never), T)).toThrow(/inlined/)
  })
})

describe("AND, OR, nesting: the answer and its boundary", () => {
  const recentBuy = { field: "event.buy", operator: "triggeredWithin", value: 1, unit: "days" } // last T-1h: T+23h
  const newContact = { field: "createdAt", operator: "within", value: 2, unit: "days" } // created T-1d: T+1d
  const oldContact = { field: "createdAt", operator: "olderThan", value: 1, unit: "days" } // false through T
  const olderContact = { field: "createdAt", operator: "olderThan", value: 2, unit: "days" } // false through T+1d
  const quietBuyer = { field: "event.buy", operator: "notTriggeredWithin", value: 2, unit: "days" } // until T+47h
  const nobody = { field: "email", operator: "equals", value: "nobody@example.com" }
  const state: Given = { createdAt: T - Day, events: [["buy", T - Hour]] }
  const and = (...filters: Array<Record<string, unknown>>) => ({ logic: "AND", groups: [{ filters }] })
  const or = (...filters: Array<Record<string, unknown>>) => ({
    logic: "OR",
    groups: filters.map((f) => ({ filters: [f] }))
  })

  it("AND true holds while every child does: the least boundary", () => {
    const when = given(state).when(and(recentBuy, newContact))
    expect(when.at(T)).toEqual({ matches: true, boundary: T + 23 * Hour })
    expect(when.at(T + 23 * Hour).matches).toBe(true)
    expect(when.at(T + 23 * Hour + 1).matches).toBe(false)
  })

  it("AND false stays false while any false child does: the greatest boundary among them", () => {
    const when = given(state).when(and(oldContact, quietBuyer))
    expect(when.at(T)).toEqual({ matches: false, boundary: T + 47 * Hour })
    expect(when.at(T + 47 * Hour).matches).toBe(false)
    expect(when.at(T + 47 * Hour + 1)).toEqual({ matches: true, boundary: Infinity })
  })

  it("AND with a child false for good is false for good", () =>
    given(state).when(and(oldContact, nobody, quietBuyer)).thenAlways(false))

  it("OR false holds while every child is false: the least boundary", () => {
    const when = given(state).when(or(oldContact, quietBuyer))
    expect(when.at(T - Hour)).toEqual({ matches: false, boundary: T })
    expect(when.at(T).matches).toBe(false)
    expect(when.at(T + 1)).toEqual({ matches: true, boundary: Infinity })
  })

  it("OR true stays true while any true child does: the greatest boundary among them", () => {
    const when = given(state).when(or(recentBuy, newContact, nobody))
    expect(when.at(T)).toEqual({ matches: true, boundary: T + Day })
    expect(when.at(T + Day).matches).toBe(true)
    expect(when.at(T + Day + 1)).toEqual({ matches: false, boundary: Infinity })
  })

  it("OR with a child true for good is true for good", () =>
    given({ ...state, subscribed: true }).when(or(recentBuy, { field: "subscribed", operator: "equals", value: true }))
      .thenAlways(true))

  it("nesting composes the same way: (recentBuy AND newContact) OR (olderContact AND NOT nobody)", () => {
    const when = given(state).when({
      logic: "OR",
      groups: [
        { filters: [recentBuy, newContact] },
        { filters: [olderContact, { ...nobody, operator: "notEquals" }] }
      ]
    })
    // The first group holds through T+23h; the second holds from T+1d+1ms on, for good.
    expect(when.at(T)).toEqual({ matches: true, boundary: T + 23 * Hour })
    expect(when.at(T + 23 * Hour + 1)).toEqual({ matches: false, boundary: T + Day })
    expect(when.at(T + Day + 1)).toEqual({ matches: true, boundary: Infinity })
  })

  it("a negated group keeps its boundary", () => {
    const positive = given(state).when(and(recentBuy, newContact)).at(T)
    const node = SegmentNode.not(conditionOf(and(recentBuy, newContact)))
    expect(SegmentEvaluation.evaluate(node, subjectOf(state, node), T)).toEqual({
      matches: !positive.matches,
      boundary: positive.boundary
    })
  })
})

// ---------------------------------------------------------------------------------------------
// Properties: NOT is exact, and the boundary is sound, checked against a plain model of the rules
// and a brute-force scan of every instant where an answer can change.

const Units = { minutes: Minute, hours: Hour, days: Day } as const
type Unit = keyof typeof Units

interface RawSubject {
  readonly subscribed: boolean
  readonly createdAt: number
  readonly updatedAt: number
  readonly seen: Json.Json | undefined
  readonly events: ReadonlyArray<readonly [string, number]>
}

const instant = FastCheck.tuple(FastCheck.integer({ min: -72, max: 72 }), FastCheck.integer({ min: -2, max: 2 }))
  .map(([hours, minutes]) => T + hours * Hour + minutes * Minute)
const window = FastCheck.constantFrom<readonly [number, Unit]>([1, "minutes"], [1, "hours"], [2, "hours"], [1, "days"])
const eventName = FastCheck.constantFrom("a", "b")

const filter: FastCheck.Arbitrary<SegmentCondition.WireFilter> = FastCheck.oneof(
  FastCheck.tuple(eventName, FastCheck.constantFrom("triggered", "notTriggered")).map(([name, operator]) => ({
    field: `event.${name}`,
    operator
  })),
  FastCheck.tuple(
    eventName,
    FastCheck.constantFrom("triggeredWithin", "notTriggeredWithin", "triggeredOlderThan"),
    window
  )
    .map(([name, operator, [value, unit]]) => ({ field: `event.${name}`, operator, value, unit })),
  FastCheck.tuple(
    eventName,
    FastCheck.constantFrom("triggeredAtLeast", "triggeredFewerThan"),
    FastCheck.integer({ min: 1, max: 3 }),
    FastCheck.option(window, { nil: undefined })
  ).map(([name, operator, value, within]) =>
    within === undefined
      ? { field: `event.${name}`, operator, value }
      : { field: `event.${name}`, operator, value, within: within[0], unit: within[1] }
  ),
  FastCheck.tuple(
    FastCheck.constantFrom("createdAt", "updatedAt", "data.seen"),
    FastCheck.constantFrom("within", "olderThan"),
    window
  )
    .map(([field, operator, [value, unit]]) => ({ field, operator, value, unit })),
  FastCheck.constantFrom(
    { field: "subscribed", operator: "equals", value: true },
    { field: "data.seen", operator: "exists" },
    { field: "data.seen", operator: "notExists" }
  )
)

const conditionAt = (depth: number): FastCheck.Arbitrary<SegmentCondition.WireCondition> => {
  const plain = FastCheck.record({ filters: FastCheck.array(filter, { minLength: 1, maxLength: 2 }) })
  const group = depth >= 3 ? plain : FastCheck.oneof(
    plain,
    FastCheck.record({ filters: FastCheck.array(filter, { maxLength: 2 }), conditions: conditionAt(depth + 1) })
  )
  return FastCheck.record({
    logic: FastCheck.constantFrom<SegmentCondition.Logic>("AND", "OR"),
    groups: FastCheck.array(group, { minLength: 1, maxLength: 2 })
  })
}

const rawSubject: FastCheck.Arbitrary<RawSubject> = FastCheck.record({
  subscribed: FastCheck.boolean(),
  createdAt: instant,
  updatedAt: instant,
  seen: FastCheck.oneof(instant.map(iso), FastCheck.constantFrom<Json.Json | undefined>("not a date", null, undefined)),
  events: FastCheck.array(FastCheck.tuple(eventName, instant), { maxLength: 6 })
})

const evaluationInstant = FastCheck.tuple(instant, FastCheck.integer({ min: -1, max: 1 })).map(([t, d]) => t + d)

const millisOf = (value: unknown, unit: unknown) => (value as number) * Units[unit as Unit]

// The rules, written from their statement with no facts and no boundaries: a model to check against.
const holds = (f: SegmentCondition.WireFilter, s: RawSubject, t: number): boolean => {
  if (f.field.startsWith("event.")) {
    const times = s.events.filter(([name]) => name === f.field.slice("event.".length)).map(([, at]) => at)
    const since = (w: number) => times.filter((at) => at >= t - w).length
    switch (f.operator) {
      case "triggered":
        return times.length > 0
      case "notTriggered":
        return times.length === 0
      case "triggeredWithin":
        return since(millisOf(f.value, f.unit)) > 0
      case "notTriggeredWithin":
        return since(millisOf(f.value, f.unit)) === 0
      case "triggeredOlderThan":
        return times.length > 0 && since(millisOf(f.value, f.unit)) === 0
      default: {
        const n = f.within === undefined ? times.length : since(millisOf(f.within, f.unit))
        return (n >= (f.value as number)) === (f.operator === "triggeredAtLeast")
      }
    }
  }
  if (f.field === "subscribed") return s.subscribed === f.value
  if (f.operator === "exists") return s.seen !== undefined && s.seen !== null
  if (f.operator === "notExists") return s.seen === undefined || s.seen === null
  const at = f.field === "data.seen"
    ? (typeof s.seen === "string" ? Date.parse(s.seen) : NaN)
    : s[f.field as "createdAt"]
  if (Number.isNaN(at)) return false
  const w = millisOf(f.value, f.unit)
  return f.operator === "within" ? at >= t - w : at < t - w
}

const model = (c: SegmentCondition.WireCondition, s: RawSubject, t: number): boolean => {
  const group = (g: SegmentCondition.WireGroup) =>
    g.filters.every((f) => holds(f, s, t)) && (g.conditions === undefined || model(g.conditions, s, t))
  return c.logic === "AND" ? c.groups.every(group) : c.groups.some(group)
}

const filtersOf = (c: SegmentCondition.WireCondition): Array<SegmentCondition.WireFilter> =>
  c.groups.flatMap((g) => [...g.filters, ...(g.conditions === undefined ? [] : filtersOf(g.conditions))])

// The window of a filter, if it has one: its value, or for a count its `within`.
const windowOf = (f: SegmentCondition.WireFilter): ReadonlyArray<number> => {
  if (f.unit === undefined) return []
  const counts = f.operator === "triggeredAtLeast" || f.operator === "triggeredFewerThan"
  return [millisOf(counts ? f.within : f.value, f.unit)]
}

// Every instant right after which some answer can change: a time of the subject plus a window.
const critical = (c: SegmentCondition.WireCondition, s: RawSubject): ReadonlySet<number> => {
  const windows = filtersOf(c).flatMap(windowOf)
  const times = [s.createdAt, s.updatedAt, ...s.events.map(([, at]) => at)]
  if (typeof s.seen === "string" && !Number.isNaN(Date.parse(s.seen))) times.push(Date.parse(s.seen))
  return new Set(times.flatMap((at) => windows.map((w) => at + w)))
}

const subjectOfRaw = (s: RawSubject, node: SegmentNode.Node): SegmentEvaluation.Subject =>
  subjectOf({
    subscribed: s.subscribed,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    data: s.seen === undefined ? {} : { seen: s.seen },
    events: s.events
  }, node)

describe("properties", () => {
  it.prop(
    "evaluate agrees with the rules as stated, and NOT x is exactly the opposite of x, with the same boundary",
    [conditionAt(1), rawSubject, evaluationInstant],
    ([wire, raw, t]) => {
      const { node } = decode(wire)
      const subject = subjectOfRaw(raw, node)
      const result = SegmentEvaluation.evaluate(node, subject, t)
      expect(result.matches).toBe(model(wire, raw, t))
      expect(SegmentEvaluation.evaluate(SegmentNode.not(node), subject, t)).toEqual({
        matches: !result.matches,
        boundary: result.boundary
      })
    },
    { fastCheck: { numRuns: 1000 } }
  )

  it.prop(
    "the boundary is sound: no answer changes in [t, boundary], a leaf changes right after it, and a lone " +
      "filter's boundary is the first change a brute-force scan finds",
    [conditionAt(1), rawSubject, evaluationInstant, FastCheck.double({ min: 0, max: 1, noNaN: true })],
    ([wire, raw, t, fraction]) => {
      const { node } = decode(wire)
      const subject = subjectOfRaw(raw, node)
      const { boundary, matches } = SegmentEvaluation.evaluate(node, subject, t)
      const candidates = [...critical(wire, raw)].filter((c) => c >= t).sort((a, b) => a - b)
      // The first instant after which the answer differs from the one at t.
      const firstChange = candidates.find((c) => model(wire, raw, c + 1) !== matches) ?? Infinity
      expect(boundary).toBeGreaterThanOrEqual(t)
      expect(boundary).toBeLessThanOrEqual(firstChange)
      const filters = filtersOf(wire)
      if (filters.length === 1) expect(boundary).toBe(firstChange)
      if (boundary !== Infinity) {
        expect(candidates).toContain(boundary)
        expect(filters.some((f) => holds(f, raw, boundary) !== holds(f, raw, boundary + 1))).toBe(true)
        const samples = [t, boundary, Math.floor(t + (boundary - t) * fraction)]
        for (const s of samples) expect(SegmentEvaluation.evaluate(node, subject, s).matches).toBe(matches)
      }
    },
    { fastCheck: { numRuns: 1000 } }
  )
})
