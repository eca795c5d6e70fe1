import { describe, expect, it } from "@effect/vitest"
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import { context, given } from "@tracklog/core/testing/DeciderSpecification"

const at = context.now
const earlier = new Date("2025-12-31T00:00:00.000Z")
const created = (subscribed = true, email = "ada@example.com") =>
  ContactEvent.ContactCreated.make({
    contactId: context.contactId,
    projectId: context.projectId,
    email,
    subscribed,
    at: earlier
  })
const dataChanged = (set: Record<string, unknown>, unset: Array<string> = []) =>
  ContactEvent.ContactDataChanged.make({ set: set as never, unset, at })
const tracked = (name: string, data: Record<string, unknown> = {}) =>
  ContactEvent.EventTracked.make({ name, data: data as never, at })
const newContact = (subscribed = true, email = "ada@example.com") =>
  ContactEvent.ContactCreated.make({
    contactId: context.contactId,
    projectId: context.projectId,
    email,
    subscribed,
    at
  })

describe("decide: contact upsert and subscription (behaviour §1.4)", () => {
  it("a new contact is created, subscribed by default", () =>
    given([]).when({ email: "ada@example.com", event: "signup" }).then([newContact(true), tracked("signup")]))

  it("a new contact takes an explicit subscribed value, and creation records no subscription event", () =>
    given([]).when({ email: "ada@example.com", event: "signup", subscribed: false }).then([
      newContact(false),
      tracked("signup")
    ]))

  it("preserveExistingSubscription still applies subscribed to a contact this request creates", () =>
    given([]).when({ email: "ada@example.com", event: "e", subscribed: false, preserveExistingSubscription: true })
      .then([newContact(false), tracked("e")]))

  it("the email is canonical: trimmed and lowercased", () =>
    given([]).when({ email: "  Ada@Example.COM ", event: "e" }).then([
      newContact(true, "ada@example.com"),
      tracked("e")
    ]))

  it("an existing contact keeps its state when subscribed is omitted (omitting is not false)", () =>
    given([created(false)]).when({ email: "ada@example.com", event: "e" }).then([tracked("e")]))

  it("an explicit flip records contact.unsubscribed before the tracked event", () =>
    given([created(true)]).when({ email: "ada@example.com", event: "e", subscribed: false }).then([
      ContactEvent.SubscriptionChanged.make({ subscribed: false, at }),
      tracked("e")
    ]))

  it("an explicit flip records contact.subscribed before the tracked event", () =>
    given([created(false)]).when({ email: "ada@example.com", event: "e", subscribed: true }).then([
      ContactEvent.SubscriptionChanged.make({ subscribed: true, at }),
      tracked("e")
    ]))

  it("no flip, no system event", () =>
    given([created(true)]).when({ email: "ada@example.com", event: "e", subscribed: true }).then([tracked("e")]))

  it("preserveExistingSubscription keeps an existing contact's state whatever subscribed says", () =>
    given([created(false)]).when({
      email: "ada@example.com",
      event: "e",
      subscribed: true,
      preserveExistingSubscription: true
    })
      .then([tracked("e")]))

  it("preserveExistingSubscription: false lets subscribed apply", () =>
    given([created(false)]).when({
      email: "ada@example.com",
      event: "e",
      subscribed: true,
      preserveExistingSubscription: false
    })
      .then([ContactEvent.SubscriptionChanged.make({ subscribed: true, at }), tracked("e")]))
})

describe("decide: data merge (behaviour §1.5)", () => {
  const withData = (
    data: Record<string, unknown>
  ) => [created(), ContactEvent.ContactDataChanged.make({ set: data as never, unset: [], at: earlier })]

  it("reserved keys are dropped silently", () => {
    const data = {
      id: 1,
      email: "x@y.z",
      subscribed: false,
      createdAt: 1,
      updatedAt: 1,
      plunk_id: 1,
      plunk_email: 1,
      unsubscribeUrl: 1,
      subscribeUrl: 1,
      manageUrl: 1,
      plan: "pro"
    }
    given([created()]).when({ email: "ada@example.com", event: "e", data }).then([
      dataChanged({ plan: "pro" }),
      tracked("e", data)
    ])
  })

  it("an empty string is ignored: the existing value is kept and no key is added", () =>
    given(withData({ name: "Ada" })).when({ email: "ada@example.com", event: "e", data: { name: "", other: "" } })
      .then([tracked("e", { name: "", other: "" })]))

  it("null deletes the key", () =>
    given(withData({ name: "Ada", plan: "pro" })).when({ email: "ada@example.com", event: "e", data: { name: null } })
      .then([dataChanged({}, ["name"]), tracked("e", { name: null })]))

  it("null for a key the contact does not have changes nothing", () =>
    given(withData({ plan: "pro" })).when({ email: "ada@example.com", event: "e", data: { ghost: null } })
      .then([tracked("e", { ghost: null })]))

  it("a one-shot { value, persistent: false } is kept on the event only", () =>
    given([created()]).when({
      email: "ada@example.com",
      event: "e",
      data: { orderId: { value: "o-1", persistent: false } }
    })
      .then([tracked("e", { orderId: { value: "o-1", persistent: false } })]))

  it("{ value, persistent: true } is stored unwrapped", () =>
    given([created()]).when({
      email: "ada@example.com",
      event: "e",
      data: { plan: { value: "pro", persistent: true } }
    })
      .then([dataChanged({ plan: "pro" }), tracked("e", { plan: { value: "pro", persistent: true } })]))

  it("an object with other keys than value and persistent is stored as is", () =>
    given([created()]).when({
      email: "ada@example.com",
      event: "e",
      data: { o: { value: 1, persistent: false, x: 1 } }
    })
      .then([
        dataChanged({ o: { value: 1, persistent: false, x: 1 } }),
        tracked("e", { o: { value: 1, persistent: false, x: 1 } })
      ]))

  it("anything else replaces the old value whole (no deep merge)", () =>
    given(withData({ address: { city: "Paris", zip: "75001" } }))
      .when({ email: "ada@example.com", event: "e", data: { address: { city: "Lyon" }, tags: ["a"], n: 0, ok: false } })
      .then([
        dataChanged({ address: { city: "Lyon" }, tags: ["a"], n: 0, ok: false }),
        tracked("e", { address: { city: "Lyon" }, tags: ["a"], n: 0, ok: false })
      ]))

  it("a value equal to the stored one is no change", () =>
    given(withData({ plan: "pro" })).when({ email: "ada@example.com", event: "e", data: { plan: "pro" } })
      .then([tracked("e", { plan: "pro" })]))

  it("keys are literal: a dot is not a path", () =>
    given([created()]).when({ email: "ada@example.com", event: "e", data: { "a.b": 1 } })
      .then([dataChanged({ "a.b": 1 }), tracked("e", { "a.b": 1 })]))

  it("locale that is neither a string nor null is rejected at data.locale", () =>
    given([]).when({ email: "ada@example.com", event: "e", data: { locale: 5 } })
      .thenRejects([{ field: "data.locale", code: "invalid_type" }]))

  it("locale as a string or null is accepted", () => {
    given([created()]).when({ email: "ada@example.com", event: "e", data: { locale: "fr" } })
      .then([dataChanged({ locale: "fr" }), tracked("e", { locale: "fr" })])
    given(withData({ locale: "fr" })).when({ email: "ada@example.com", event: "e", data: { locale: null } })
      .then([dataChanged({}, ["locale"]), tracked("e", { locale: null })])
  })
})

describe("decide: the tracked event (behaviour §1.6)", () => {
  it("every call records a new event, even one identical to the last", () =>
    given([created(), tracked("e", { a: 1 })]).when({ email: "ada@example.com", event: "e", data: { a: 1 } })
      .then([dataChanged({ a: 1 }), tracked("e", { a: 1 })]))

  it("the event name is stored verbatim: not trimmed, case kept", () =>
    given([created()]).when({ email: "ada@example.com", event: "  Signed Up " }).then([tracked("  Signed Up ")]))

  it("the event keeps the full data as sent, reserved keys and one-shots included", () => {
    const data = { email: "x", o: { value: 1, persistent: false }, k: "" }
    given([created()]).when({ email: "ada@example.com", event: "e", data }).then([tracked("e", data)])
  })
})

describe("validation (behaviour §1.2, §1.3)", () => {
  const ok = { email: "ada@example.com", event: "e" }

  it("email is required, must be a string and a valid address", () => {
    given([]).when({ event: "e" }).thenRejects([{ field: "email", code: "required" }])
    given([]).when({ ...ok, email: 42 }).thenRejects([{ field: "email", code: "invalid_type" }])
    for (
      const email of ["", "   ", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "ada@@example.com"]
    ) {
      given([]).when({ ...ok, email }).thenRejects([{ field: "email", code: "invalid_email" }])
    }
  })

  it("email is at most 254 characters after trimming", () => {
    const long = `${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}.com`
    expect(long.length).toBeGreaterThan(254)
    given([]).when({ ...ok, email: long }).thenRejects([{ field: "email", code: "too_long" }])
    const exact = `${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(58)}.io`
    expect(exact.length).toBe(254)
    given([]).when({ ...ok, email: `  ${exact}  ` }).then([newContact(true, exact), tracked("e")])
  })

  it("event is required: a string of 1 to 256 characters, not all whitespace", () => {
    given([]).when({ email: "ada@example.com" }).thenRejects([{ field: "event", code: "required" }])
    given([]).when({ ...ok, event: 1 }).thenRejects([{ field: "event", code: "invalid_type" }])
    given([]).when({ ...ok, event: "" }).thenRejects([{ field: "event", code: "too_short" }])
    given([]).when({ ...ok, event: " \t\n" }).thenRejects([{ field: "event", code: "blank" }])
    given([]).when({ ...ok, event: "x".repeat(257) }).thenRejects([{ field: "event", code: "too_long" }])
    given([]).when({ ...ok, event: "x".repeat(256) }).then([newContact(), tracked("x".repeat(256))])
  })

  it("reserved event names are rejected with reserved_event, case-sensitively", () => {
    for (
      const event of [
        "email.sent",
        "email.",
        "contact.subscribed",
        "contact.unsubscribed",
        "segment.vip.entry",
        "segment.vip.exit",
        "segment.a.b.exit"
      ]
    ) {
      given([]).when({ ...ok, event }).thenRejects([{ field: "event", code: "reserved_event" }])
    }
    for (
      const event of [
        "Email.sent",
        "contact.created",
        "contact.Subscribed",
        "segment.vip",
        "segment.vip.entered",
        "emails.sent"
      ]
    ) {
      given([]).when({ ...ok, event }).then([newContact(), tracked(event)])
    }
  })

  it("subscribed and preserveExistingSubscription must be booleans", () =>
    given([]).when({ ...ok, subscribed: "yes", preserveExistingSubscription: 1 }).thenRejects([
      { field: "subscribed", code: "invalid_type" },
      { field: "preserveExistingSubscription", code: "invalid_type" }
    ]))

  it("data must be an object: an array, string, number or null is rejected", () => {
    for (const data of [[1], "x", 3, null, true]) {
      given([]).when({ ...ok, data }).thenRejects([{ field: "data", code: "invalid_type" }])
    }
  })

  it("a body that is not an object is rejected", () => {
    for (const body of [[], "x", 1, null]) given([]).when(body).thenRejects([{ field: "body", code: "invalid_type" }])
  })

  it("unknown top-level fields are ignored", () =>
    given([]).when({ ...ok, extra: { deep: true }, project: "x" }).then([newContact(), tracked("e")]))

  it("each broken rule is one issue", () =>
    given([]).when({ email: "nope", event: "email.x", subscribed: null, data: { locale: 1 } }).thenRejects([
      { field: "email", code: "invalid_email" },
      { field: "event", code: "reserved_event" },
      { field: "subscribed", code: "invalid_type" },
      { field: "data.locale", code: "invalid_type" }
    ]))

  it("text that cannot be stored is rejected: NUL and unpaired surrogates in the event name, data keys and strings", () => {
    for (const bad of ["a\u0000b", "\ud800", "x\udfffy", "\udc00\ud800"]) {
      given([]).when({ ...ok, event: bad }).thenRejects([{ field: "event", code: "invalid_string" }])
      given([]).when({ ...ok, data: { [bad]: 1 } }).thenRejects([{ field: `data.${bad}`, code: "invalid_string" }])
      given([]).when({ ...ok, data: { k: { deep: [bad] } } }).thenRejects([{ field: "data.k", code: "invalid_string" }])
      given([]).when({ ...ok, data: { once: { value: bad, persistent: false } } }).thenRejects([{
        field: "data.once",
        code: "invalid_string"
      }])
    }
    given([]).when({ ...ok, event: "😀 \u200f\ud83d\ude00" }).then([newContact(), tracked("😀 \u200f\ud83d\ude00")])
  })

  it("every broken rule of a field is reported, not only the first", () => {
    given([]).when({ ...ok, event: "email." + "x".repeat(300) }).thenRejects([
      { field: "event", code: "too_long" },
      { field: "event", code: "reserved_event" }
    ])
    given([]).when({ ...ok, event: " ".repeat(300) }).thenRejects([
      { field: "event", code: "too_long" },
      { field: "event", code: "blank" }
    ])
    given([]).when({ ...ok, data: { k: "\u0000", locale: 1 } }).thenRejects([
      { field: "data.k", code: "invalid_string" },
      { field: "data.locale", code: "invalid_type" }
    ])
  })

  it("numbers must be finite: 1e400 parses to Infinity, which JSON cannot keep", () => {
    const data = JSON.parse('{"n":1e400,"m":{"x":[-1e999]}}')
    given([]).when({ ...ok, data }).thenRejects([{ field: "data.n", code: "invalid_number" }])
    given([]).when({ ...ok, data: { m: [1.5e300] } }).then([
      newContact(),
      dataChanged({ m: [1.5e300] }),
      tracked("e", { m: [1.5e300] })
    ])
  })

  it("data limits: key count, key length, nesting depth, size", () => {
    const many = Object.fromEntries(Array.from({ length: 513 }, (_, i) => [`k${i}`, i]))
    given([]).when({ ...ok, data: many }).thenRejects([{ field: "data", code: "too_many_keys" }])
    const longKey = "k".repeat(257)
    given([]).when({ ...ok, data: { [longKey]: 1 } }).thenRejects([{ field: `data.${longKey}`, code: "key_too_long" }])
    let deep: unknown = 1
    for (let i = 0; i < 16; i++) deep = [deep]
    given([]).when({ ...ok, data: { deep } }).then([newContact(), dataChanged({ deep }), tracked("e", { deep })])
    given([]).when({ ...ok, data: { deep: [deep] } }).thenRejects([{ field: "data", code: "too_deep" }])
    given([]).when({ ...ok, data: { big: "x".repeat(600 * 1024) } }).thenRejects([{ field: "data", code: "too_large" }])
  })
})

describe("evolve: the contact's data", () => {
  it("a __proto__ key is plain data: set, replaced in place, unset, and never a prototype", () => {
    const json = (text: string) => JSON.parse(text) as never
    let state = Contact.fold([
      created(),
      ContactEvent.ContactDataChanged.make({ set: json(`{"a":1,"__proto__":{"polluted":true},"b":2}`), unset: [], at })
    ])!
    expect(Object.getPrototypeOf(state.data)).toBe(Object.prototype)
    expect(JSON.stringify(state.data)).toBe(`{"a":1,"__proto__":{"polluted":true},"b":2}`)
    state = Contact.evolve(
      state,
      ContactEvent.ContactDataChanged.make({ set: json(`{"__proto__":3,"c":4}`), unset: ["a"], at })
    )!
    expect(JSON.stringify(state.data)).toBe(`{"__proto__":3,"b":2,"c":4}`)
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined()
    state = Contact.evolve(state, ContactEvent.ContactDataChanged.make({ set: json(`{}`), unset: ["__proto__"], at }))!
    expect(JSON.stringify(state.data)).toBe(`{"b":2,"c":4}`)
    expect(Object.getPrototypeOf(state.data)).toBe(Object.prototype)
  })
})
