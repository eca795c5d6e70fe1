/**
 * The store contract of behaviour §9: key management on `Projects` (list, rotate, revoke) and the
 * `Backup` round trip. Each store runs it with a way to make a fresh, empty store.
 */
import type * as StorePorts from "../Store.js"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ApiKey from "../ApiKey.js"
import * as Backup from "../Backup.js"
import * as Contact from "../Contact.js"
import * as Contacts from "../Contacts.js"
import * as EventStore from "../EventStore.js"
import * as Ids from "../Ids.js"
import * as Projects from "../Projects.js"
import * as Track from "../Track.js"
import * as TrackCommand from "../TrackCommand.js"
import { readAllFrom, readAllUntil } from "./StoreContract.js"

/** What a store package provides for this suite. */
export type Store = StorePorts.Ports | Backup.Backup

type Ports = Store | Track.Track | Ids.Ids

const withPorts = <E>(store: Layer.Layer<Store, E>) =>
  Layer.mergeAll(Ids.layer, Track.layer.pipe(Layer.provide(Ids.layer))).pipe(Layer.provideMerge(store))

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

const track = (projectId: string, body: TrackCommand.Encoded) =>
  Effect.gen(function*() {
    const command = TrackCommand.decode(body)
    if (command._tag === "Left") throw command.left
    return yield* (yield* Track.Track).track(projectId, command.right)
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
            const items = Chunk.toReadonlyArray(yield* Stream.runCollect((yield* Backup.Backup).export))
            const log = yield* logOf
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
            const log = yield* logOf
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
  })
