import { describe, expect, it } from "@effect/vitest"
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as ContactUpdate from "@tracklog/core/ContactUpdate"
import * as DeciderSpecification from "@tracklog/core/testing/DeciderSpecification"
import * as Either from "effect/Either"

const projectId = "0190a000-0000-7000-8000-000000000001"
const contactId = "0190a000-0000-7000-8000-000000000002"
const now = new Date("2026-01-02T03:04:05.678Z")
const earlier = new Date("2025-12-31T00:00:00.000Z")
const created = ContactEvent.ContactCreated.make({
  contactId,
  projectId,
  email: "ada@example.com",
  subscribed: true,
  at: earlier
})
const data = ContactEvent.ContactDataChanged.make({ set: { plan: "free", city: "Oslo" }, unset: [], at: earlier })
const context: ContactUpdate.Context = { projectId, now, emailTaken: false }
const spec = DeciderSpecification.for(ContactUpdate.handling.decider, context)

const command = (body: unknown) => Either.getOrThrow(ContactUpdate.decode(contactId, body))
const issues = (body: unknown) =>
  Either.match(ContactUpdate.decode(contactId, body), {
    onLeft: (e) => e.issues.map((i) => `${i.field}:${i.code}`),
    onRight: () => []
  })

describe("ContactUpdate.decide (behaviour §10)", () => {
  it("a flip of subscribed records the flip", () =>
    spec.given([created]).when(command({ subscribed: false })).then([
      ContactEvent.SubscriptionChanged.make({ subscribed: false, at: now })
    ]))

  it("subscribed as it is records nothing", () => spec.given([created]).when(command({ subscribed: true })).then([]))

  it("data merges as a track's: set, unset, reserved keys and empty strings dropped", () =>
    spec.given([created, data]).when(command({ data: { plan: "pro", city: null, id: "x", note: "" } })).then([
      ContactEvent.ContactDataChanged.make({ set: { plan: "pro" }, unset: ["city"], at: now })
    ]))

  it("data already as sent records nothing", () =>
    spec.given([created, data]).when(command({ data: { plan: "free" } })).then([]))

  it("a new email is canonicalised and recorded as an email change", () =>
    spec.given([created]).when(command({ email: "  Bob@Example.COM " })).then([
      ContactEvent.ContactEmailChanged.make({ email: "bob@example.com", at: now })
    ]))

  it("the same email in another spelling records nothing", () =>
    spec.given([created]).when(command({ email: "ADA@example.com" })).then([]))

  it("an email another contact holds is refused, whatever else changes", () =>
    spec.given([created]).when(command({ email: "bob@example.com", subscribed: false }), {
      ...context,
      emailTaken: true
    })
      .thenRefuses((refusal) => refusal._tag === "ContactExists"))

  it("all three at once: email, then the flip, then the data; updatedAt moves, nothing tracked", () => {
    spec.given([created]).when(command({ email: "bob@example.com", subscribed: false, data: { a: 1 } })).then([
      ContactEvent.ContactEmailChanged.make({ email: "bob@example.com", at: now }),
      ContactEvent.SubscriptionChanged.make({ subscribed: false, at: now }),
      ContactEvent.ContactDataChanged.make({ set: { a: 1 }, unset: [], at: now })
    ])
    spec.given([created]).when(command({ email: "bob@example.com" })).thenState({
      ...Contact.fold([created])!,
      email: "bob@example.com",
      updatedAt: now,
      version: 2
    })
  })

  it("no contact, another project's, or another id → ContactNotFound", () => {
    spec.given([]).when(command({ subscribed: false })).thenRefuses((refusal) => refusal._tag === "ContactNotFound")
    spec.given([created]).when(command({ subscribed: false }), { ...context, projectId: "other" }).thenRefuses((r) =>
      r._tag === "ContactNotFound"
    )
    const erased = ContactEvent.ContactErased.make({ contactId, at: earlier })
    spec.given([created, erased]).when(command({ subscribed: false })).thenRefuses((r) => r._tag === "ContactNotFound")
  })
})

describe("ContactUpdate.decode (behaviour §10)", () => {
  it("an empty body, or unknown keys only, is refused at body", () => {
    expect(issues({})).toEqual(["body:required"])
    expect(issues({ name: "x" })).toEqual(["body:required"])
  })

  it("a body that is not an object is refused", () => {
    expect(issues([1])).toEqual(["body:invalid_type"])
    expect(issues(null)).toEqual(["body:invalid_type"])
  })

  it("every broken rule, one issue each, with the track's codes", () =>
    expect(issues({ email: "nope", subscribed: 1, data: { locale: 3, once: { value: 1, persistent: false } } }).sort())
      .toEqual([
        "data.locale:invalid_type",
        "data.once:invalid_type",
        "email:invalid_email",
        "subscribed:invalid_type"
      ]))

  it("a persistent wrapped value is allowed (stored unwrapped), a one-shot one is not", () => {
    expect(issues({ data: { w: { value: 1, persistent: true } } })).toEqual([])
    expect(issues({ data: { w: { value: 1, persistent: false } } })).toEqual(["data.w:invalid_type"])
  })

  it("data must be an object", () => expect(issues({ data: "x" })).toEqual(["data:invalid_type"]))
})
