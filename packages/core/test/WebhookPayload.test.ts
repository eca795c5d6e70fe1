import { describe, expect, it } from "@effect/vitest"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as PublicEvent from "@tracklog/core/PublicEvent"
import * as WebhookPayload from "@tracklog/core/WebhookPayload"

const at = new Date("2026-01-02T03:04:05.678Z")
const timestamp = "2026-01-02T03:04:05.678Z"
const contact = "0190a000-0000-7000-8000-000000000002"
const id = "0190a000-0000-7000-8000-0000000000e1"
const email = "ada@example.com"
const recorded = (event: ContactEvent.ContactEvent): PublicEvent.Source => ({ id, streamId: contact, event })
// `null` for no known email (an `undefined` argument would take the default).
const payload = (event: ContactEvent.ContactEvent, known: string | null = email) =>
  WebhookPayload.of(recorded(event), known ?? undefined)
// The key order is part of the shape: the body is signed and compared as text.
const keys = (value: object | undefined) => (value === undefined ? undefined : Object.keys(value))

describe("WebhookPayload.of: the body of a delivery (webhooks §12), data as behaviour §5.1", () => {
  it("a tracked event: its own name as type, the event.tracked data with data as sent", () => {
    const data = { plan: "pro", coupon: { value: "X1", persistent: false } }
    const body = payload(ContactEvent.EventTracked.make({ name: "purchase", data, at }))
    expect(body).toEqual({
      type: "purchase",
      timestamp,
      data: { id, contact, email, name: "purchase", data, timestamp }
    })
    expect(keys(body)).toEqual(["type", "timestamp", "data"])
    expect(keys(body?.data)).toEqual(["id", "contact", "email", "name", "data", "timestamp"])
  })

  it("contact.created carries the email and the initial subscription, whatever email is passed", () => {
    const body = payload(
      ContactEvent.ContactCreated.make({ contactId: contact, projectId: "p", email, subscribed: false, at }),
      null
    )
    expect(body).toEqual({
      type: "contact.created",
      timestamp,
      data: { id, contact, email, subscribed: false, timestamp }
    })
    expect(keys(body?.data)).toEqual(["id", "contact", "email", "subscribed", "timestamp"])
  })

  it("contact.subscribed and contact.unsubscribed carry the email only", () => {
    expect(payload(ContactEvent.SubscriptionChanged.make({ subscribed: true, at }))).toEqual({
      type: "contact.subscribed",
      timestamp,
      data: { id, contact, email, timestamp }
    })
    expect(payload(ContactEvent.SubscriptionChanged.make({ subscribed: false, at }))?.type).toBe(
      "contact.unsubscribed"
    )
  })

  it("contact.updated for a data change: set and unset", () => {
    const body = payload(ContactEvent.ContactDataChanged.make({ set: { plan: "pro" }, unset: ["city"], at }))
    expect(body).toEqual({
      type: "contact.updated",
      timestamp,
      data: { id, contact, email, set: { plan: "pro" }, unset: ["city"], timestamp }
    })
    expect(keys(body?.data)).toEqual(["id", "contact", "email", "set", "unset", "timestamp"])
  })

  it("contact.updated for an email change: the new email, nothing set or unset", () => {
    expect(payload(ContactEvent.ContactEmailChanged.make({ email: "new@example.com", at }))).toEqual({
      type: "contact.updated",
      timestamp,
      data: { id, contact, email: "new@example.com", set: {}, unset: [], timestamp }
    })
  })

  it("contact.erased: the ids and the time, no email and no data (behaviour §7)", () => {
    const body = payload(ContactEvent.ContactErased.make({ contactId: contact, at }))
    expect(body).toEqual({ type: "contact.erased", timestamp, data: { id, contact, timestamp } })
    expect(JSON.stringify(body)).not.toContain("@")
  })

  it("an event that needs an email when none is known has no payload (its contact is gone)", () => {
    expect(payload(ContactEvent.EventTracked.make({ name: "purchase", data: {}, at }), null)).toBeUndefined()
    expect(payload(ContactEvent.SubscriptionChanged.make({ subscribed: true, at }), null)).toBeUndefined()
    expect(payload(ContactEvent.ContactDataChanged.make({ set: { a: 1 }, unset: [], at }), null))
      .toBeUndefined()
  })

  it("encode is one line of JSON that parses back to the payload", () => {
    const body = payload(ContactEvent.EventTracked.make({ name: "a\nb", data: { text: "x\r\ny" }, at }))!
    const text = WebhookPayload.encode(body)
    expect(text).not.toMatch(/[\r\n]/)
    expect(JSON.parse(text)).toEqual(body)
  })
})

describe("PublicEvent: the stream's types (behaviour §5.1)", () => {
  it("a tracked event is event.tracked on the stream, under its own name in a webhook", () => {
    const event = ContactEvent.EventTracked.make({ name: "purchase", data: {}, at })
    expect(PublicEvent.of(recorded(event), email)?.type).toBe("event.tracked")
    expect(payload(event)?.type).toBe("purchase")
    expect(payload(event)?.data).toEqual(PublicEvent.of(recorded(event), email)?.data)
  })

  it("emailAfter follows creations and email changes, and forgets on erasure", () => {
    let known: string | undefined
    const events = [
      ContactEvent.ContactCreated.make({ contactId: contact, projectId: "p", email, subscribed: true, at }),
      ContactEvent.EventTracked.make({ name: "e", data: {}, at }),
      ContactEvent.ContactEmailChanged.make({ email: "new@example.com", at }),
      ContactEvent.SubscriptionChanged.make({ subscribed: false, at }),
      ContactEvent.ContactErased.make({ contactId: contact, at })
    ]
    const seen = events.map((event) => (known = PublicEvent.emailAfter(event, known)))
    expect(seen).toEqual([email, email, "new@example.com", "new@example.com", undefined])
  })
})
