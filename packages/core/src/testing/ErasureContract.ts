/**
 * The erasure part of the store contract (behaviour §7), run by `StoreContract.run` on every store:
 * what an erasure removes and keeps, the suppression list, a track racing an erasure, and a
 * replay of the whole log after it.
 */
import { describe, expect, type Vitest } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ApiKey from "../ApiKey.js"
import * as Contact from "../Contact.js"
import * as ContactEvent from "../ContactEvent.js"
import * as Contacts from "../Contacts.js"
import type * as CommandHandler from "../CommandHandler.js"
import * as ContactUpdate from "../ContactUpdate.js"
import * as EraseContact from "../EraseContact.js"
import * as EventStore from "../EventStore.js"
import * as Idempotency from "../Idempotency.js"
import * as Ids from "../Ids.js"
import * as Projects from "../Projects.js"
import * as Suppressions from "../Suppressions.js"
import * as Track from "../Track.js"
import * as TrackCommand from "../TrackCommand.js"
import * as NewContact from "./NewContact.js"

/** What the erasure suite needs from the contract's layer. */
export type Services =
  | Ids.Ids
  | Track.Track
  | CommandHandler.CommandHandler
  | EventStore.EventStore
  | Contacts.Contacts
  | Projects.Projects
  | Suppressions.Suppressions

const command = (body: TrackCommand.Encoded) => {
  const decoded = TrackCommand.decode(body)
  if (Either.isLeft(decoded)) throw decoded.left
  return decoded.right
}

/** A project made the way a server makes one, so it has its suppression secret. */
export const newProject = Effect.gen(function*() {
  const ids = yield* Ids.Ids
  const projectId = yield* ids.next
  yield* (yield* Projects.Projects).ensure({
    projectId,
    publicKeyHash: yield* ApiKey.hash(ApiKey.generate("public")),
    secretKeyHash: yield* ApiKey.hash(ApiKey.generate("secret"))
  })
  return projectId
})

/**
 * Every event of the log visible so far, read again until `done` holds (or 30 s pass): a store
 * may hold back committed events while an older transaction anywhere on its server runs, and a
 * shared test server can have those.
 */
const wholeLog = (done: (events: ReadonlyArray<EventStore.RecordedEvent>) => boolean) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    const deadline = Date.now() + 30_000
    while (true) {
      const all: Array<EventStore.RecordedEvent> = []
      let at = EventStore.start
      while (true) {
        const batch = yield* store.readAll(at, 500)
        all.push(...batch.events)
        // A page of erased events only is empty but still moves the checkpoint.
        if (batch.events.length === 0 && batch.checkpoint === at) break
        at = batch.checkpoint
      }
      if (done(all) || Date.now() > deadline) return all
      yield* Effect.sleep("10 millis")
    }
  })

/** True once the log shows an event with this id. */
const shows = (id: string) => (events: ReadonlyArray<EventStore.RecordedEvent>) => events.some((e) => e.id === id)

/** True once the log shows the erasure marker of this contact. */
const showsErasureOf = (contactId: string) => (events: ReadonlyArray<EventStore.RecordedEvent>) =>
  events.some((e) => e.streamId === contactId && e.event._tag === "ContactErased")

const trackOf = (email: string, event: string, data: Record<string, unknown> = {}, subscribed?: boolean) =>
  command({ email, event, data: data as never, ...(subscribed === undefined ? {} : { subscribed }) })

/** The erasure suite, inside the contract's `layer(...)` block. */
export const suite = (it: Vitest.MethodsNonLive<Services, true>) =>
  describe("erasure and suppression (behaviour §7)", () => {
    it.effect("erasing removes the contact, all its events and its projection; the log keeps only the marker", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const erase = EraseContact
        const contacts = yield* Contacts.Contacts
        const store = yield* EventStore.EventStore
        const projectId = yield* newProject
        const email = "erase-me@example.com"
        const first = yield* track.track(projectId, trackOf(email, "signup", { secret: "s3cret-value" }))
        yield* track.track(projectId, trackOf(email, "buy", { item: "x" }, false))
        const keep = yield* track.track(projectId, trackOf("keep@example.com", "signup"))
        const before = yield* store.readStream(first.contact)
        expect(before.length).toBe(6)

        yield* erase.erase(projectId, { contactId: first.contact, suppress: false })

        expect(Option.isNone(yield* contacts.findById(projectId, first.contact))).toBe(true)
        expect(Option.isNone(yield* contacts.findByEmail(projectId, email))).toBe(true)
        expect((yield* Effect.flip(contacts.timeline(projectId, first.contact, { limit: 10 })))._tag).toBe(
          "ContactNotFound"
        )
        expect((yield* contacts.list(projectId, { limit: 10 })).data.map((c) => c.id)).toEqual([keep.contact])
        const after = yield* store.readStream(first.contact)
        expect(after.map((r) => [r.version, r.event._tag, r.projectId])).toEqual([[7, "ContactErased", projectId]])
        expect(after[0]!.event).toEqual({ _tag: "ContactErased", contactId: first.contact, at: after[0]!.event.at })
        const log = (yield* wholeLog(showsErasureOf(first.contact))).filter((r) => r.streamId === first.contact)
        expect(log.map((r) => r.event._tag)).toEqual(["ContactErased"])
        expect(log.map((r) => r.id)).not.toContain(before[0]!.id)
        // The other contact of the project is untouched.
        expect(Option.getOrThrow(yield* contacts.findById(projectId, keep.contact)).email).toBe("keep@example.com")
      }))

    it.effect("a second erase, an unknown id and another project's contact are ContactNotFound; that contact is untouched", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const erase = EraseContact
        const contacts = yield* Contacts.Contacts
        const store = yield* EventStore.EventStore
        const ids = yield* Ids.Ids
        const projectId = yield* newProject
        const other = yield* newProject
        const email = "twice@example.com"
        const mine = yield* track.track(projectId, trackOf(email, "e"))
        const theirs = yield* track.track(other, trackOf(email, "e", { k: 1 }))

        const crossProject = yield* Effect.flip(erase.erase(projectId, { contactId: theirs.contact, suppress: true }))
        expect(crossProject._tag).toBe("ContactNotFound")
        expect((yield* Effect.flip(erase.erase(projectId, { contactId: yield* ids.next, suppress: false })))._tag).toBe(
          "ContactNotFound"
        )
        yield* erase.erase(projectId, { contactId: mine.contact, suppress: false })
        expect((yield* Effect.flip(erase.erase(projectId, { contactId: mine.contact, suppress: false })))._tag).toBe(
          "ContactNotFound"
        )

        const kept = Option.getOrThrow(yield* contacts.findById(other, theirs.contact))
        expect(kept).toMatchObject({ email, data: { k: 1 }, version: 3 })
        expect(Contact.fold((yield* store.readStream(theirs.contact)).map((r) => r.event))).toEqual(kept)
        // Nothing was suppressed in the other project by the refused cross-project erasure.
        expect(yield* (yield* Suppressions.Suppressions).isSuppressed(other, email)).toBe(false)
      }))

    it.effect("the port refuses a stale version or a contact of another project, writing nothing", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const store = yield* EventStore.EventStore
        const ids = yield* Ids.Ids
        const projectId = yield* newProject
        const other = yield* newProject
        const first = yield* track.track(projectId, trackOf("stale@example.com", "e"))
        const marker = (version: number, project: string): EventStore.Append => ({
          streamId: first.contact,
          expectedVersion: version,
          events: [{
            id: Effect.runSync(ids.next),
            event: ContactEvent.trusted.ContactErased({ contactId: first.contact, at: new Date() })
          }],
          projection: { _tag: "Erase", projectId: project, suppress: true }
        })
        const stale = yield* Effect.flip(store.append(marker(1, projectId)))
        expect(stale._tag).toBe("ConcurrencyConflict")
        const foreign = yield* Effect.flip(store.append(marker(2, other)))
        expect(foreign._tag).toBe("ConcurrencyConflict")
        expect((yield* store.readStream(first.contact)).map((r) => r.event._tag)).toEqual([
          "ContactCreated",
          "EventTracked"
        ])
        expect(yield* (yield* Suppressions.Suppressions).isSuppressed(projectId, "stale@example.com")).toBe(false)
      }))

    it.effect("a track after a plain erasure creates a new contact, subscribed, even after an unsubscribe", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const erase = EraseContact
        const contacts = yield* Contacts.Contacts
        const projectId = yield* newProject
        const email = "again@example.com"
        const old = yield* track.track(projectId, trackOf(email, "e", { plan: "pro" }, false))
        yield* erase.erase(projectId, { contactId: old.contact, suppress: false })
        // The same `Track` service, which remembers the old contact: its append must conflict.
        const fresh = yield* track.track(projectId, trackOf(email, "back"))
        expect(fresh.contact).not.toBe(old.contact)
        const contact = Option.getOrThrow(yield* contacts.findByEmail(projectId, email))
        expect(contact).toMatchObject({ id: fresh.contact, subscribed: true, data: {}, version: 2 })
      }))

    it.effect("after erase with suppress a track stores nothing; lifting it lets the email be tracked again", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const erase = EraseContact
        const contacts = yield* Contacts.Contacts
        const suppressions = yield* Suppressions.Suppressions
        const projectId = yield* newProject
        const other = yield* newProject
        const email = "gone@example.com"
        const old = yield* track.track(projectId, trackOf(email, "e"))
        yield* erase.erase(projectId, { contactId: old.contact, suppress: true })
        expect(yield* suppressions.isSuppressed(projectId, email)).toBe(true)
        expect(yield* suppressions.isSuppressed(other, email)).toBe(false)

        const refused = yield* Effect.flip(track.track(projectId, trackOf(email, "again", { x: 1 })))
        expect(refused._tag).toBe("EmailSuppressed")
        expect(Option.isNone(yield* contacts.findByEmail(projectId, email))).toBe(true)
        expect((yield* contacts.list(projectId, { limit: 10 })).data).toEqual([])
        // A later write, once visible, shows everything committed before it: the project's log
        // then holds the marker and the sentinel's events, and nothing of the refused track.
        const sentinel = yield* track.track(projectId, trackOf("sentinel@example.com", "e"))
        const log = (yield* wholeLog(shows(sentinel.event))).filter((r) => r.projectId === projectId)
        expect(log.map((r) => r.streamId === old.contact ? r.event._tag : r.streamId)).toEqual([
          "ContactErased",
          sentinel.contact,
          sentinel.contact
        ])
        yield* erase.erase(projectId, { contactId: sentinel.contact, suppress: false })
        // Per project: the same email elsewhere is tracked as usual.
        yield* track.track(other, trackOf(email, "elsewhere"))

        yield* suppressions.lift(projectId, email)
        expect((yield* Effect.flip(suppressions.lift(projectId, email)))._tag).toBe("NotSuppressed")
        const back = yield* track.track(projectId, trackOf(email, "back"))
        expect(back.contact).not.toBe(old.contact)
        expect(Option.getOrThrow(yield* contacts.findByEmail(projectId, email)).subscribed).toBe(true)
      }))

    it.effect("an append that starts a stream writes nothing for a suppressed email; one that has a contact holds it", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const contacts = yield* Contacts.Contacts
        const store = yield* EventStore.EventStore
        const projectId = yield* newProject
        const email = "held-back@example.com"
        const old = yield* track.track(projectId, trackOf(email, "e"))
        yield* EraseContact.erase(projectId, { contactId: old.contact, suppress: true })
        const startOf = (email: string) => Effect.map(NewContact.firstAppend(projectId, email), (made) => made.append)
        const suppressed = yield* startOf(email)
        const refused = yield* Effect.flip(store.append(suppressed))
        expect(refused._tag).toBe("EmailSuppressed")
        expect(yield* store.readStream(suppressed.streamId)).toEqual([])
        expect(Option.isNone(yield* contacts.findByEmail(projectId, email))).toBe(true)
        // Several streams at once are held to the same rule.
        const together = yield* Effect.flip(store.appendAll({ appends: [suppressed] }))
        expect(together._tag).toBe("EmailSuppressed")
        expect(yield* store.readStream(suppressed.streamId)).toEqual([])
        // With another new contact beside it (a batch): refused as such, and neither is written.
        const beside = yield* startOf("beside@example.com")
        expect((yield* Effect.flip(store.appendAll({ appends: [beside, suppressed] })))._tag).toBe("EmailSuppressed")
        expect(yield* store.readStream(beside.streamId)).toEqual([])
        // Another email of the project starts as usual under the same check.
        const fresh = yield* startOf("fresh@example.com")
        yield* store.append(fresh)
        expect(yield* store.readStream(fresh.streamId)).toHaveLength(1)
        // The suppression list stops creation only (behaviour §10): a contact may take the email.
        const moved = yield* ContactUpdate.update(projectId, { contactId: fresh.streamId, email })
        expect(moved.email).toBe(email)
        // The email now has a contact: a creation is held by that contact, not refused, and a
        // track goes on with it, as a track that read it first would.
        const second = yield* startOf(email)
        const held = yield* Effect.flip(store.append(second))
        expect(held).toMatchObject({
          _tag: "ConcurrencyConflict",
          reason: "email",
          holder: { id: fresh.streamId }
        })
        const tracked = yield* track.track(projectId, trackOf(email, "kept"))
        expect(tracked.contact).toBe(fresh.streamId)
      }))

    it.effect("the idempotency records of the contact's tracks go; a batch's record shared with others stays, without it", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const erase = EraseContact
        const store = yield* EventStore.EventStore
        const contacts = yield* Contacts.Contacts
        const projectId = yield* newProject
        const render = (result: unknown) => ({ status: 200, body: JSON.stringify(result) })
        const record = (key: string) => Effect.map(store.findIdempotency(projectId, key, new Date(0)), Option.getOrNull)
        const alone = yield* track.trackIdempotent(projectId, trackOf("alone@example.com", "e"), {
          key: "alone",
          fingerprint: "fp-alone",
          render
        })
        const items = [
          Either.right(trackOf("shared-a@example.com", "a")),
          Either.right(trackOf("shared-b@example.com", "b"))
        ]
        const batch = { key: "shared", fingerprint: "fp-shared", render }
        const first = yield* track.trackBatch(projectId, items, batch)
        if (alone._tag !== "Done" || first._tag !== "Done" || Track.isSuppressed(alone.result)) {
          throw new Error("expected Done")
        }
        const [a, b] = first.result.items.map((item) => item._tag === "Accepted" ? item.contact : "")

        // Each record becomes what `Idempotency.withoutContact` says (a PostgreSQL store applies the
        // rule inside its erasure's transaction). A record of the erased contact's tracks alone goes
        // with it.
        const trimmed = (before: Idempotency.Record | null, contactId: string) =>
          before === null ? null : Idempotency.withoutContact(before, contactId) ?? null
        const aloneBefore = yield* record("alone")
        yield* erase.erase(projectId, { contactId: alone.result.contact, suppress: false })
        expect(yield* record("alone")).toEqual(trimmed(aloneBefore, alone.result.contact))
        expect(yield* record("alone")).toBeNull()
        // One that is also another contact's stays (a retry of that batch must not track the
        // other contact twice, behaviour §6); it no longer names the erased contact.
        const sharedBefore = yield* record("shared")
        yield* erase.erase(projectId, { contactId: a!, suppress: false })
        expect(yield* record("shared")).toEqual(trimmed(sharedBefore, a!))
        expect((yield* record("shared"))?.contactIds).toEqual([b])
        const again = yield* track.trackBatch(projectId, items, batch)
        expect(again).toEqual({ _tag: "Replayed", answer: first.answer })
        expect(Option.getOrThrow(yield* contacts.findById(projectId, b!)).version).toBe(2)
        expect(Option.isNone(yield* contacts.findByEmail(projectId, "shared-a@example.com"))).toBe(true)
        // Erasing the last contact it names removes it.
        yield* erase.erase(projectId, { contactId: b!, suppress: false })
        expect(yield* record("shared")).toBeNull()
      }))

    it.effect("a batch refused for a suppressed email asks the list for all its emails at once: suppressed items store nothing, the rest apply", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const erase = EraseContact
        const contacts = yield* Contacts.Contacts
        const suppressions = yield* Suppressions.Suppressions
        const projectId = yield* newProject
        const other = yield* newProject
        const email = "batch-gone@example.com"
        const old = yield* track.track(projectId, trackOf(email, "e"))
        yield* erase.erase(projectId, { contactId: old.contact, suppress: true })
        const asked = [email, "kept@example.com", email, "new@example.com"]
        expect([...(yield* suppressions.suppressedAmong(projectId, asked))]).toEqual([email])
        expect((yield* suppressions.suppressedAmong(other, asked)).size).toBe(0)
        expect((yield* suppressions.suppressedAmong(projectId, [])).size).toBe(0)

        const outcome = yield* track.trackBatch(projectId, [
          Either.right(trackOf("kept@example.com", "a", { n: 1 })),
          Either.right(trackOf(email, "refused", { x: 1 })),
          TrackCommand.decode({ email: "not-an-email", event: "e" }),
          Either.right(trackOf("kept@example.com", "b", { n: 2 }))
        ])
        if (outcome._tag !== "Done") throw new Error("expected Done")
        expect(outcome.result.items.map((i) => i._tag)).toEqual(["Accepted", "Suppressed", "Rejected", "Accepted"])
        // Each item counted once: applied, invalid, or suppressed (behaviour §8).
        expect(outcome.result).toMatchObject({ accepted: 2, rejected: 1, suppressed: 1 })
        expect(Option.isNone(yield* contacts.findByEmail(projectId, email))).toBe(true)
        expect(Option.getOrThrow(yield* contacts.findByEmail(projectId, "kept@example.com"))).toMatchObject({
          data: { n: 2 }
        })
      }))

    it.effect("a track with a key for a suppressed email keeps its answer for the key: replayed, also after the lift", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const erase = EraseContact
        const contacts = yield* Contacts.Contacts
        const suppressions = yield* Suppressions.Suppressions
        const store = yield* EventStore.EventStore
        const projectId = yield* newProject
        const email = "keyed-gone@example.com"
        const old = yield* track.track(projectId, trackOf(email, "e"))
        yield* erase.erase(projectId, { contactId: old.contact, suppress: true })
        const render = (result: unknown) => ({ status: 200, body: JSON.stringify(result) })
        const request = { key: "suppressed-key", fingerprint: "fp-suppressed", render }

        const first = yield* track.trackIdempotent(projectId, trackOf(email, "again", { x: 1 }), request)
        if (first._tag !== "Done") throw new Error("expected Done")
        expect(first.result).toEqual({ _tag: "Suppressed", timestamp: expect.any(Date) })
        // Stored for the key like any answer (behaviour §6), naming no contact: nothing else was stored.
        const stored = Option.getOrThrow(yield* store.findIdempotency(projectId, request.key, new Date(0)))
        expect(stored).toMatchObject({ fingerprint: request.fingerprint, answer: first.answer, contactIds: [] })
        expect(Option.isNone(yield* contacts.findByEmail(projectId, email))).toBe(true)

        const again = yield* track.trackIdempotent(projectId, trackOf(email, "again", { x: 1 }), request)
        expect(again).toEqual({ _tag: "Replayed", answer: first.answer })
        // Another body with the key is refused, and creates nothing.
        const other = yield* Effect.flip(
          track.trackIdempotent(projectId, trackOf("keyed-other@example.com", "e"), {
            ...request,
            fingerprint: "fp-other"
          })
        )
        expect(other._tag).toBe("IdempotencyKeyReused")
        expect(Option.isNone(yield* contacts.findByEmail(projectId, "keyed-other@example.com"))).toBe(true)
        // Lifting the suppression does not change what the key answers: still no contact.
        yield* suppressions.lift(projectId, email)
        const lifted = yield* track.trackIdempotent(projectId, trackOf(email, "again", { x: 1 }), request)
        expect(lifted).toEqual({ _tag: "Replayed", answer: first.answer })
        expect(Option.isNone(yield* contacts.findByEmail(projectId, email))).toBe(true)

        // Many at once with a new key, while suppressed: one answer stored, every other one replays it.
        yield* erase.erase(projectId, {
          contactId: (yield* track.track(projectId, trackOf(email, "back"))).contact,
          suppress: true
        })
        const burst = { ...request, key: "suppressed-burst" }
        const outcomes = yield* Effect.forEach(
          Array.from({ length: 20 }, () => trackOf(email, "again")),
          (c) => track.trackIdempotent(projectId, c, burst),
          { concurrency: "unbounded" }
        )
        expect(outcomes.filter((o) => o._tag === "Done")).toHaveLength(1)
        expect(new Set(outcomes.map((o) => o.answer?.body)).size).toBe(1)
        expect(Option.isNone(yield* contacts.findByEmail(projectId, email))).toBe(true)
      }))

    it.effect("a batch with a key whose items are all suppressed keeps its answer for the key, also after the lift", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const erase = EraseContact
        const contacts = yield* Contacts.Contacts
        const suppressions = yield* Suppressions.Suppressions
        const store = yield* EventStore.EventStore
        const projectId = yield* newProject
        const email = "batch-keyed-gone@example.com"
        const old = yield* track.track(projectId, trackOf(email, "e"))
        yield* erase.erase(projectId, { contactId: old.contact, suppress: true })
        const render = (result: unknown) => ({ status: 200, body: JSON.stringify(result) })
        const request = { key: "suppressed-batch", fingerprint: "fp-batch", render }
        const items = [Either.right(trackOf(email, "a")), Either.right(trackOf(email, "b", { n: 2 }))]

        const first = yield* track.trackBatch(projectId, items, request)
        if (first._tag !== "Done") throw new Error("expected Done")
        expect(first.result.items.map((item) => item._tag)).toEqual(["Suppressed", "Suppressed"])
        const stored = Option.getOrThrow(yield* store.findIdempotency(projectId, request.key, new Date(0)))
        expect(stored).toMatchObject({ answer: first.answer, contactIds: [] })
        expect(yield* track.trackBatch(projectId, items, request)).toEqual({ _tag: "Replayed", answer: first.answer })
        const other = yield* Effect.flip(
          track.trackBatch(projectId, [Either.right(trackOf("batch-keyed-other@example.com", "e"))], {
            ...request,
            fingerprint: "fp-other"
          })
        )
        expect(other._tag).toBe("IdempotencyKeyReused")
        yield* suppressions.lift(projectId, email)
        expect(yield* track.trackBatch(projectId, items, request)).toEqual({ _tag: "Replayed", answer: first.answer })
        expect(Option.isNone(yield* contacts.findByEmail(projectId, email))).toBe(true)
        expect(Option.isNone(yield* contacts.findByEmail(projectId, "batch-keyed-other@example.com"))).toBe(true)
      }))

    it.effect("a suppressed email with a live contact is tracked as usual: the list is asked only before creating", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const erase = EraseContact
        const suppressions = yield* Suppressions.Suppressions
        const projectId = yield* newProject
        const email = "recreated@example.com"
        const old = yield* track.track(projectId, trackOf(email, "e"))
        yield* erase.erase(projectId, { contactId: old.contact, suppress: true })
        yield* suppressions.lift(projectId, email)
        const again = yield* track.track(projectId, trackOf(email, "e"))
        expect(again.contact).not.toBe(old.contact)
        // Suppress the new one too, then lift: the third contact is again a new one.
        yield* erase.erase(projectId, { contactId: again.contact, suppress: true })
        expect((yield* Effect.flip(track.track(projectId, trackOf(email, "e"))))._tag).toBe("EmailSuppressed")
      }))

    it.effect("a track racing an erasure of its contact lands on the old contact and is erased, or makes a new one", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const erase = EraseContact
        const contacts = yield* Contacts.Contacts
        const store = yield* EventStore.EventStore
        const projectId = yield* newProject
        const outcomes = { erasedWithIt: 0, newContact: 0 }
        for (let round = 0; round < 20; round++) {
          const email = `race-${round}@example.com`
          const old = yield* track.track(projectId, trackOf(email, "first"))
          const [erased, tracked] = yield* Effect.all([
            Effect.either(erase.erase(projectId, { contactId: old.contact, suppress: false })),
            Effect.either(track.track(projectId, trackOf(email, "racing", { round })))
          ], { concurrency: "unbounded" })
          expect(Either.isRight(erased)).toBe(true)
          const result = Either.getOrThrow(tracked)
          // The old contact is wholly gone: only its marker is left.
          expect(Option.isNone(yield* contacts.findById(projectId, old.contact))).toBe(true)
          expect((yield* store.readStream(old.contact)).map((r) => r.event._tag)).toEqual(["ContactErased"])
          const now = yield* contacts.findByEmail(projectId, email)
          if (result.contact === old.contact) {
            outcomes.erasedWithIt++
            expect(Option.isNone(now)).toBe(true)
          } else {
            outcomes.newContact++
            const contact = Option.getOrThrow(now)
            expect(contact.id).toBe(result.contact)
            const stream = yield* store.readStream(contact.id)
            expect(stream.map((r) => r.event._tag)).toEqual(["ContactCreated", "ContactDataChanged", "EventTracked"])
            expect(Contact.fold(stream.map((r) => r.event))).toEqual(contact)
          }
        }
        expect(outcomes.erasedWithIt + outcomes.newContact).toBe(20)
      }))

    it.effect("replaying the whole log never brings an erased contact back", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const erase = EraseContact
        const contacts = yield* Contacts.Contacts
        const projectId = yield* newProject
        const emails = ["r1@example.com", "r2@example.com", "r3@example.com"]
        const erasedIds = new Set<string>()
        for (let i = 0; i < 12; i++) {
          const email = emails[i % 3]!
          const result = yield* track.track(projectId, trackOf(email, `e${i}`, { i }))
          if (i % 4 === 3) {
            yield* erase.erase(projectId, { contactId: result.contact, suppress: false })
            erasedIds.add(result.contact)
          }
        }
        // Rebuild every projection of the project by folding the log, stream by stream.
        const rebuilt = new Map<string, Contact.State>()
        const log = yield* wholeLog((events) => [...erasedIds].every((id) => showsErasureOf(id)(events)))
        for (const recorded of log) {
          if (recorded.projectId !== projectId) continue
          rebuilt.set(recorded.streamId, Contact.evolve(rebuilt.get(recorded.streamId) ?? null, recorded.event))
        }
        const live = [...rebuilt.values()].filter((c): c is Contact.Contact => c !== null)
        expect(erasedIds.size).toBe(3)
        for (const id of erasedIds) {
          expect(rebuilt.has(id)).toBe(true)
          expect(rebuilt.get(id)).toBeNull()
        }
        const stored = (yield* contacts.list(projectId, { limit: 100 })).data
        expect([...live].sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual(stored)
      }))
  })
