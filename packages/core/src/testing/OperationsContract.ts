/**
 * The store contract of behaviour §9: key management on `Projects` (list, rotate, revoke) and the
 * `Backup` round trip. Each store runs it with a way to make a fresh, empty store.
 */
import type * as StorePorts from "../Store.js"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ApiKey from "../ApiKey.js"
import * as Backup from "../Backup.js"
import * as Contact from "../Contact.js"
import * as Contacts from "../Contacts.js"
import * as Commands from "../Commands.js"
import * as EraseContact from "../EraseContact.js"
import * as EventStore from "../EventStore.js"
import * as Ids from "../Ids.js"
import * as LogStream from "../LogStream.js"
import * as Processor from "../Processor.js"
import * as Projects from "../Projects.js"
import type * as Segment from "../Segment.js"
import * as SegmentStore from "../SegmentStore.js"
import * as Suppressions from "../Suppressions.js"
import * as Track from "../Track.js"
import * as TrackCommand from "../TrackCommand.js"
import { readAllFrom, readAllUntil } from "./StoreContract.js"

/** What a store package provides for this suite. */
export type Store = StorePorts.Ports | Backup.Backup | LogStream.LogSource | Processor.ProcessorStore

type Ports = Store | Commands.Services | Ids.Ids

const withPorts = <E>(store: Layer.Layer<Store, E>) =>
  Commands.layer.pipe(Layer.provideMerge(Ids.layer), Layer.provideMerge(store))

const logOf = Effect.map(readAllFrom(EventStore.start), (read) => read.events)

const newPair = Effect.gen(function*() {
  const ids = yield* Ids.Ids
  const publicKey = ApiKey.generate("public")
  const secretKey = ApiKey.generate("secret")
  return {
    publicKey,
    secretKey,
    keys: {
      projectId: yield* ids.next,
      publicKeyHash: yield* ApiKey.hash(publicKey),
      secretKeyHash: yield* ApiKey.hash(secretKey)
    }
  }
})

const track = (projectId: string, body: TrackCommand.Encoded, grantedBy?: string) =>
  Effect.gen(function*() {
    const command = TrackCommand.decode(body)
    if (command._tag === "Left") throw command.left
    return yield* (yield* Track.Track).track(projectId, command.right, grantedBy)
  })

const collect = Effect.flatMap(
  Backup.Backup,
  (backup) => Effect.map(Stream.runCollect(backup.export), Chunk.toReadonlyArray)
)

// Through NDJSON, as the CLI writes and reads it.
const throughNdjson = (items: ReadonlyArray<Backup.Item>) =>
  items.map((item, i) => {
    const parsed = Backup.parseLine(JSON.stringify(item), i + 1)
    if (parsed._tag === "Left") throw parsed.left
    return parsed.right
  })

const everyContact = (projectId: string) =>
  Effect.gen(function*() {
    const contacts = yield* Contacts.Contacts
    const all: Array<Contact.Contact> = []
    let cursor: string | undefined
    while (true) {
      const page = yield* contacts.list(projectId, cursor === undefined ? { limit: 100 } : { limit: 100, cursor })
      all.push(...page.data)
      if (!page.hasMore) return all
      cursor = page.cursor
    }
  })

// On PostgreSQL a committed event is held back from `readAll` (and so from an export) while an
// older transaction anywhere on the server is open: another test file making a database, say.
// Waits until the log shows every event of the projects' contacts, read by stream (never held back).
const settledLog = (projectIds: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    let expected = 0
    for (const projectId of projectIds) {
      for (const contact of yield* everyContact(projectId)) expected += (yield* store.readStream(contact.id)).length
    }
    return yield* logOf.pipe(
      Effect.filterOrFail((log) => log.length >= expected, () => new Error("events held back")),
      Effect.retry(Schedule.spaced("50 millis")),
      Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`${expected} events not visible`) })
    )
  })

/** Runs the suite; `fresh` makes a new empty store each time it is built. */
export const run = <E>(name: string, fresh: () => Layer.Layer<Store, E>) =>
  describe(`operations contract: ${name}`, () => {
    const inStore = <A, E2>(effect: Effect.Effect<A, E2, Ports | Scope.Scope>) =>
      Effect.scoped(Effect.flatMap(Layer.build(withPorts(fresh())), (context) => Effect.provide(effect, context)))

    it.live("rotate replaces both keys at once; the old ones grant nothing", () =>
      inStore(Effect.gen(function*() {
        const projects = yield* Projects.Projects
        const { keys } = yield* newPair
        yield* projects.ensure(keys)
        const next = yield* newPair
        yield* projects.rotate({ ...next.keys, projectId: keys.projectId })
        expect(Option.isNone(yield* projects.findByKeyHash(keys.publicKeyHash))).toBe(true)
        expect(Option.isNone(yield* projects.findByKeyHash(keys.secretKeyHash))).toBe(true)
        expect(yield* projects.findByKeyHash(next.keys.publicKeyHash)).toEqual(
          Option.some({ projectId: keys.projectId, kind: "public" })
        )
        expect(yield* projects.findByKeyHash(next.keys.secretKeyHash)).toEqual(
          Option.some({ projectId: keys.projectId, kind: "secret" })
        )
        const unknown = yield* Effect.flip(projects.rotate({ ...(yield* newPair).keys, projectId: "no-such-project" }))
        expect(unknown._tag).toBe("ProjectNotFound")
        // A hash already in use is refused, and nothing changes.
        const taken = yield* Effect.flip(projects.rotate({ ...next.keys, projectId: keys.projectId }))
        expect(taken._tag).toBe("ProjectKeysConflict")
        expect(Option.isSome(yield* projects.findByKeyHash(next.keys.publicKeyHash))).toBe(true)
        // So is a pair whose two hashes are one (`Projects.rotationConflict`): it would be both kinds.
        const fresh = yield* newPair
        const one = fresh.keys.publicKeyHash
        const same = yield* Effect.flip(
          projects.rotate({ projectId: keys.projectId, publicKeyHash: one, secretKeyHash: one })
        )
        expect(same._tag).toBe("ProjectKeysConflict")
        expect(Option.isNone(yield* projects.findByKeyHash(one))).toBe(true)
        expect(Option.isSome(yield* projects.findByKeyHash(next.keys.secretKeyHash))).toBe(true)
      })))

    it.live("revoke deletes one key; list shows what each project has left", () =>
      inStore(Effect.gen(function*() {
        const projects = yield* Projects.Projects
        const a = yield* newPair
        const b = yield* newPair
        yield* projects.ensure(a.keys)
        yield* projects.ensure(b.keys)
        expect(yield* projects.revoke(a.keys.publicKeyHash)).toEqual({ projectId: a.keys.projectId, kind: "public" })
        expect(Option.isNone(yield* projects.findByKeyHash(a.keys.publicKeyHash))).toBe(true)
        expect(Option.isSome(yield* projects.findByKeyHash(a.keys.secretKeyHash))).toBe(true)
        expect((yield* Effect.flip(projects.revoke(a.keys.publicKeyHash)))._tag).toBe("KeyNotFound")
        const listed = yield* projects.list
        expect(listed.map((p) => [p.projectId, p.publicKeys, p.secretKeys])).toEqual([
          [a.keys.projectId, 0, 1],
          [b.keys.projectId, 1, 1]
        ])
      })))

    it.live("an append made under a key writes only while that key grants the contact's project", () =>
      inStore(Effect.gen(function*() {
        const projects = yield* Projects.Projects
        const contacts = yield* Contacts.Contacts
        const a = yield* newPair
        const b = yield* newPair
        yield* projects.ensure(a.keys)
        yield* projects.ensure(b.keys)
        const projectId = a.keys.projectId
        yield* track(projectId, { email: "kept@example.com", event: "first" }, a.keys.publicKeyHash)
        const before = yield* settledLog([projectId])
        expect(before.length).toBeGreaterThan(0)
        // Another project's key grants nothing here; an unknown one neither.
        const foreign = yield* Effect.flip(
          track(projectId, { email: "kept@example.com", event: "second" }, b.keys.publicKeyHash)
        )
        expect(foreign._tag).toBe("GrantRevoked")
        const unknown = yield* Effect.flip(
          track(projectId, { email: "new@example.com", event: "first" }, yield* ApiKey.hash("pk_unknown"))
        )
        expect(unknown._tag).toBe("GrantRevoked")
        yield* projects.revoke(a.keys.publicKeyHash)
        // Revoked: several tracks at once (one group commit where the store has them), on an
        // existing contact and new ones, made under that key and under the project's other key.
        const outcomes = yield* Effect.all(
          [
            track(projectId, { email: "kept@example.com", event: "after" }, a.keys.publicKeyHash),
            track(projectId, { email: "new1@example.com", event: "after" }, a.keys.publicKeyHash),
            track(projectId, { email: "new2@example.com", event: "after" }, a.keys.secretKeyHash),
            track(projectId, { email: "new3@example.com", event: "after" }, a.keys.publicKeyHash)
          ].map((t) => Effect.either(t)),
          { concurrency: "unbounded" }
        )
        expect(outcomes.map((o) => (o._tag === "Left" ? o.left._tag : "ok"))).toEqual([
          "GrantRevoked",
          "GrantRevoked",
          "ok",
          "GrantRevoked"
        ])
        // Only the track under the key still granted wrote anything.
        const added = (yield* settledLog([projectId])).slice(before.length)
        const written = yield* contacts.findByEmail(projectId, "new2@example.com")
        expect(added.length).toBeGreaterThan(0)
        expect(added.map((e) => e.streamId)).toEqual(added.map(() => Option.getOrThrow(written).id))
        for (const email of ["new@example.com", "new1@example.com", "new3@example.com"]) {
          expect(Option.isNone(yield* contacts.findByEmail(projectId, email))).toBe(true)
        }
        const kept = yield* contacts.findByEmail(projectId, "kept@example.com")
        expect(Option.map(kept, (c) => c.version)).toEqual(Option.some(before.length))
      })))

    it.live(
      "export then import into an empty store gives the same projects, keys, log and contacts; replay equals the projection",
      () =>
        Effect.gen(function*() {
          const source = yield* inStore(Effect.gen(function*() {
            const projects = yield* Projects.Projects
            const pairs = [yield* newPair, yield* newPair]
            for (const pair of pairs) yield* projects.ensure(pair.keys)
            for (let i = 0; i < 30; i++) {
              const pair = pairs[i % 2]!
              yield* track(pair.keys.projectId, {
                email: `c${i % 12}@example.com`,
                event: `e${i}`,
                subscribed: i % 3 === 0,
                data: { n: i, drop: i % 4 === 0 ? null : "x", order: { b: 1, a: 2 } }
              })
            }
            const log = yield* settledLog(pairs.map((pair) => pair.keys.projectId))
            const items = Chunk.toReadonlyArray(yield* Stream.runCollect((yield* Backup.Backup).export))
            const contacts = [
              ...yield* everyContact(pairs[0]!.keys.projectId),
              ...yield* everyContact(pairs[1]!.keys.projectId)
            ]
            return { items, log, contacts, pairs }
          }))
          expect(source.items[0]!.type).toBe("tracklog-export")
          expect(source.items.filter((i) => i.type === "event")).toHaveLength(source.log.length)
          // Through NDJSON, as the CLI writes and reads it.
          const lines = source.items.map((item) => JSON.stringify(item))
          const parsed = lines.map((line, i) => {
            const item = Backup.parseLine(line, i + 1)
            if (item._tag === "Left") throw item.left
            return item.right
          })
          yield* inStore(Effect.gen(function*() {
            const backup = yield* Backup.Backup
            const summary = yield* backup.import(Stream.fromIterable(parsed))
            expect(summary).toMatchObject({
              projects: 2,
              keys: 4,
              events: source.log.length,
              contacts: source.contacts.length
            })
            const projects = yield* Projects.Projects
            for (const pair of source.pairs) {
              expect(yield* projects.findByKeyHash(pair.keys.secretKeyHash)).toEqual(
                Option.some({ projectId: pair.keys.projectId, kind: "secret" })
              )
            }
            const log = yield* settledLog(source.pairs.map((pair) => pair.keys.projectId))
            const strip = (e: EventStore.RecordedEvent) => ({
              id: e.id,
              streamId: e.streamId,
              projectId: e.projectId,
              version: e.version,
              event: e.event
            })
            expect(log.map(strip)).toEqual(source.log.map(strip))
            const contacts = [
              ...yield* everyContact(source.pairs[0]!.keys.projectId),
              ...yield* everyContact(source.pairs[1]!.keys.projectId)
            ]
            expect(contacts).toEqual(source.contacts)
            // Replay: each imported stream folds to its imported contact.
            const store = yield* EventStore.EventStore
            for (const contact of contacts) {
              const events = yield* store.readStream(contact.id)
              expect(Contact.fold(events.map((e) => e.event))).toEqual(contact)
            }
            // The imported store goes on: a track appends after the imported log.
            yield* track(source.pairs[0]!.keys.projectId, { email: "c0@example.com", event: "tracked-later" })
            // Waits out transactions elsewhere on the server, which hold back what a log reader sees.
            const after = (yield* readAllUntil(EventStore.start, log.length + 1)).events
            expect(after.length).toBeGreaterThan(log.length)
            expect(after.slice(0, log.length).map(strip)).toEqual(log.map(strip))
            // A second import is refused: the store is no longer empty.
            const again = yield* Effect.flip(backup.import(Stream.fromIterable(parsed)))
            expect(again._tag).toBe("StoreNotEmpty")
          }))
        }),
      60_000
    )

    it.live(
      "export then import: the new store's log has its own epoch, so no cursor of the old one is of it, and processors start from its beginning",
      () =>
        Effect.gen(function*() {
          const name = "imported-processor"
          const source = yield* inStore(Effect.gen(function*() {
            const { keys } = yield* newPair
            yield* (yield* Projects.Projects).ensure(keys)
            for (let i = 0; i < 4; i++) yield* track(keys.projectId, { email: `p${i % 2}@example.com`, event: `e${i}` })
            const log = (yield* readAllUntil(EventStore.start, 6)).events
            // A processor that has handled the whole log: its checkpoint is the last event's.
            const processors = yield* Processor.ProcessorStore
            const last = LogStream.checkpointOf(log[log.length - 1]!)
            expect(Option.isSome(yield* processors.claim(name, "instance", Duration.seconds(5)))).toBe(true)
            yield* processors.commit(name, "instance", EventStore.start, last, Effect.void)
            yield* processors.release(name, "instance")
            const identity = (yield* LogStream.LogSource).identity
            return { items: yield* collect, identity, last, log, projectId: keys.projectId }
          }))
          yield* inStore(Effect.gen(function*() {
            yield* (yield* Backup.Backup).import(Stream.fromIterable(throughNdjson(source.items)))
            const { identity } = yield* LogStream.LogSource
            // The import renumbered the log: a cursor of the old one names nothing here, whatever
            // its position (behaviour §5.1, §9).
            expect(identity.epoch).not.toBe(source.identity.epoch)
            expect(identity.legacyCursors).toBe(false)
            const cursor = (epoch: string) =>
              Option.getOrThrow(LogStream.decodeCursor(LogStream.encodeCursor(epoch, source.last)))
            expect(LogStream.belongsTo(cursor(source.identity.epoch), identity)).toBe(false)
            expect(LogStream.belongsTo(cursor(identity.epoch), identity)).toBe(true)
            // Processor checkpoints are not exported: the processor starts again from the imported
            // log's first event and sees all of it, once.
            const processors = yield* Processor.ProcessorStore
            expect(yield* processors.status(name)).toEqual(Option.none())
            const seen: Array<string> = []
            const running = yield* Effect.fork(Processor.run({
              name,
              projectId: source.projectId,
              handle: (events) => Effect.sync(() => seen.push(...events.map((e) => e.id)))
            }))
            const deadline = Date.now() + 10_000
            while (seen.length < source.log.length && Date.now() < deadline) yield* Effect.sleep("10 millis")
            yield* Fiber.interrupt(running)
            expect(seen).toEqual(source.log.map((e) => e.id))
          }))
        }),
      60_000
    )

    it.live(
      "export then import keeps the suppression list: a suppressed email stays suppressed, a lifted one does not",
      () =>
        Effect.gen(function*() {
          const source = yield* inStore(Effect.gen(function*() {
            const projects = yield* Projects.Projects
            const erase = EraseContact
            const suppressions = yield* Suppressions.Suppressions
            const a = yield* newPair
            const b = yield* newPair
            yield* projects.ensure(a.keys)
            yield* projects.ensure(b.keys)
            const ids: Record<string, string> = {}
            for (const email of ["kept@example.com", "lifted@example.com", "erased@example.com"]) {
              ids[email] = (yield* track(a.keys.projectId, { email, event: "signup" })).contact
            }
            yield* track(b.keys.projectId, { email: "kept@example.com", event: "signup" })
            yield* erase.erase(a.keys.projectId, { contactId: ids["kept@example.com"]!, suppress: true })
            yield* erase.erase(a.keys.projectId, { contactId: ids["lifted@example.com"]!, suppress: true })
            yield* erase.erase(a.keys.projectId, { contactId: ids["erased@example.com"]!, suppress: false })
            yield* suppressions.lift(a.keys.projectId, "lifted@example.com")
            return { items: yield* collect, a, b }
          }))
          const rows = source.items.filter((i) => i.type === "row" && i.table === Backup.SuppressionsTable)
          expect(rows).toHaveLength(1)
          // Only the keyed hash travels, never the email (project b's contact of that email aside).
          const ofA = source.items.filter((i) => i.type !== "event" || i.projectId !== source.b.keys.projectId)
          expect(JSON.stringify(ofA)).not.toContain("kept@example.com")
          yield* inStore(Effect.gen(function*() {
            const summary = yield* (yield* Backup.Backup).import(Stream.fromIterable(throughNdjson(source.items)))
            expect(summary.rows).toBe(1)
            const suppressions = yield* Suppressions.Suppressions
            const { a, b } = source
            expect(yield* suppressions.isSuppressed(a.keys.projectId, "kept@example.com")).toBe(true)
            expect(yield* suppressions.isSuppressed(a.keys.projectId, "lifted@example.com")).toBe(false)
            expect(yield* suppressions.isSuppressed(a.keys.projectId, "erased@example.com")).toBe(false)
            expect(yield* suppressions.isSuppressed(b.keys.projectId, "kept@example.com")).toBe(false)
            const refused = yield* Effect.flip(track(a.keys.projectId, { email: "Kept@Example.com", event: "again" }))
            expect(refused._tag).toBe("EmailSuppressed")
            // A suppression made after the import is hashed under the same secret as the imported ones.
            yield* suppressions.lift(a.keys.projectId, "kept@example.com")
            expect(yield* suppressions.isSuppressed(a.keys.projectId, "kept@example.com")).toBe(false)
          }))
        }),
      60_000
    )

    it.live(
      "export then import carries segment definitions, to be built again from the log",
      () =>
        Effect.gen(function*() {
          const source = yield* inStore(Effect.gen(function*() {
            const { keys } = yield* newPair
            yield* (yield* Projects.Projects).ensure(keys)
            const at = new Date("2026-01-01T00:00:00.000Z")
            const segment: Segment.Segment = {
              id: `${keys.projectId}-s`,
              projectId: keys.projectId,
              name: "Pro",
              slug: "pro",
              condition: {
                logic: "AND",
                groups: [{ filters: [{ field: "data.plan", operator: "equals", value: "pro" }] }]
              },
              trackMembership: false,
              createdAt: at,
              updatedAt: at,
              revision: 3,
              builtRevision: 3,
              buildCursor: "zzz"
            }
            yield* (yield* SegmentStore.SegmentStore).update(
              keys.projectId,
              () => Either.right({ put: [segment], answer: undefined })
            )
            return { items: yield* collect, segment }
          }))
          yield* inStore(Effect.gen(function*() {
            yield* (yield* Backup.Backup).import(Stream.fromIterable(throughNdjson(source.items)))
            const found = yield* (yield* SegmentStore.SegmentStore).get(source.segment.projectId, source.segment.id)
            expect(Option.getOrThrow(found)).toEqual({ ...source.segment, builtRevision: 0, buildCursor: "" })
          }))
        }),
      60_000
    )

    it.live("an export from another store: the project's secret travels with its hashes, so the email stays suppressed", () =>
      inStore(Effect.gen(function*() {
        const { keys } = yield* newPair
        // A secret this store did not make, as another store (or an older version) would export it.
        const secret = "a-secret-made-by-another-store"
        const items: Array<Backup.Item> = [
          { type: "tracklog-export", version: 1, exportedAt: "2026-01-01T00:00:00.000Z" },
          { type: "project", id: keys.projectId, extra: { [Backup.SecretField]: secret } },
          { type: "key", hash: keys.publicKeyHash, projectId: keys.projectId, kind: "public" },
          { type: "key", hash: keys.secretKeyHash, projectId: keys.projectId, kind: "secret" },
          {
            type: "row",
            table: Backup.SuppressionsTable,
            row: {
              project_id: keys.projectId,
              email_hash: yield* Suppressions.emailHash(secret, "gone@example.com"),
              created_at: "2026-01-01T00:00:00.000Z"
            }
          }
        ]
        const summary = yield* (yield* Backup.Backup).import(Stream.fromIterable(throughNdjson(items)))
        expect(summary).toMatchObject({ projects: 1, keys: 2, rows: 1 })
        const suppressions = yield* Suppressions.Suppressions
        expect(yield* suppressions.isSuppressed(keys.projectId, "gone@example.com")).toBe(true)
        expect((yield* Effect.flip(track(keys.projectId, { email: "gone@example.com", event: "e" })))._tag).toBe(
          "EmailSuppressed"
        )
        // And this store exports it again as it came: the same secret, the same hash.
        const again = yield* collect
        const project = again.find((i) => i.type === "project")
        expect(project?.type === "project" ? Backup.secretOf(project) : undefined).toBe(secret)
        expect(again.filter((i) => i.type === "row").map((i) => i.type === "row" && i.row["email_hash"])).toEqual([
          items[4]!.type === "row" && items[4]!.row["email_hash"]
        ])
      })))

    it.live("a suppression row whose project came without its secret is refused and leaves the store empty", () =>
      inStore(Effect.gen(function*() {
        const items: Array<Backup.Item> = [
          { type: "project", id: "p1" },
          { type: "row", table: Backup.SuppressionsTable, row: { project_id: "p1", email_hash: "ab".repeat(32) } }
        ]
        const error = yield* Effect.flip((yield* Backup.Backup).import(Stream.fromIterable(items)))
        expect(error._tag).toBe("InvalidExport")
        expect(yield* (yield* Projects.Projects).count).toBe(0)
      })))

    it.live("an import with a gap in a stream's versions is refused and leaves the store empty", () =>
      inStore(Effect.gen(function*() {
        const backup = yield* Backup.Backup
        const projectId = "p1"
        const at = new Date("2026-01-01T00:00:00.000Z")
        const items: Array<Backup.Item> = [
          { type: "project", id: projectId },
          {
            type: "event",
            id: "e1",
            streamId: "s1",
            projectId,
            version: 2,
            position: "1",
            event: {
              _tag: "ContactCreated",
              contactId: "s1",
              projectId,
              email: "a@example.com",
              subscribed: true,
              at: at.toISOString()
            }
          }
        ]
        const error = yield* Effect.flip(backup.import(Stream.fromIterable(items)))
        expect(error._tag).toBe("InvalidExport")
        expect(yield* (yield* Projects.Projects).count).toBe(0)
      })))

    // `Backup.rebuild` decides; every store imports through it.
    it.live("an import with two contacts for one email of a project is refused and leaves the store empty", () =>
      inStore(Effect.gen(function*() {
        const backup = yield* Backup.Backup
        const at = "2026-01-01T00:00:00.000Z"
        const created = (streamId: string, projectId: string, email: string, position: number): Backup.Item => ({
          type: "event",
          id: `e-${streamId}`,
          streamId,
          projectId,
          version: 1,
          position: String(position),
          event: { _tag: "ContactCreated", contactId: streamId, projectId, email, subscribed: true, at }
        })
        // One email in two projects is two contacts: not a duplicate.
        const items: Array<Backup.Item> = [
          { type: "project", id: "p1" },
          { type: "project", id: "p2" },
          created("s1", "p1", "same@example.com", 1),
          created("s2", "p2", "same@example.com", 2),
          created("s3", "p1", "same@example.com", 3)
        ]
        const error = yield* Effect.flip(backup.import(Stream.fromIterable(items)))
        expect(error).toMatchObject({ _tag: "InvalidExport", message: "two contacts for one email in project p1" })
        expect(yield* (yield* Projects.Projects).count).toBe(0)
        expect(yield* logOf).toEqual([])
        const fine = yield* backup.import(Stream.fromIterable(items.slice(0, 4)))
        expect(fine).toMatchObject({ projects: 2, events: 2, contacts: 2 })
      })))
  })
