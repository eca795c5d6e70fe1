import { describe, expect, it } from "@effect/vitest"
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as ContactUpdate from "@tracklog/core/ContactUpdate"
import * as Json from "@tracklog/core/Json"
import * as Arbitraries from "@tracklog/core/testing/Arbitraries"
import { context } from "@tracklog/core/testing/DeciderSpecification"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as TrackDecider from "@tracklog/core/TrackDecider"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"

// The merge table of behaviour §1.5, written as plainly as possible, as the model `decide` + `evolve` must match.
const referenceMerge = (current: Map<string, unknown>, incoming: Record<string, unknown>) => {
  for (const [key, value] of Object.entries(incoming)) {
    if (TrackCommand.ReservedDataKeys.has(key)) continue
    if (value === "") continue
    if (value === null) current.delete(key)
    else if (
      typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 2 &&
      "value" in value && "persistent" in value && typeof value.persistent === "boolean"
    ) {
      if (value.persistent) current.set(key, value.value)
    } else current.set(key, value)
  }
}

const run = (bodies: ReadonlyArray<unknown>) => {
  let state: Contact.State = Contact.initialState
  const events: Array<ContactEvent.ContactEvent> = []
  for (const body of bodies) {
    const command = Either.getOrThrow(TrackCommand.decode(body))
    const decided = TrackDecider.decide(command, state, context)
    events.push(...decided)
    state = Contact.fold(decided, state)
  }
  return { state: state!, events }
}

// Bodies near the rules' edges: valid requests with fields swapped for hostile values.
const edgyBody = FastCheck.tuple(
  Arbitraries.request(["ada@example.com", " Ada@Example.COM ", "a@b"]),
  FastCheck.constantFrom("email", "event", "subscribed", "preserveExistingSubscription", "data", "none"),
  FastCheck.oneof(
    FastCheck.jsonValue({ maxDepth: 2 }),
    FastCheck.constantFrom(
      "",
      " ",
      "email.x",
      "segment.a.exit",
      "x".repeat(257),
      " ".repeat(300),
      "a\u0000b",
      "\ud800",
      "a@b.co",
      { locale: 1 },
      { locale: null },
      { n: Infinity },
      { "k\u0000": 1, locale: 2 },
      undefined
    )
  )
).map(([body, field, value]) => (field === "none" ? body : { ...body, [field]: value }))

describe("properties", () => {
  it.prop(
    "decode agrees with the schema: the same command for valid bodies, a rejection for the rest",
    [edgyBody],
    ([body]) => {
      const fast = Either.getOrUndefined(TrackCommand.decode(body))
      const slow = Schema.decodeUnknownEither(TrackCommand.TrackCommand, { onExcessProperty: "ignore" })(body)
      if (Either.isRight(slow)) expect(fast).toEqual(slow.right)
      else expect(fast).toBeUndefined()
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop(
    "decode ∘ encode is the identity for every event, also through JSON text",
    [ContactEvent.ContactEvent],
    ([event]) => {
      const encoded = ContactEvent.encode(event)
      const decoded = ContactEvent.decode(JSON.parse(JSON.stringify(encoded)))
      expect(ContactEvent.encode(decoded)).toEqual(encoded)
      expect(decoded).toEqual(event)
    }
  )

  it.prop("the rule checks agree with the schema: no issue exactly when it accepts, and every issue it finds", [
    edgyBody
  ], ([body]) => {
    const decoded = Schema.decodeUnknownEither(TrackCommand.TrackCommand, {
      errors: "all",
      onExcessProperty: "ignore"
    })(body)
    const checked = TrackCommand.check(body)
    expect(checked.length === 0).toBe(Either.isRight(decoded))
    if (Either.isLeft(decoded)) {
      for (const found of TrackCommand.issuesOf(decoded.left.issue)) {
        expect(checked.map((i) => `${i.field} ${i.code}`)).toContain(`${found.field} ${found.code}`)
      }
    }
  }, { fastCheck: { numRuns: 500 } })

  it.prop("the fast event decode agrees with the schema, also on damaged encodings", [
    ContactEvent.ContactEvent,
    FastCheck.constantFrom("none", "_tag", "at", "name", "data", "unset", "subscribed", "email"),
    FastCheck.jsonValue({ maxDepth: 1 })
  ], ([event, field, value]) => {
    const encoded: Record<string, unknown> = { ...ContactEvent.encode(event) }
    if (field !== "none") encoded[field] = value
    // The schema may throw on exotic values (an object whose toString is not a function): a rejection too.
    const slow = Either.try(() => Schema.decodeUnknownSync(ContactEvent.ContactEvent)(encoded))
    const fast = ContactEvent.decodeWellFormed(encoded)
    if (Either.isRight(slow)) expect(fast).toEqual(slow.right)
    else expect(fast).toBeUndefined()
  }, { fastCheck: { numRuns: 500 } })

  it.prop(
    "encode agrees with the schema's encoding, key order included",
    [Schema.Array(ContactEvent.ContactEvent)],
    ([events]) => {
      // In a row, as appends encode them: each time follows itself, then comes back after others.
      for (const event of [...events, ...events].flatMap((e) => [e, e])) {
        const fast = ContactEvent.encode(event)
        const slow = Schema.encodeSync(ContactEvent.ContactEvent)(event)
        expect(fast).toEqual(slow)
        expect(JSON.stringify(fast)).toBe(JSON.stringify(slow))
      }
    }
  )

  it.prop(
    "the trusted constructors build what the class constructors build",
    [ContactEvent.ContactEvent],
    ([event]) => {
      const { _tag, ...fields } = event
      const made: ContactEvent.ContactEvent =
        (ContactEvent.trusted[_tag] as (f: typeof fields) => ContactEvent.ContactEvent)(fields)
      const constructed = Schema.decodeUnknownSync(ContactEvent.ContactEvent)(ContactEvent.encode(event))
      expect(Object.getPrototypeOf(made)).toBe(Object.getPrototypeOf(constructed))
      expect(made).toEqual(constructed)
      expect(Equal.equals(made, event)).toBe(true)
      expect(ContactEvent.encode(made)).toEqual(ContactEvent.encode(constructed))
    }
  )

  it.prop("the merge of decide + evolve matches the reference model of behaviour §1.5", [
    FastCheck.array(Arbitraries.data, { minLength: 1, maxLength: 8 })
  ], ([patches]) => {
    const { state } = run(patches.map((data) => ({ email: "ada@example.com", event: "e", data })))
    const model = new Map<string, unknown>()
    for (const data of patches) referenceMerge(model, data)
    expect(Json.equals(state.data, Json.fromEntries(model as Map<string, Json.Json>))).toBe(true)
    // Keys in input order: new keys are appended, replaced keys keep their place.
    expect(Object.keys(state.data)).toEqual([...model.keys()])
  })

  it.prop("no reserved key or one-shot value ever reaches the contact", [
    FastCheck.array(Arbitraries.request(["ada@example.com"]), { minLength: 1, maxLength: 8 })
  ], ([bodies]) => {
    const { events, state } = run(bodies)
    for (const key of Object.keys(state.data)) expect(TrackCommand.ReservedDataKeys.has(key)).toBe(false)
    expect(JSON.stringify(state.data)).not.toContain(Arbitraries.OneShotMarker)
    // ... while the tracked events keep the data exactly as sent.
    const trackedData = events.flatMap((e) => (e._tag === "EventTracked" ? [e.data] : []))
    expect(trackedData).toEqual(bodies.map((b) => b.data ?? {}))
  })

  it.prop("replaying the events reproduces the state, and versions count the events", [
    FastCheck.array(Arbitraries.request(["ada@example.com"]), { minLength: 1, maxLength: 8 })
  ], ([bodies]) => {
    const { events, state } = run(bodies)
    expect(Contact.fold(events)).toEqual(state)
    expect(state.version).toBe(events.length)
  })

  it.prop("subscription: a flip event exactly when an existing contact's state changes", [
    FastCheck.array(Arbitraries.request(["ada@example.com"]), { minLength: 1, maxLength: 8 })
  ], ([bodies]) => {
    let state: Contact.State = null
    for (const body of bodies) {
      const command = Either.getOrThrow(TrackCommand.decode(body))
      const decided = TrackDecider.decide(command, state, context)
      const flips = decided.filter((e) => e._tag === "SubscriptionChanged")
      if (state === null) {
        expect(flips).toEqual([])
        expect((decided[0] as ContactEvent.ContactCreated).subscribed).toBe(body.subscribed ?? true)
      } else {
        const expected = body.preserveExistingSubscription !== true && body.subscribed !== undefined &&
          body.subscribed !== state.subscribed
        expect(flips.length).toBe(expected ? 1 : 0)
      }
      state = Contact.fold(decided, state)
    }
  })

  it.prop("tracks and contact updates mixed: replay reproduces the state; an update records only what changed", [
    FastCheck.array(
      FastCheck.oneof(
        Arbitraries.request(["ada@example.com"]).map((body) => ({ _tag: "track" as const, body })),
        Arbitraries.update(["ada@example.com", "bob@example.com", "Eve@Example.com "]).map((body) => ({
          _tag: "update" as const,
          body
        }))
      ),
      { minLength: 1, maxLength: 10 }
    )
  ], ([steps]) => {
    let state: Contact.State = Contact.initialState
    const events: Array<ContactEvent.ContactEvent> = []
    for (const step of steps) {
      if (step._tag === "track") {
        // A track names the contact by its email: once the email moved, it is another contact's.
        if (state !== null && state.email !== step.body.email.trim().toLowerCase()) continue
        const decided = TrackDecider.decide(Either.getOrThrow(TrackCommand.decode(step.body)), state, context)
        events.push(...decided)
        state = Contact.fold(decided, state)
        continue
      }
      if (state === null) continue
      const command = Either.getOrThrow(ContactUpdate.decode(state.id, step.body))
      const decided = Either.getOrThrow(
        ContactUpdate.decide(command, state, { projectId: context.projectId, now: context.now, emailTaken: false })
      )
      const next = Contact.fold(decided, state)!
      // Exactly the fields that change get an event, and no tracked event is ever recorded.
      expect(decided.some((e) => e._tag === "ContactEmailChanged")).toBe(
        command.email !== undefined && command.email !== state.email
      )
      expect(decided.some((e) => e._tag === "SubscriptionChanged")).toBe(
        command.subscribed !== undefined && command.subscribed !== state.subscribed
      )
      expect(decided.some((e) => e._tag === "EventTracked")).toBe(false)
      if (decided.length === 0) expect(next).toEqual(state)
      expect(next.email).toBe(command.email ?? state.email)
      events.push(...decided)
      state = next
    }
    expect(Contact.fold(events)).toEqual(state)
    expect(state?.version ?? 0).toBe(events.length)
  })
})
