/**
 * The store contract: one suite every store package runs against its own Layer, so the memory
 * and Postgres stores make the same promises (behaviour §1.4, §3, §4).
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ApiKey from "../ApiKey.js"
import * as Contact from "../Contact.js"
import * as ContactEvent from "../ContactEvent.js"
import * as Contacts from "../Contacts.js"
import * as Commands from "../Commands.js"
import * as EventStore from "../EventStore.js"
import * as Ids from "../Ids.js"
import * as Projects from "../Projects.js"
import type * as Store from "../Store.js"
import * as Track from "../Track.js"
import * as Arbitraries from "./Arbitraries.js"
import * as IdempotencyContract from "./IdempotencyContract.js"
import * as ErasureContract from "./ErasureContract.js"
import * as NewContact from "./NewContact.js"
import * as UnknownProjectContract from "./UnknownProjectContract.js"
import * as FastCheck from "effect/FastCheck"
import * as TrackCommand from "../TrackCommand.js"

const command = (body: TrackCommand.Encoded) => Either_getOrThrow(TrackCommand.decode(body))
const Either_getOrThrow = <A, E>(e: import("effect/Either").Either<A, E>): A => {
  if (e._tag === "Left") throw e.left
  return e.right
}

const newProject = Effect.map(Ids.Ids, (ids) => ids.next).pipe(Effect.flatten)

/** Appends a `ContactCreated` stream for a fresh contact, returning its id and events. */
export const createContact = (projectId: string, email: string, extra: ReadonlyArray<ContactEvent.ContactEvent> = []) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    const { append, contactId, events } = yield* NewContact.firstAppend(projectId, email, extra)
    yield* store.append(append)
    return { contactId, events }
  })

/** An `EventTracked` at the current time. */
export const tracked = (name: string, data: Record<string, unknown> = {}) =>
  ContactEvent.EventTracked.make({ name, data: data as never, at: new Date() })

/** Reads the whole log from the start, page by page. */
export const readAllFrom = (checkpoint: EventStore.Checkpoint, pageSize = 1000) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    const all: Array<EventStore.RecordedEvent> = []
    let at = checkpoint
    while (true) {
      const batch = yield* store.readAll(at, pageSize)
      all.push(...batch.events)
      if (batch.events.length < pageSize) return { events: all, checkpoint: batch.checkpoint }
      at = batch.checkpoint
    }
  })

/**
 * Reads from the checkpoint until at least `count` events are visible (or 10 s pass). A store
 * may hold back committed events while an older transaction anywhere on its server is still
 * open — that is what keeps readers from skipping — so a reader polls.
 */
export const readAllUntil = (
  checkpoint: EventStore.Checkpoint,
  done: number | ((events: ReadonlyArray<EventStore.RecordedEvent>) => boolean),
  pageSize = 1000
) =>
  Effect.gen(function*() {
    // Generous: a long transaction anywhere on the server holds back what readers see (behaviour §4).
    const deadline = Date.now() + 30_000
    const isDone = typeof done === "number" ? (events: ReadonlyArray<unknown>) => events.length >= done : done
    while (true) {
      const read = yield* readAllFrom(checkpoint, pageSize)
      if (isDone(read.events) || Date.now() > deadline) return read
      yield* Effect.sleep("10 millis")
    }
  })

/** Runs the contract suite against a store layer. */
export const run = <E>(name: string, store: Layer.Layer<Store.Ports, E>) =>
  layer(
    Commands.layer.pipe(Layer.provideMerge(Ids.layer), Layer.provideMerge(store)),
    {
      excludeTestServices: true
    }
  )(`store contract: ${name}`, (it) => {
    describe("append", () => {
      it.effect("a new stream gets contiguous versions 1..n and reads back in order", () =>
        Effect.gen(function*() {
          const projectId = yield* newProject
          const { contactId, events } = yield* createContact(projectId, "a@example.com", [tracked("a"), tracked("b")])
          const read = yield* (yield* EventStore.EventStore).readStream(contactId)
          expect(read.map((r) => r.version)).toEqual([1, 2, 3])
          expect(read.map((r) => r.event._tag)).toEqual(events.map((e) => e._tag))
          expect(read.every((r) => r.streamId === contactId)).toBe(true)
          const positions = read.map((r) => r.position)
          expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions)
        }))

      it.effect("reads give back the events as appended, untouched by what the caller changes afterwards", () =>
        Effect.gen(function*() {
          const projectId = yield* newProject
          const data = { plan: "pro", seats: 3, tags: ["a", "b"], billing: { vat: null, country: "NL" } }
          const event = tracked("purchase", data)
          const expected = structuredClone(event.data)
          const { contactId } = yield* createContact(projectId, "untouched@example.com", [event])
          data.plan = "free"
          data.tags.push("c")
          data.billing.country = "BE"
          const [, read] = yield* (yield* EventStore.EventStore).readStream(contactId)
          expect(read!.event).toMatchObject({ _tag: "EventTracked", name: "purchase", at: event.at })
          expect((read!.event as ContactEvent.EventTracked).data).toEqual(expected)
          const all = yield* readAllUntil(EventStore.start, (events) => events.some((e) => e.id === read!.id))
          expect(all.events.find((e) => e.id === read!.id)).toEqual(read)
        }))

      it.effect("an append with an event that cannot be stored fails and writes nothing, not even its valid events", () =>
        Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const contacts = yield* Contacts.Contacts
          const ids = yield* Ids.Ids
          const projectId = yield* newProject
          const unstorable = tracked("bad", { n: 1n } as never)
          const { contactId, events } = yield* createContact(projectId, "atomic@example.com")
          const later = [tracked("good"), unstorable]
          const exit = yield* Effect.exit(store.append({
            streamId: contactId,
            expectedVersion: 1,
            events: [{ id: yield* ids.next, event: later[0]! }, { id: yield* ids.next, event: later[1]! }],
            projection: { _tag: "Upsert", contact: Contact.fold([...events, ...later])! }
          }))
          expect(exit._tag).toBe("Failure")
          expect(yield* store.readStream(contactId)).toHaveLength(1)

          // A new stream: no event written, and its email not claimed.
          const newId = yield* ids.next
          const created = ContactEvent.ContactCreated.make({
            contactId: newId,
            projectId,
            email: "fresh@example.com",
            subscribed: true,
            at: new Date()
          })
          const failed = yield* Effect.exit(store.append({
            streamId: newId,
            expectedVersion: 0,
            events: [{ id: yield* ids.next, event: created }, { id: yield* ids.next, event: unstorable }],
            projection: { _tag: "Upsert", contact: Contact.fold([created, unstorable])! }
          }))
          expect(failed._tag).toBe("Failure")
          expect(yield* store.readStream(newId)).toHaveLength(0)
          expect(Option.isNone(yield* contacts.findByEmail(projectId, "fresh@example.com"))).toBe(true)
          yield* createContact(projectId, "fresh@example.com")
          const logged = yield* readAllUntil(EventStore.start, (all) => all.some((e) => e.streamId === contactId))
          expect(logged.events.filter((e) => e.streamId === contactId || e.streamId === newId)).toHaveLength(1)
        }))

      it.effect("an append that cannot be stored fails alone: the appends sent with it commit", () =>
        Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const ids = yield* Ids.Ids
          const projectId = yield* newProject
          const streams = yield* Effect.forEach(
            Array.from({ length: 20 }, (_, i) => i),
            (i) => createContact(projectId, `mate${i}@example.com`)
          )
          const appendOne = (
            streamId: string,
            events: ReadonlyArray<ContactEvent.ContactEvent>,
            event: ContactEvent.ContactEvent
          ) =>
            Effect.flatMap(
              ids.next,
              (id) =>
                Effect.exit(
                  store.append({
                    streamId,
                    expectedVersion: events.length,
                    events: [{ id, event }],
                    projection: { _tag: "Upsert", contact: Contact.fold([...events, event])! }
                  })
                )
            )
          // Sent together, the bad one in the middle, so that a store batching appends puts it in
          // one batch with others.
          const bad = 10
          const exits = yield* Effect.all(
            streams.map((s, i) =>
              appendOne(s.contactId, s.events, i === bad ? tracked("bad", { n: 1n } as never) : tracked("good"))
            ),
            { concurrency: "unbounded" }
          )
          expect(exits.map((e) => e._tag)).toEqual(streams.map((_, i) => (i === bad ? "Failure" : "Success")))
          for (const [i, s] of streams.entries())
            expect(yield* store.readStream(s.contactId)).toHaveLength(i === bad ? 1 : 2)
        }))

      it.effect("a wrong expected version is a ConcurrencyConflict and writes nothing", () =>
        Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const ids = yield* Ids.Ids
          const projectId = yield* newProject
          const { contactId, events } = yield* createContact(projectId, "b@example.com")
          const contact = Contact.fold([...events, tracked("x")])!
          for (const expectedVersion of [0, 2, 7]) {
            const error = yield* Effect.flip(store.append({
              streamId: contactId,
              expectedVersion,
              events: [{ id: yield* ids.next, event: tracked("x") }],
              projection: { _tag: "Upsert", contact }
            }))
            expect(error._tag).toBe("ConcurrencyConflict")
          }
          expect(yield* store.readStream(contactId)).toHaveLength(1)
          const stored = yield* (yield* Contacts.Contacts).findById(projectId, contactId)
          expect(Option.getOrThrow(stored).version).toBe(1)
        }))

      it.effect("concurrent appends each get their own outcome: the stale ones conflict, the rest commit", () =>
        Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const ids = yield* Ids.Ids
          const projectId = yield* newProject
          const streams = yield* Effect.forEach(
            Array.from({ length: 40 }, (_, i) => i),
            (i) => createContact(projectId, `batch${i}@example.com`)
          )
          const outcomes = yield* Effect.forEach(streams, ({ contactId, events }, i) =>
            Effect.gen(function*() {
              const next = [...events, tracked(`t${i}`)]
              return yield* Effect.either(store.append({
                streamId: contactId,
                // Every third append is decided on a stale version.
                expectedVersion: i % 3 === 0 ? 0 : 1,
                events: [{ id: yield* ids.next, event: next[1]! }],
                projection: { _tag: "Upsert", contact: Contact.fold(next)! }
              }))
            }), { concurrency: "unbounded" })
          expect(outcomes.map((o, i) => [i % 3 === 0, o._tag === "Left"])).toEqual(
            outcomes.map((_, i) => [i % 3 === 0, i % 3 === 0])
          )
          for (const [i, { contactId }] of streams.entries()) {
            expect((yield* store.readStream(contactId)).length).toBe(i % 3 === 0 ? 1 : 2)
          }
          // Two new contacts racing for one email in the same instant: exactly one wins.
          const racers = yield* Effect.all(
            [createContact(projectId, "same@example.com"), createContact(projectId, "same@example.com")].map(
              Effect.either
            ),
            { concurrency: "unbounded" }
          )
          expect(racers.map((r) => r._tag).sort()).toEqual(["Left", "Right"])
        }))

      it.effect("a second stream for a taken (project, email) is a conflict and writes none of its events", () =>
        Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const projectId = yield* newProject
          const holder = yield* createContact(projectId, "c@example.com")
          const before = yield* readAllFrom(EventStore.start)
          const error = yield* Effect.flip(createContact(projectId, "c@example.com", [tracked("lost")]))
          // With the contact that holds the email, as stored: the state to decide on again.
          expect(error).toMatchObject({
            _tag: "ConcurrencyConflict",
            reason: "email",
            holder: { id: holder.contactId, projectId, email: "c@example.com", version: 1, subscribed: true, data: {} }
          })
          expect((error as EventStore.ConcurrencyConflict).holder?.createdAt).toBeInstanceOf(Date)
          const after = yield* readAllFrom(EventStore.start)
          expect(after.events.length).toBe(before.events.length)
          // The same email in another project is another contact.
          const other = yield* newProject
          const { contactId } = yield* createContact(other, "c@example.com")
          expect(yield* store.readStream(contactId)).toHaveLength(1)
        }))
    })

    describe("email change (behaviour §10)", () => {
      const moveTo = (contactId: string, projectId: string, email: string, expectedVersion: number) =>
        Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const ids = yield* Ids.Ids
          const current = Option.getOrThrow(yield* (yield* Contacts.Contacts).findById(projectId, contactId))
          const event = ContactEvent.ContactEmailChanged.make({ email, at: new Date() })
          return yield* store.append({
            streamId: contactId,
            expectedVersion,
            events: [{ id: yield* ids.next, event }],
            projection: { _tag: "Upsert", contact: Contact.evolve(current, event)! }
          })
        })

      it.effect("moves the contact's claim: the new email finds it, the old one is free for a new contact", () =>
        Effect.gen(function*() {
          const contacts = yield* Contacts.Contacts
          const projectId = yield* newProject
          const { contactId } = yield* createContact(projectId, "move-from@example.com")
          yield* moveTo(contactId, projectId, "move-to@example.com", 1)
          expect(Option.getOrThrow(yield* contacts.findByEmail(projectId, "move-to@example.com")).id).toBe(contactId)
          expect(Option.isNone(yield* contacts.findByEmail(projectId, "move-from@example.com"))).toBe(true)
          const stored = Option.getOrThrow(yield* contacts.findById(projectId, contactId))
          expect(stored).toMatchObject({ email: "move-to@example.com", version: 2 })
          expect(Contact.fold((yield* (yield* EventStore.EventStore).readStream(contactId)).map((r) => r.event)))
            .toEqual(stored)
          const fresh = yield* createContact(projectId, "move-from@example.com")
          expect(fresh.contactId).not.toBe(contactId)
        }))

      it.effect("an email another contact holds is a conflict (reason email), and nothing is written", () =>
        Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const contacts = yield* Contacts.Contacts
          const projectId = yield* newProject
          const holder = yield* createContact(projectId, "holder@example.com")
          const mover = yield* createContact(projectId, "mover@example.com")
          const refused = yield* Effect.flip(moveTo(mover.contactId, projectId, "holder@example.com", 1))
          expect(refused).toMatchObject({ _tag: "ConcurrencyConflict", reason: "email" })
          expect(yield* store.readStream(mover.contactId)).toHaveLength(1)
          expect(Option.getOrThrow(yield* contacts.findById(projectId, mover.contactId)).email).toBe(
            "mover@example.com"
          )
          expect(Option.getOrThrow(yield* contacts.findByEmail(projectId, "holder@example.com")).id).toBe(
            holder.contactId
          )
          // In another project the same email is free.
          const other = yield* newProject
          const elsewhere = yield* createContact(other, "elsewhere@example.com")
          yield* moveTo(elsewhere.contactId, other, "holder@example.com", 1)
        }))
    })

    describe("catch-up", () => {
      it.effect("readAll returns every event once, in order, and resumes after its checkpoint", () =>
        Effect.gen(function*() {
          const projectId = yield* newProject
          const start = yield* readAllFrom(EventStore.start)
          const a = yield* createContact(projectId, "d1@example.com", [tracked("1")])
          const b = yield* createContact(projectId, "d2@example.com", [tracked("2")])
          const first = yield* readAllUntil(start.checkpoint, 4, 3)
          expect(first.events.map((r) => r.streamId)).toEqual([a.contactId, a.contactId, b.contactId, b.contactId])
          for (let i = 1; i < first.events.length; i++) {
            expect(EventStore.isAfter(first.events[i]!, first.events[i - 1]!)).toBe(true)
          }
          const again = yield* readAllFrom(first.checkpoint)
          expect(again.events).toEqual([])
          const c = yield* createContact(projectId, "d3@example.com")
          const next = yield* readAllUntil(first.checkpoint, 1)
          expect(next.events.map((r) => r.streamId)).toEqual([c.contactId])
        }))
    })

    describe("projection", () => {
      it.effect("the inline projection equals the fold of the stream, by id and by email", () =>
        Effect.gen(function*() {
          const track = yield* Track.Track
          const projectId = yield* newProject
          const email = "e@example.com"
          yield* track.track(projectId, command({ email, event: "a", data: { plan: "pro", n: 1 } }))
          yield* track.track(projectId, command({ email, event: "b", subscribed: false, data: { n: null, x: [1] } }))
          const result = yield* track.track(
            projectId,
            command({ email, event: "c", data: { o: { value: 1, persistent: false } } })
          )
          const contacts = yield* Contacts.Contacts
          const byEmail = Option.getOrThrow(yield* contacts.findByEmail(projectId, email))
          const byId = Option.getOrThrow(yield* contacts.findById(projectId, result.contact))
          const stream = yield* (yield* EventStore.EventStore).readStream(result.contact)
          const folded = Contact.fold(stream.map((r) => r.event))
          expect(byEmail).toEqual(folded)
          expect(byId).toEqual(folded)
          expect(byId).toMatchObject({ subscribed: false, data: { plan: "pro", x: [1] }, version: 7 })
          expect(stream[stream.length - 1]!.id).toBe(result.event)
        }))

      it.effect("reads are scoped to the project", () =>
        Effect.gen(function*() {
          const contacts = yield* Contacts.Contacts
          const projectId = yield* newProject
          const other = yield* newProject
          const { contactId } = yield* createContact(projectId, "f@example.com", [tracked("x")])
          expect(Option.isNone(yield* contacts.findById(other, contactId))).toBe(true)
          expect(Option.isNone(yield* contacts.findByEmail(other, "f@example.com"))).toBe(true)
          expect((yield* contacts.list(other, { limit: 10 })).data).toEqual([])
          const error = yield* Effect.flip(contacts.timeline(other, contactId, { limit: 10 }))
          expect(error._tag).toBe("ContactNotFound")
        }))

      it.effect("findManyByEmail answers each email in its order, in one call, within the project", () =>
        Effect.gen(function*() {
          const contacts = yield* Contacts.Contacts
          const projectId = yield* newProject
          const other = yield* newProject
          const a = yield* createContact(projectId, "many-a@example.com")
          const b = yield* createContact(projectId, "many-b@example.com", [tracked("x")])
          yield* createContact(other, "many-c@example.com")
          const found = yield* contacts.findManyByEmail(projectId, [
            "many-b@example.com",
            "nobody@example.com",
            "many-a@example.com",
            "many-c@example.com",
            "many-b@example.com"
          ])
          expect(found.map((c) => Option.getOrNull(Option.map(c, (contact) => contact.id)))).toEqual([
            b.contactId,
            null,
            a.contactId,
            null,
            b.contactId
          ])
          expect(Option.getOrThrow(found[0]!)).toEqual(
            Option.getOrThrow(yield* contacts.findByEmail(projectId, "many-b@example.com"))
          )
          expect(yield* contacts.findManyByEmail(projectId, [])).toEqual([])
        }))

      it.effect("list pages by cursor, oldest first, with hasMore and no cursor on the last page", () =>
        Effect.gen(function*() {
          const contacts = yield* Contacts.Contacts
          const projectId = yield* newProject
          const created: Array<string> = []
          for (let i = 0; i < 5; i++) created.push((yield* createContact(projectId, `g${i}@example.com`)).contactId)
          const seen: Array<string> = []
          let cursor: string | undefined
          let pages = 0
          do {
            const page = yield* contacts.list(projectId, { limit: 2, cursor })
            seen.push(...page.data.map((c) => c.id))
            expect(page.cursor === undefined).toBe(!page.hasMore)
            cursor = page.cursor
            pages++
          } while (cursor !== undefined)
          expect(seen).toEqual([...created].sort())
          expect(pages).toBe(3)
        }))

      it.effect("the timeline shows tracked events and subscription flips, newest first, by page", () =>
        Effect.gen(function*() {
          const track = yield* Track.Track
          const contacts = yield* Contacts.Contacts
          const projectId = yield* newProject
          const email = "h@example.com"
          const first = yield* track.track(projectId, command({ email, event: "one", data: { k: 1 } }))
          yield* track.track(projectId, command({ email, event: "two", subscribed: false }))
          yield* track.track(projectId, command({ email, event: "three", subscribed: true }))
          const page1 = yield* contacts.timeline(projectId, first.contact, { limit: 3 })
          expect(page1.data.map((e) => e.name)).toEqual(["three", "contact.subscribed", "two"])
          expect(page1.hasMore).toBe(true)
          const page2 = yield* contacts.timeline(projectId, first.contact, { limit: 3, cursor: page1.cursor })
          expect(page2.data.map((e) => e.name)).toEqual(["contact.unsubscribed", "one"])
          expect(page2.hasMore).toBe(false)
          expect(page2.cursor).toBeUndefined()
          expect(page2.data[1]).toMatchObject({ id: first.event, data: { k: 1 } })
        }))
    })

    describe("replay", () => {
      it.effect("folding each stream read back equals the stored contact, for random command sequences", () =>
        Effect.gen(function*() {
          const track = yield* Track.Track
          const contacts = yield* Contacts.Contacts
          const store = yield* EventStore.EventStore
          const emails = ["r1@example.com", "r2@example.com", "r3@example.com"]
          const runs = FastCheck.sample(
            FastCheck.array(Arbitraries.request(emails), { minLength: 1, maxLength: 12 }),
            25
          )
          for (const bodies of runs) {
            const projectId = yield* newProject
            yield* Effect.forEach(bodies, (body) => track.track(projectId, command(body)), { concurrency: 3 })
            const page = yield* contacts.list(projectId, { limit: 10 })
            expect(page.data.length).toBe(new Set(bodies.map((b) => b.email)).size)
            for (const contact of page.data) {
              const stream = yield* store.readStream(contact.id)
              expect(Contact.fold(stream.map((r) => r.event))).toEqual(contact)
            }
          }
        }))
    })

    describe("Track under concurrency", () => {
      it.effect("200 concurrent first tracks for 10 emails make exactly 10 contacts and 200 events", () =>
        Effect.gen(function*() {
          const track = yield* Track.Track
          const contacts = yield* Contacts.Contacts
          const store = yield* EventStore.EventStore
          const projectId = yield* newProject
          const emails = Array.from({ length: 10 }, (_, i) => `race${i}@example.com`)
          const results = yield* Effect.forEach(
            Array.from({ length: 200 }, (_, i) => i),
            (i) => track.track(projectId, command({ email: emails[i % 10]!, event: `e${i}`, data: { i } })),
            { concurrency: "unbounded" }
          )
          expect(new Set(results.map((r) => r.event)).size).toBe(200)
          const page = yield* contacts.list(projectId, { limit: 100 })
          expect(page.data.map((c) => c.email).sort()).toEqual([...emails].sort())
          let trackedCount = 0
          for (const contact of page.data) {
            const stream = yield* store.readStream(contact.id)
            expect(stream.map((r) => r.version)).toEqual(stream.map((_, i) => i + 1))
            trackedCount += stream.filter((r) => r.event._tag === "EventTracked").length
            expect(Contact.fold(stream.map((r) => r.event))).toEqual(contact)
          }
          expect(trackedCount).toBe(200)
        }))
    })

    describe("projects", () => {
      it.effect("ensure is idempotent and a key hash grants its project and kind", () =>
        Effect.gen(function*() {
          const projects = yield* Projects.Projects
          const projectId = yield* newProject
          const pk = ApiKey.generate("public")
          const sk = ApiKey.generate("secret")
          const keys = { projectId, publicKeyHash: yield* ApiKey.hash(pk), secretKeyHash: yield* ApiKey.hash(sk) }
          expect(yield* projects.ensure(keys)).toBe(projectId)
          expect(yield* projects.ensure({ ...keys, projectId: yield* newProject })).toBe(projectId)
          expect(yield* projects.findByKeyHash(keys.publicKeyHash)).toEqual(Option.some({ projectId, kind: "public" }))
          expect(yield* projects.findByKeyHash(keys.secretKeyHash)).toEqual(Option.some({ projectId, kind: "secret" }))
          expect(Option.isNone(yield* projects.findByKeyHash(yield* ApiKey.hash("pk_unknown")))).toBe(true)
          expect(yield* projects.count).toBeGreaterThan(0)
          // A pair that half matches an existing project is refused, whichever half.
          const other = ApiKey.generate("secret")
          const otherHash = yield* ApiKey.hash(other)
          for (
            const pair of [
              { ...keys, secretKeyHash: otherHash },
              { ...keys, publicKeyHash: otherHash },
              { ...keys, publicKeyHash: keys.secretKeyHash, secretKeyHash: keys.publicKeyHash }
            ]
          ) {
            const error = yield* Effect.flip(projects.ensure({ ...pair, projectId: yield* newProject }))
            expect(error._tag).toBe("ProjectKeysConflict")
          }
          expect(Option.isNone(yield* projects.findByKeyHash(otherHash))).toBe(true)
        }))
    })

    IdempotencyContract.tests(it)
    ErasureContract.suite(it)
    UnknownProjectContract.suite(it)
  })
