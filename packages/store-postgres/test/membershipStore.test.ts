/**
 * Segment membership on PostgreSQL (`Membership.MembershipStore`, behaviour §11.3): the processor's
 * snapshots and members, and transitions appended to the log as any append is; on the server and
 * on the embedded Postgres.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, layer } from "@effect/vitest"
import * as Commands from "@tracklog/core/Commands"
import * as Contact from "@tracklog/core/Contact"
import * as Contacts from "@tracklog/core/Contacts"
import * as EraseContact from "@tracklog/core/EraseContact"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as LogStream from "@tracklog/core/LogStream"
import * as Membership from "@tracklog/core/Membership"
import * as Processor from "@tracklog/core/Processor"
import * as SegmentStore from "@tracklog/core/SegmentStore"
import { readAllFrom, readAllUntil } from "@tracklog/core/testing/StoreContract"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { create, segmentOf, snapshotOf, writeOf } from "./segmentFixtures.js"

const newId = Effect.flatMap(Ids.Ids, (ids) => ids.next)

/** Tracks `event` for `email` and answers the contact as the projection holds it. */
const tracked = (projectId: string, email: string, event = "seen") =>
  Effect.gen(function*() {
    const command = Either.getOrThrow(TrackCommand.decode({ email, event, data: { plan: "pro" } }))
    const { contact } = yield* (yield* Track.Track).track(projectId, command)
    return Option.getOrThrow(yield* (yield* Contacts.Contacts).findById(projectId, contact))
  })

/** Contacts of a new project. */
const contactsOf = (n: number) =>
  Effect.gen(function*() {
    const projectId = yield* newId
    const made = yield* Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => tracked(projectId, `c${i}@x.io`))
    return { projectId, contacts: [...made].sort((a, b) => (a.id < b.id ? -1 : 1)) }
  })

const entry = (contact: Contact.Contact, slug: string, eventId: string, at = new Date()): Membership.Transition => ({
  contactId: contact.id,
  projectId: contact.projectId,
  name: `segment.${slug}.entry`,
  data: { segmentId: `id-${slug}`, segmentName: slug, reason: "changed" },
  at,
  eventId
})

const refreshed = (contact: Contact.Contact) =>
  Effect.map(
    Effect.flatMap(Contacts.Contacts, (c) => c.findById(contact.projectId, contact.id)),
    Option.getOrThrow
  )

const stream = (contactId: string) => Effect.flatMap(EventStore.EventStore, (s) => s.readStream(contactId))

const store = (database: typeof TestDatabase.server) =>
  Commands.layer.pipe(
    Layer.provideMerge(Ids.layer),
    Layer.provideMerge(TestDatabase.layer(database))
  )

for (const backend of TestDatabase.backends) {
  layer(store(backend.database), { excludeTestServices: true })(`membership store: ${backend.name}`, (it) => {
    describe("write", () => {
      it.effect("round-trips snapshots, members, counts and a contact's segments", () =>
        Effect.gen(function*() {
          const membership = yield* Membership.MembershipStore
          const { contacts: [a, b, c] } = yield* contactsOf(3)
          const at = Date.now()
          const snapA = snapshotOf(a!, {
            facts: { seen: { count: 2, firstAt: at - 10, lastAt: at, recent: [at - 10, at] } },
            segments: { s1: at, s2: at + 1 },
            deadlines: { s1: at + 5000.5 },
            due: at + 5000.5
          })
          const snapB = snapshotOf(b!, { segments: { s1: at } })
          yield* membership.write(writeOf({
            snapshots: [snapshotOf(a!), snapA, snapB],
            // The same contact twice in a step: the last one holds, as for snapshots.
            joined: [
              { segmentId: "s1", contactId: b!.id, at: at - 5 },
              { segmentId: "s1", contactId: a!.id, at },
              { segmentId: "s2", contactId: a!.id, at: at + 1 },
              { segmentId: "s1", contactId: b!.id, at }
            ]
          }))
          const read = yield* membership.snapshots([a!.id, b!.id, c!.id])
          expect([...read.keys()].sort()).toEqual([a!.id, b!.id].sort())
          expect(read.get(a!.id)).toEqual(snapA)
          expect(read.get(b!.id)).toEqual(snapB)
          expect(yield* membership.count("s1")).toBe(2)
          const members = yield* membership.members("s1", { limit: 10 })
          expect(members).toEqual({
            data: [a!, b!].sort((x, y) => (x.id < y.id ? -1 : 1)).map((contact) => ({
              contact,
              enteredAt: new Date(at)
            })),
            hasMore: false
          })
          expect(yield* membership.segmentsOf(a!.id)).toEqual([
            { segmentId: "s1", enteredAt: new Date(at) },
            { segmentId: "s2", enteredAt: new Date(at + 1) }
          ])
          yield* membership.write(writeOf({ left: [{ segmentId: "s1", contactId: a!.id }] }))
          expect(yield* membership.count("s1")).toBe(1)
          expect((yield* membership.segmentsOf(a!.id)).map((s) => s.segmentId)).toEqual(["s2"])
        }))

      it.effect("stores segments by alias, without the contact's id and project, and reads back what was written", () =>
        Effect.gen(function*() {
          const membership = yield* Membership.MembershipStore
          const sql = yield* SqlClient.SqlClient
          const { contacts: [a, b, c], projectId } = yield* contactsOf(3)
          const vip = segmentOf(projectId, yield* newId, "vip")
          const pro = segmentOf(projectId, yield* newId, "pro")
          yield* create(vip)
          yield* create(pro)
          const at = Date.now()
          // A key with no segment row stays as it is.
          const snapA = snapshotOf(a!, {
            segments: { [vip.id]: at, [pro.id]: at + 1, "no-such-segment": at + 2 },
            deadlines: { [pro.id]: at + 9000 },
            due: at + 9000
          })
          yield* membership.write(writeOf({ snapshots: [snapA] }))
          const [row] = yield* sql<{ text: string }>`
            SELECT snapshot::text AS text FROM segment_snapshots WHERE contact_id = ${a!.id}`
          for (const id of [vip.id, pro.id, a!.id, projectId]) expect(row!.text).not.toContain(id)
          expect(row!.text).toContain("no-such-segment")
          expect((yield* membership.snapshots([a!.id])).get(a!.id)).toEqual(snapA)
          expect(yield* membership.due(at + 9000, 10)).toContainEqual(snapA)
          const [paged] = (yield* membership.page(projectId, "", 10)).filter((p) => p.contact.id === a!.id)
          expect(paged).toMatchObject({ segments: snapA.segments, deadlines: snapA.deadlines, due: snapA.due })

          // A row as stored before aliases: ids as keys, the contact whole, `due` in it.
          const old = snapshotOf(b!, { segments: { [vip.id]: at }, deadlines: { [vip.id]: at + 5 }, due: at + 5 })
          yield* sql`
            INSERT INTO segment_snapshots (contact_id, project_id, snapshot, due)
            VALUES (${b!.id}, ${projectId}, ${JSON.stringify(old)}::jsonb, ${at + 5})`
          expect((yield* membership.snapshots([b!.id])).get(b!.id)).toEqual(old)

          // An alias this process has not met (written by another): looked up in the database.
          const gold = segmentOf(projectId, yield* newId, "gold")
          yield* create(gold)
          const [{ alias }] = yield* sql<{ alias: number }>`SELECT alias FROM segments WHERE id = ${gold.id}`
          const { contact: { id: _id, projectId: _project, ...contact }, ...rest } = snapshotOf(c!)
          yield* sql`
            INSERT INTO segment_snapshots (contact_id, project_id, snapshot, due)
            VALUES (${c!.id}, ${projectId}, ${
            JSON.stringify({ ...rest, contact, segments: { [`#${alias}`]: at }, deadlines: {} })
          }::jsonb, NULL)`
          expect((yield* membership.snapshots([c!.id])).get(c!.id)).toEqual(
            snapshotOf(c!, { segments: { [gold.id]: at } })
          )

          // A purged segment's alias is read as its id where this process learnt it, else as a key no
          // segment has; the others as their ids.
          yield* membership.write(writeOf({ purged: [vip.id] }))
          const after = (yield* membership.snapshots([a!.id])).get(a!.id)!
          expect(after.segments[pro.id]).toBe(at + 1)
          expect(after.segments["no-such-segment"]).toBe(at + 2)
          const [gone, ...more] = Object.keys(after.segments).filter((k) => k !== pro.id && k !== "no-such-segment")
          expect(more).toEqual([])
          expect(gone === vip.id || /^#\d+$/.test(gone!)).toBe(true)
        }))

      it.effect("appends transitions at the stream's next versions, moving the projection; the log reads them", () =>
        Effect.gen(function*() {
          const membership = yield* Membership.MembershipStore
          const before = yield* readAllFrom(EventStore.start)
          const { contacts: [a] } = yield* contactsOf(1)
          const ids = [yield* newId, yield* newId]
          const at = new Date(Date.now() - 60_000)
          yield* membership.write(writeOf({
            transitions: [entry(a!, "vip", ids[0]!, at), { ...entry(a!, "pro", ids[1]!, at), name: "segment.pro.exit" }]
          }))
          const events = yield* stream(a!.id)
          expect(events.map((r) => r.version)).toEqual(events.map((_, i) => i + 1))
          expect(events.slice(-2).map((r) => [r.version, r.id, r.event])).toEqual([
            [
              a!.version + 1,
              ids[0],
              expect.objectContaining({
                _tag: "EventTracked",
                name: "segment.vip.entry",
                data: { segmentId: "id-vip", segmentName: "vip", reason: "changed" },
                at
              })
            ],
            [a!.version + 2, ids[1], expect.objectContaining({ name: "segment.pro.exit", at })]
          ])
          const projected = yield* refreshed(a!)
          expect(projected).toEqual({ ...a!, version: a!.version + 2 })
          expect(Contact.fold(events.map((r) => r.event))).toEqual(projected)
          const log = yield* readAllUntil(before.checkpoint, (read) => ids.every((id) => read.some((r) => r.id === id)))
          expect(log.events.filter((r) => ids.includes(r.id)).map((r) => r.id)).toEqual(ids)
          // The next track goes on from there.
          yield* tracked(a!.projectId, a!.email)
          expect((yield* refreshed(a!)).version).toBe(a!.version + 3)
        }))

      it.effect("a track racing a write on its contact waits, conflicts, and is decided again after the transition", () =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const membership = yield* Membership.MembershipStore
          const { contacts: [a] } = yield* contactsOf(1)
          const eventId = yield* newId
          const written = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          const holder = yield* sql.withTransaction(Effect.gen(function*() {
            yield* membership.write(writeOf({ transitions: [entry(a!, "vip", eventId)] }))
            yield* Deferred.succeed(written, undefined)
            yield* Deferred.await(release)
          })).pipe(Effect.fork)
          yield* Deferred.await(written)
          const track = yield* Effect.fork(tracked(a!.projectId, a!.email, "racing"))
          yield* Effect.sleep(Duration.millis(300))
          expect(track.unsafePoll()).toBeNull()
          yield* Deferred.succeed(release, undefined)
          yield* Fiber.join(holder)
          yield* Fiber.join(track)
          const events = yield* stream(a!.id)
          expect(events.map((r) => r.version)).toEqual(events.map((_, i) => i + 1))
          const names = events.slice(-2).map((r) => r.event._tag === "EventTracked" ? r.event.name : r.event._tag)
          expect(names).toEqual(["segment.vip.entry", "racing"])
          expect(Contact.fold(events.map((r) => r.event))).toEqual(yield* refreshed(a!))
        }))

      it.effect("a contact erased before the write gets no transition; the rest of the write is stored", () =>
        Effect.gen(function*() {
          const membership = yield* Membership.MembershipStore
          const { contacts: [a, b], projectId } = yield* contactsOf(2)
          yield* EraseContact.erase(projectId, { contactId: a!.id, suppress: false })
          const erased = yield* stream(a!.id)
          const ids = [yield* newId, yield* newId]
          yield* membership.write(writeOf({ transitions: [entry(a!, "vip", ids[0]!), entry(b!, "vip", ids[1]!)] }))
          expect(yield* stream(a!.id)).toEqual(erased)
          expect((yield* stream(b!.id)).map((r) => r.id)).toContain(ids[1])
          // Nor one of another project than the transition says.
          yield* membership.write(writeOf({ transitions: [{ ...entry(b!, "x", yield* newId), projectId: "other" }] }))
          expect((yield* refreshed(b!)).version).toBe(b!.version + 1)
        }))

      it.effect("a contact erased while the write waits for its stream gets no transition", () =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const membership = yield* Membership.MembershipStore
          const { contacts: [a] } = yield* contactsOf(1)
          const locked = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          // An erasure's transaction, by hand: the stream moved and locked first, the contact gone.
          const erasing = yield* sql.withTransaction(Effect.gen(function*() {
            yield* sql`UPDATE streams SET version = version + 1 WHERE stream_id = ${a!.id}`
            yield* sql`DELETE FROM contacts WHERE id = ${a!.id}`
            yield* Deferred.succeed(locked, undefined)
            yield* Deferred.await(release)
          })).pipe(Effect.fork)
          yield* Deferred.await(locked)
          const writing = yield* Effect.fork(
            membership.write(writeOf({ transitions: [entry(a!, "vip", yield* newId)] }))
          )
          yield* Effect.sleep(Duration.millis(200))
          expect(writing.unsafePoll()).toBeNull()
          yield* Deferred.succeed(release, undefined)
          yield* Fiber.join(erasing)
          yield* Fiber.join(writing)
          expect((yield* stream(a!.id)).length).toBe(a!.version)
          const [row] = yield* sql<{ version: number }>`SELECT version FROM streams WHERE stream_id = ${a!.id}`
          expect(row!.version).toBe(a!.version + 1)
        }))

      it.effect("progress moves a pass only at the segment's revision; purged removes a segment and its members", () =>
        Effect.gen(function*() {
          const membership = yield* Membership.MembershipStore
          const segments = yield* SegmentStore.SegmentStore
          const { contacts: [a], projectId } = yield* contactsOf(1)
          const vip = segmentOf(projectId, yield* newId, "vip", { revision: 2, builtRevision: 1 })
          yield* create(vip)
          yield* membership.write(
            writeOf({ progress: [{ segmentId: vip.id, revision: 1, buildCursor: "z", built: true }] })
          )
          expect(yield* segments.get(projectId, vip.id)).toEqual(Option.some(vip))
          yield* membership.write(
            writeOf({ progress: [{ segmentId: vip.id, revision: 2, buildCursor: "k", built: false }] })
          )
          expect(yield* segments.get(projectId, vip.id)).toEqual(Option.some({ ...vip, buildCursor: "k" }))
          yield* membership.write(
            writeOf({ progress: [{ segmentId: vip.id, revision: 2, buildCursor: "z", built: true }] })
          )
          expect(yield* segments.get(projectId, vip.id)).toEqual(
            Option.some({ ...vip, buildCursor: "z", builtRevision: 2 })
          )
          yield* membership.write(writeOf({ joined: [{ segmentId: vip.id, contactId: a!.id, at: Date.now() }] }))
          yield* membership.write(writeOf({ purged: [vip.id] }))
          expect(yield* segments.get(projectId, vip.id)).toEqual(Option.none())
          expect(yield* membership.count(vip.id)).toBe(0)
        }))

      it.effect("a write inside ProcessorStore.commit rolls back with a failed compare-and-set, and commits with it", () =>
        Effect.gen(function*() {
          const membership = yield* Membership.MembershipStore
          const processors = yield* Processor.ProcessorStore
          const { contacts: [a] } = yield* contactsOf(1)
          const name = `segments-test-${yield* newId}`
          const from = Option.getOrThrow(yield* processors.claim(name, "me", Duration.seconds(30)))
          const to = { transactionId: 1n, position: 1n }
          const step = writeOf({
            snapshots: [snapshotOf(a!, { segments: { s: 1 } })],
            joined: [{ segmentId: `s-${name}`, contactId: a!.id, at: 1 }],
            transitions: [entry(a!, "vip", yield* newId)]
          })
          const stale = { transactionId: 0n, position: 99n }
          const failed = yield* Effect.flip(processors.commit(name, "me", stale, to, membership.write(step)))
          expect(failed._tag).toBe("CheckpointConflict")
          expect((yield* membership.snapshots([a!.id])).size).toBe(0)
          expect(yield* membership.count(`s-${name}`)).toBe(0)
          expect(yield* refreshed(a!)).toEqual(a)
          expect((yield* stream(a!.id)).length).toBe(a!.version)
          yield* processors.commit(name, "me", from, to, membership.write(step))
          expect((yield* membership.snapshots([a!.id])).size).toBe(1)
          expect(yield* membership.count(`s-${name}`)).toBe(1)
          expect((yield* refreshed(a!)).version).toBe(a!.version + 1)
          expect(Option.map(yield* processors.status(name), (s) => s.checkpoint)).toEqual(Option.some(to))
        }))
    })

    it.effect("a live reader of the project gets a transition as soon as the processor's commit ends", () =>
      Effect.gen(function*() {
        const source = yield* LogStream.LogSource
        const membership = yield* Membership.MembershipStore
        const processors = yield* Processor.ProcessorStore
        const { contacts: [a], projectId } = yield* contactsOf(1)
        const after = yield* source.head(projectId)
        const eventId = yield* newId
        const seen = yield* LogStream.events({ after, projectId }).pipe(
          Stream.take(1),
          Stream.runCollect,
          Effect.fork
        )
        const name = `segments-live-${eventId}`
        const from = Option.getOrThrow(yield* processors.claim(name, "me", Duration.seconds(30)))
        const step = writeOf({ transitions: [entry(a!, "vip", eventId)] })
        yield* processors.commit(name, "me", from, { transactionId: 1n, position: 1n }, membership.write(step))
        const read = Chunk.toReadonlyArray(yield* Fiber.join(seen).pipe(Effect.timeout(Duration.seconds(10))))
        expect(read.map((r) => [r.id, r.version])).toEqual([[eventId, a!.version + 1]])
      }))

    describe("reads", () => {
      it.effect("due: the snapshots due by an instant, earliest first, at most limit", () =>
        Effect.gen(function*() {
          const membership = yield* Membership.MembershipStore
          const { contacts } = yield* contactsOf(5)
          // Instants before any other test's, so the shared database's other snapshots are never due.
          const dues = [3, 1, null, 2, 1]
          yield* membership.write(writeOf({
            snapshots: contacts.map((c, i) => snapshotOf(c, { due: dues[i] ?? null }))
          }))
          const ids = (snapshots: ReadonlyArray<Membership.Snapshot>) => snapshots.map((s) => s.contact.id)
          const [c0, c1, , c3, c4] = contacts.map((c) => c.id)
          expect(ids(yield* membership.due(2.5, 10))).toEqual([c1, c4, c3])
          expect(ids(yield* membership.due(10, 2))).toEqual([c1, c4])
          expect(ids(yield* membership.due(3, 10))).toEqual([c1, c4, c3, c0])
          expect(yield* membership.due(0.5, 10)).toEqual([])
        }))

      it.effect("page: a project's snapshots after a contact id, by contact id", () =>
        Effect.gen(function*() {
          const membership = yield* Membership.MembershipStore
          const { contacts, projectId } = yield* contactsOf(5)
          const { contacts: others } = yield* contactsOf(1)
          yield* membership.write(writeOf({ snapshots: [...contacts, ...others].map((c) => snapshotOf(c)) }))
          const ids = contacts.map((c) => c.id)
          const page = (after: string, limit: number) =>
            Effect.map(membership.page(projectId, after, limit), (s) => s.map((x) => x.contact.id))
          expect(yield* page("", 2)).toEqual(ids.slice(0, 2))
          expect(yield* page(ids[1]!, 2)).toEqual(ids.slice(2, 4))
          expect(yield* page(ids[3]!, 10)).toEqual(ids.slice(4))
          expect(yield* page(ids[4]!, 10)).toEqual([])
          expect((yield* membership.page(projectId, "", 10)).map((s) => s.contact)).toEqual(contacts)
        }))

      it.effect("members: pages by contact id, each contact as the projection holds it now", () =>
        Effect.gen(function*() {
          const membership = yield* Membership.MembershipStore
          const { contacts } = yield* contactsOf(5)
          const segmentId = yield* newId
          yield* membership.write(writeOf({
            joined: contacts.map((c, i) => ({ segmentId, contactId: c.id, at: 1_000 + i }))
          }))
          // A contact that changed since it entered is listed as it is now.
          const moved = yield* tracked(contacts[0]!.projectId, contacts[0]!.email, "later")
          const expected = [moved, ...contacts.slice(1)].map((contact, i) => ({
            contact,
            enteredAt: new Date(1_000 + i)
          }))
          const first = yield* membership.members(segmentId, { limit: 2 })
          expect(first).toEqual({ data: expected.slice(0, 2), hasMore: true, cursor: first.cursor })
          const second = yield* membership.members(segmentId, { limit: 2, cursor: first.cursor })
          expect(second).toEqual({ data: expected.slice(2, 4), hasMore: true, cursor: second.cursor })
          expect(yield* membership.members(segmentId, { limit: 2, cursor: second.cursor })).toEqual({
            data: expected.slice(4),
            hasMore: false
          })
        }))

      it.effect("an erasure removes the contact's snapshot and memberships", () =>
        Effect.gen(function*() {
          const membership = yield* Membership.MembershipStore
          const { contacts: [a, b], projectId } = yield* contactsOf(2)
          const segmentId = yield* newId
          yield* membership.write(writeOf({
            snapshots: [snapshotOf(a!), snapshotOf(b!)],
            joined: [a!, b!].map((c) => ({ segmentId, contactId: c.id, at: 1 }))
          }))
          yield* EraseContact.erase(projectId, { contactId: a!.id, suppress: true })
          expect([...(yield* membership.snapshots([a!.id, b!.id])).keys()]).toEqual([b!.id])
          expect(yield* membership.segmentsOf(a!.id)).toEqual([])
          expect(yield* membership.count(segmentId)).toBe(1)
          // The processor's own removal, when it reads the erasure, finds nothing left to do.
          yield* membership.write(writeOf({ removed: [a!.id, b!.id] }))
          expect((yield* membership.snapshots([a!.id, b!.id])).size).toBe(0)
          expect(yield* membership.count(segmentId)).toBe(0)
        }))
    })
  })
}
