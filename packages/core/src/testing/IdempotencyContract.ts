/**
 * The store contract of idempotency records and multi-stream appends (behaviour §6, §8), and of the
 * track commands built on them. Part of the store contract suite (`StoreContract.run`), so every
 * store runs it.
 */
import { describe, expect } from "@effect/vitest"
import type { Vitest } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as CommandHandler from "../CommandHandler.js"
import * as Contact from "../Contact.js"
import * as ContactEvent from "../ContactEvent.js"
import * as Contacts from "../Contacts.js"
import * as EventStore from "../EventStore.js"
import * as Idempotency from "../Idempotency.js"
import * as Ids from "../Ids.js"
import type * as Projects from "../Projects.js"
import * as Track from "../Track.js"
import * as TrackBatch from "../TrackBatch.js"
import * as TrackCommand from "../TrackCommand.js"
import * as NewContact from "./NewContact.js"

type Services =
  | EventStore.EventStore
  | Contacts.Contacts
  | Projects.Projects
  | Ids.Ids
  | Track.Track
  | CommandHandler.CommandHandler

const newProject = Effect.flatMap(Ids.Ids, (ids) => ids.next)

const command = (body: TrackCommand.Encoded) => Either.getOrThrow(TrackCommand.decode(body))

// A new contact's first append, decided by hand: its id, and what `appendAll` takes.
const newContact = (projectId: string, email: string) =>
  NewContact.firstAppend(projectId, email, [
    ContactEvent.EventTracked.make({ name: "signup", data: {}, at: new Date() })
  ])

const record = (
  projectId: string,
  key: string,
  contactIds: ReadonlyArray<string>,
  createdAt = new Date()
): Idempotency.Record => ({
  projectId,
  key,
  fingerprint: "f".repeat(64),
  answer: { status: 200, body: `{"answer":"${key}","ü":"\\u0000 é"}` },
  contactIds,
  createdAt
})

const answer = (result: Track.KeyedResult): Idempotency.Answer => ({ status: 200, body: JSON.stringify(result) })

/** The tests, for the `it` of a store's contract layer. */
export const tests = (it: Vitest.MethodsNonLive<Services, true>) => {
  describe("appendAll and idempotency records", () => {
    it.effect("appends to several streams and stores the record, all together", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const projectId = yield* newProject
        const a = yield* newContact(projectId, "all-a@example.com")
        const b = yield* newContact(projectId, "all-b@example.com")
        const stored = record(projectId, "key-1", [a.contactId, b.contactId])
        yield* store.appendAll({ appends: [a.append, b.append], idempotency: stored })
        expect((yield* store.readStream(a.contactId)).map((r) => r.version)).toEqual([1, 2])
        expect((yield* store.readStream(b.contactId)).map((r) => r.version)).toEqual([1, 2])
        const found = yield* store.findIdempotency(projectId, "key-1", new Date(0))
        expect(Option.getOrThrow(found)).toMatchObject({
          projectId,
          key: "key-1",
          fingerprint: stored.fingerprint,
          answer: stored.answer
        })
        expect([...Option.getOrThrow(found).contactIds].sort()).toEqual([a.contactId, b.contactId].sort())
        // Scoped by project: the same key of another project is another key.
        expect(Option.isNone(yield* store.findIdempotency(yield* newProject, "key-1", new Date(0)))).toBe(true)
      }))

    it.effect("a stale stream fails the whole: no stream moves and no record is stored", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const contacts = yield* Contacts.Contacts
        const projectId = yield* newProject
        const a = yield* newContact(projectId, "stale-a@example.com")
        const b = yield* newContact(projectId, "stale-b@example.com")
        yield* store.append(b.append)
        const error = yield* Effect.flip(
          store.appendAll({
            appends: [a.append, b.append],
            idempotency: record(projectId, "stale", [a.contactId, b.contactId])
          })
        )
        expect(error._tag).toBe("ConcurrencyConflict")
        expect(yield* store.readStream(a.contactId)).toEqual([])
        expect(Option.isNone(yield* contacts.findByEmail(projectId, "stale-a@example.com"))).toBe(true)
        expect(Option.isNone(yield* store.findIdempotency(projectId, "stale", new Date(0)))).toBe(true)
        // One stale stream alone (the group-commit path): its key is not stored either.
        const alone = yield* Effect.flip(
          store.appendAll({ appends: [b.append], idempotency: record(projectId, "stale-one", [b.contactId]) })
        )
        expect(alone._tag).toBe("ConcurrencyConflict")
        expect(Option.isNone(yield* store.findIdempotency(projectId, "stale-one", new Date(0)))).toBe(true)
        expect((yield* store.readStream(b.contactId)).map((r) => r.version)).toEqual([1, 2])
      }))

    it.effect("two streams of one call that start with one email conflict, and nothing of either is written", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const contacts = yield* Contacts.Contacts
        const projectId = yield* newProject
        // One contact per email holds within a call as between calls (behaviour §1.4).
        const a = yield* newContact(projectId, "twin@example.com")
        const b = yield* newContact(projectId, "twin@example.com")
        const error = yield* Effect.flip(
          store.appendAll({
            appends: [a.append, b.append],
            idempotency: record(projectId, "twins", [a.contactId, b.contactId])
          })
        )
        expect(error._tag).toBe("ConcurrencyConflict")
        expect(yield* store.readStream(a.contactId)).toEqual([])
        expect(yield* store.readStream(b.contactId)).toEqual([])
        expect(Option.isNone(yield* contacts.findByEmail(projectId, "twin@example.com"))).toBe(true)
        expect(Option.isNone(yield* store.findIdempotency(projectId, "twins", new Date(0)))).toBe(true)
        // Either one alone starts as usual.
        yield* store.appendAll({ appends: [b.append] })
        expect(Option.getOrThrow(yield* contacts.findByEmail(projectId, "twin@example.com")).id).toBe(b.contactId)
      }))

    it.effect("a key already stored fails the append with reason idempotency and writes none of its events", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const projectId = yield* newProject
        const a = yield* newContact(projectId, "taken-a@example.com")
        const b = yield* newContact(projectId, "taken-b@example.com")
        const c = yield* newContact(projectId, "taken-c@example.com")
        // One stream: the group-commit path; two: the transaction path.
        yield* store.appendAll({ appends: [a.append], idempotency: record(projectId, "taken", [a.contactId]) })
        const one = yield* Effect.flip(
          store.appendAll({ appends: [b.append], idempotency: record(projectId, "taken", [b.contactId]) })
        )
        expect(one).toMatchObject({ _tag: "ConcurrencyConflict" })
        const two = yield* Effect.flip(
          store.appendAll({
            appends: [b.append, c.append],
            idempotency: record(projectId, "taken", [b.contactId, c.contactId])
          })
        )
        expect(two).toMatchObject({ _tag: "ConcurrencyConflict" })
        expect(yield* store.readStream(b.contactId)).toEqual([])
        expect(yield* store.readStream(c.contactId)).toEqual([])
        expect(Option.getOrThrow(yield* store.findIdempotency(projectId, "taken", new Date(0))).contactIds).toEqual([
          a.contactId
        ])
      }))

    it.effect("an expired record is not found, and its key can be stored again; expiry removes only old records", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const projectId = yield* newProject
        const old = new Date(Date.now() - 3_600_000)
        const a = yield* newContact(projectId, "expired-a@example.com")
        const b = yield* newContact(projectId, "expired-b@example.com")
        const made = record(projectId, "old", [a.contactId], old)
        yield* store.appendAll({ appends: [a.append], idempotency: made })
        // Found exactly while `Idempotency.isLive` says so, at the boundary too (a PostgreSQL store
        // applies the rule inside its lookup); the last lookup, past it, removes the record.
        for (const offset of [-1, 0, 1]) {
          const notBefore = new Date(old.getTime() + offset)
          const found = yield* store.findIdempotency(projectId, "old", notBefore)
          expect([offset, Option.isSome(found)]).toEqual([offset, Idempotency.isLive(made, notBefore)])
        }
        expect(Option.isNone(yield* store.findIdempotency(projectId, "old", new Date(0)))).toBe(true)
        yield* store.appendAll({ appends: [b.append], idempotency: record(projectId, "old", [b.contactId]) })
        expect(Option.getOrThrow(yield* store.findIdempotency(projectId, "old", new Date(0))).contactIds).toEqual([
          b.contactId
        ])

        const c = yield* newContact(projectId, "expired-c@example.com")
        yield* store.appendAll({ appends: [c.append], idempotency: record(projectId, "older", [c.contactId], old) })
        // Expiry removes only what `Idempotency.isLive` no longer keeps: a record made at `before` stays.
        yield* store.expireIdempotency(old)
        expect(Option.isSome(yield* store.findIdempotency(projectId, "older", new Date(0)))).toBe(true)
        const removed = yield* store.expireIdempotency(new Date(old.getTime() + 1))
        expect(removed).toBeGreaterThanOrEqual(1)
        expect(Option.isNone(yield* store.findIdempotency(projectId, "older", new Date(0)))).toBe(true)
        expect(Option.isSome(yield* store.findIdempotency(projectId, "old", new Date(0)))).toBe(true)
      }))
  })

  describe("Track with an idempotency key", () => {
    it.effect("the same key and body replays the stored answer and appends nothing; another body is refused", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const store = yield* EventStore.EventStore
        const projectId = yield* newProject
        const cmd = command({ email: "idem@example.com", event: "purchase", data: { n: 1 } })
        const first = yield* track.trackIdempotent(projectId, cmd, { key: "k", fingerprint: "one", render: answer })
        expect(first._tag).toBe("Done")
        const again = yield* track.trackIdempotent(projectId, cmd, { key: "k", fingerprint: "one", render: answer })
        expect(again).toEqual({ _tag: "Replayed", answer: first.answer })
        const reused = yield* Effect.flip(
          track.trackIdempotent(projectId, cmd, { key: "k", fingerprint: "two", render: answer })
        )
        expect(reused._tag).toBe("IdempotencyKeyReused")
        const contactId = (first as { result: Track.TrackResult }).result.contact
        const stream = yield* store.readStream(contactId)
        expect(stream.filter((r) => r.event._tag === "EventTracked")).toHaveLength(1)
      }))

    it.effect("50 concurrent requests with one key append once; every other one replays", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const store = yield* EventStore.EventStore
        const projectId = yield* newProject
        const cmd = command({ email: "burst@example.com", event: "purchase" })
        const outcomes = yield* Effect.forEach(
          Array.from({ length: 50 }, () => cmd),
          (c) => track.trackIdempotent(projectId, c, { key: "burst", fingerprint: "same", render: answer }),
          { concurrency: "unbounded" }
        )
        expect(outcomes.filter((o) => o._tag === "Done")).toHaveLength(1)
        const done = outcomes.find((o) => o._tag === "Done")!
        for (const o of outcomes) expect(o.answer).toEqual(done.answer)
        const contactId = (done as { result: Track.TrackResult }).result.contact
        expect((yield* store.readStream(contactId)).filter((r) => r.event._tag === "EventTracked")).toHaveLength(1)
      }))
  })

  describe("Track batches", () => {
    it.effect("valid items apply in order and commit together; invalid ones are rejected alone", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const contacts = yield* Contacts.Contacts
        const store = yield* EventStore.EventStore
        const projectId = yield* newProject
        const items = Either.getOrThrow(TrackBatch.decode({
          events: [
            { email: "batch@example.com", event: "first", subscribed: false, data: { plan: "free" } },
            { email: "not an email", event: "x" },
            { email: "BATCH@example.com", event: "second", subscribed: true, data: { plan: "pro" } },
            { email: "other@example.com", event: "email.sent" },
            { email: "other@example.com", event: "third" }
          ]
        }))
        const outcome = yield* track.trackBatch(projectId, items)
        if (outcome._tag !== "Done") throw new Error("expected Done")
        const result = outcome.result
        expect(result.accepted).toBe(3)
        expect(result.rejected).toBe(2)
        expect(result.items.map((i) => i._tag)).toEqual(["Accepted", "Rejected", "Accepted", "Rejected", "Accepted"])
        const [first, , second] = result.items as Array<Extract<TrackBatch.ItemResult, { _tag: "Accepted" }>>
        expect(second!.contact).toBe(first!.contact)
        const contact = Option.getOrThrow(yield* contacts.findByEmail(projectId, "batch@example.com"))
        expect(contact).toMatchObject({ subscribed: true, data: { plan: "pro" } })
        const stream = yield* store.readStream(contact.id)
        expect(stream.map((r) => ContactEvent.visibleName(r.event) ?? r.event._tag)).toEqual([
          "ContactCreated",
          "ContactDataChanged",
          "first",
          "contact.subscribed",
          "ContactDataChanged",
          "second"
        ])
        // Each item answers its own event's id, also when a later item is for the same contact.
        const idOf = (name: string) => stream.find((r) => ContactEvent.visibleName(r.event) === name)!.id
        expect([first!.event, second!.event]).toEqual([idOf("first"), idOf("second")])
        expect(Contact.fold(stream.map((r) => r.event))).toEqual(contact)
      }))

    it.effect("a batch that loses a race on one of its contacts is decided again as a whole", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const contacts = yield* Contacts.Contacts
        const projectId = yield* newProject
        const emails = Array.from({ length: 20 }, (_, i) => `racer${i}@example.com`)
        const batch = emails.map((email) => Either.right(command({ email, event: "batch", data: { n: 1 } })))
        // Single tracks on the same contacts run at the same time as the batches.
        yield* Effect.all([
          Effect.forEach([1, 2, 3], () => track.trackBatch(projectId, batch), { concurrency: "unbounded" }),
          Effect.forEach(emails, (email) => track.track(projectId, command({ email, event: "single" })), {
            concurrency: "unbounded"
          })
        ], { concurrency: "unbounded" })
        const store = yield* EventStore.EventStore
        for (const email of emails) {
          const contact = Option.getOrThrow(yield* contacts.findByEmail(projectId, email))
          const stream = yield* store.readStream(contact.id)
          expect(
            stream.filter((r) => r.event._tag === "EventTracked").map((r) =>
              (r.event as ContactEvent.EventTracked).name
            ).sort()
          )
            .toEqual(["batch", "batch", "batch", "single"])
          expect(Contact.fold(stream.map((r) => r.event))).toEqual(contact)
        }
      }))

    it.effect("overlapping batches in opposite orders and single tracks on their contacts: nothing lost, no duplicates", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const contacts = yield* Contacts.Contacts
        const store = yield* EventStore.EventStore
        const projectId = yield* newProject
        const emails = Array.from({ length: 12 }, (_, i) => `overlap${i}@example.com`)
        // Each batch takes a different slice, forwards or backwards, with one email twice.
        const batches = Array.from({ length: 8 }, (_, b) => {
          const slice = emails.slice(b % 4, (b % 4) + 8)
          const ordered = b % 2 === 0 ? slice : [...slice].reverse()
          return [...ordered, ordered[0]!].map((email, i) =>
            Either.right(command({ email, event: `b${b}`, data: { [`b${b}`]: i } }))
          )
        })
        yield* Effect.all([
          Effect.forEach(batches, (batch) => track.trackBatch(projectId, batch), { concurrency: "unbounded" }),
          Effect.forEach(emails, (email) => track.track(projectId, command({ email, event: "single" })), {
            concurrency: "unbounded"
          })
        ], { concurrency: "unbounded" })
        const page = yield* contacts.list(projectId, { limit: 100 })
        expect(page.data.map((c) => c.email).sort()).toEqual([...emails].sort())
        let trackedCount = 0
        for (const contact of page.data) {
          const stream = yield* store.readStream(contact.id)
          expect(stream.map((r) => r.version)).toEqual(stream.map((_, i) => i + 1))
          trackedCount += stream.filter((r) => r.event._tag === "EventTracked").length
          expect(Contact.fold(stream.map((r) => r.event))).toEqual(contact)
        }
        expect(trackedCount).toBe(batches.length * 9 + emails.length)
      }))

    it.effect("a batch with a key is stored once and replayed", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const contacts = yield* Contacts.Contacts
        const projectId = yield* newProject
        const items = [
          Either.right(command({ email: "kb1@example.com", event: "e" })),
          Either.right(command({ email: "kb2@example.com", event: "e" }))
        ]
        const render = (r: TrackBatch.Result) => ({ status: 200, body: JSON.stringify(r) })
        const first = yield* track.trackBatch(projectId, items, { key: "batch-key", fingerprint: "fp", render })
        const again = yield* track.trackBatch(projectId, items, { key: "batch-key", fingerprint: "fp", render })
        expect(first._tag).toBe("Done")
        expect(again).toEqual({ _tag: "Replayed", answer: first.answer })
        const page = yield* contacts.list(projectId, { limit: 10 })
        expect(page.data).toHaveLength(2)
        for (const contact of page.data) expect(contact.version).toBe(2)
      }))
  })
}
