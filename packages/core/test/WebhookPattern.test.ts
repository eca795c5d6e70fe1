import { describe, expect, it } from "@effect/vitest"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as WebhookPattern from "@tracklog/core/WebhookPattern"

const at = new Date("2026-01-02T03:04:05.678Z")
const issues = (value: unknown) => WebhookPattern.check(value).map((i) => `${i.field}:${i.code}`)

describe("WebhookPattern.check (webhooks §12)", () => {
  it("event names and prefixes ending in * are valid", () => {
    expect(issues(["purchase", "segment.vip.entry", "contact.unsubscribed", "segment.vip.*", "*"])).toEqual([])
  })

  it("the list is required, an array, and holds 1–50 patterns", () => {
    expect(issues(undefined)).toEqual(["events:required"])
    expect(issues("purchase")).toEqual(["events:invalid_type"])
    expect(issues({ 0: "purchase" })).toEqual(["events:invalid_type"])
    expect(issues([])).toEqual(["events:too_short"])
    expect(issues(Array.from({ length: 50 }, (_, i) => `e${i}`))).toEqual([])
    expect(issues(Array.from({ length: 51 }, (_, i) => `e${i}`))).toEqual(["events:too_long"])
  })

  it("each pattern's issue is at its index", () => {
    expect(issues(["ok", 7, "", "x".repeat(257), "   ", "a\u0000b", "\ud800", "a*b", "**", "*.entry", null])).toEqual([
      "events[1]:invalid_type",
      "events[2]:too_short",
      "events[3]:too_long",
      "events[4]:blank",
      "events[5]:invalid_string",
      "events[6]:invalid_string",
      "events[7]:invalid_pattern",
      "events[8]:invalid_pattern",
      "events[9]:invalid_pattern",
      "events[10]:invalid_type"
    ])
  })

  it("a pattern of 256 characters is valid, as an event name of 256 is", () => {
    expect(issues(["x".repeat(256), "x".repeat(255) + "*"])).toEqual([])
  })

  it("the field path follows the caller's field", () => {
    expect(WebhookPattern.check([1], "body.events").map((i) => i.field)).toEqual(["body.events[0]"])
  })
})

describe("WebhookPattern.matches (webhooks §12)", () => {
  it("an event name matches itself only, case-sensitively", () => {
    expect(WebhookPattern.matches(["purchase"], "purchase")).toBe(true)
    expect(WebhookPattern.matches(["purchase"], "Purchase")).toBe(false)
    expect(WebhookPattern.matches(["purchase"], "purchases")).toBe(false)
    expect(WebhookPattern.matches(["purchase"], "purchas")).toBe(false)
  })

  it("a prefix ending in * matches every name that starts with it", () => {
    expect(WebhookPattern.matches(["segment.vip.*"], "segment.vip.entry")).toBe(true)
    expect(WebhookPattern.matches(["segment.vip.*"], "segment.vip.exit")).toBe(true)
    expect(WebhookPattern.matches(["segment.vip.*"], "segment.vip.")).toBe(true)
    expect(WebhookPattern.matches(["segment.vip.*"], "segment.vip")).toBe(false)
    expect(WebhookPattern.matches(["segment.vip.*"], "segment.vips.entry")).toBe(false)
  })

  it("* matches everything, the system's names too", () => {
    for (const name of ["purchase", "contact.created", "contact.erased", "segment.a.exit", ""]) {
      expect(WebhookPattern.matches(["*"], name)).toBe(true)
    }
  })

  it("any one pattern of the list is enough; none matches nothing", () => {
    expect(WebhookPattern.matches(["signup", "contact.*"], "contact.updated")).toBe(true)
    expect(WebhookPattern.matches(["signup", "contact.*"], "purchase")).toBe(false)
    expect(WebhookPattern.matches([], "purchase")).toBe(false)
  })
})

describe("WebhookPattern.nameOf (webhooks §12)", () => {
  it("names each contact event as it is matched and delivered", () => {
    const named = [
      ContactEvent.ContactCreated.make({ contactId: "c", projectId: "p", email: "a@b.co", subscribed: true, at }),
      ContactEvent.SubscriptionChanged.make({ subscribed: true, at }),
      ContactEvent.SubscriptionChanged.make({ subscribed: false, at }),
      ContactEvent.ContactDataChanged.make({ set: { a: 1 }, unset: [], at }),
      ContactEvent.ContactEmailChanged.make({ email: "new@b.co", at }),
      ContactEvent.EventTracked.make({ name: "purchase", data: {}, at }),
      ContactEvent.EventTracked.make({ name: "segment.vip.entry", data: {}, at }),
      ContactEvent.ContactErased.make({ contactId: "c", at })
    ].map(WebhookPattern.nameOf)
    expect(named).toEqual([
      "contact.created",
      "contact.subscribed",
      "contact.unsubscribed",
      "contact.updated",
      "contact.updated",
      "purchase",
      "segment.vip.entry",
      "contact.erased"
    ])
  })

  it("a segment transition reaches an endpoint on segment.<slug>.*", () => {
    const entry = ContactEvent.EventTracked.make({ name: "segment.vip.entry", data: {}, at })
    expect(WebhookPattern.matches(["segment.vip.*"], WebhookPattern.nameOf(entry))).toBe(true)
    expect(WebhookPattern.matches(["segment.other.*"], WebhookPattern.nameOf(entry))).toBe(false)
  })
})
