/**
 * Export from one kind of store, import into another (behaviour §9): memory → PostgreSQL → memory.
 * Each store makes its project secrets its own way; a suppressed email must stay suppressed after
 * each move, because the secret travels with the hashes.
 */
import { expect, it } from "@effect/vitest"
import * as ApiKey from "@tracklog/core/ApiKey"
import * as Backup from "@tracklog/core/Backup"
import type * as Commands from "@tracklog/core/Commands"
import * as EraseContact from "@tracklog/core/EraseContact"
import * as Ids from "@tracklog/core/Ids"
import * as Projects from "@tracklog/core/Projects"
import type * as Store from "@tracklog/core/Store"
import * as Suppressions from "@tracklog/core/Suppressions"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as StoreLayer from "../src/StoreLayer.js"

type Ports = Store.Ports | Backup.Backup | Commands.Services | Ids.Ids

const inStore = <A, E, E2>(store: Layer.Layer<Store.Ports | Backup.Backup, E2>, effect: Effect.Effect<A, E, Ports>) =>
  Effect.scoped(Effect.flatMap(Layer.build(StoreLayer.services(store)), (context) => Effect.provide(effect, context)))

const track = (projectId: string, email: string) =>
  Effect.flatMap(Track.Track, (t) => {
    const command = TrackCommand.decode({ email, event: "signup" })
    if (command._tag === "Left") throw command.left
    return t.track(projectId, command.right)
  })

const exported = Effect.flatMap(Backup.Backup, (backup) =>
  Effect.map(Stream.runCollect(backup.export), (items) =>
    // Through NDJSON, as the CLI writes and reads it.
    Chunk.toReadonlyArray(items).map((item, i) => {
      const parsed = Backup.parseLine(JSON.stringify(item), i + 1)
      if (parsed._tag === "Left") throw parsed.left
      return parsed.right
    })))

// Imports, checks the suppression held, and exports again.
const move = (items: ReadonlyArray<Backup.Item>, projectId: string) =>
  Effect.gen(function*() {
    const summary = yield* (yield* Backup.Backup).import(Stream.fromIterable(items))
    expect(summary.rows).toBe(1)
    expect(yield* (yield* Suppressions.Suppressions).isSuppressed(projectId, "gone@example.com")).toBe(true)
    expect((yield* Effect.flip(track(projectId, "Gone@Example.com")))._tag).toBe("EmailSuppressed")
    // An erased email that was not suppressed may come back: a new contact.
    yield* track(projectId, "back@example.com")
    return yield* exported
  })

it.live("memory → PostgreSQL → memory keeps a suppressed email suppressed", () =>
  Effect.gen(function*() {
    const projectId = yield* Effect.provide(Ids.Ids.pipe(Effect.flatMap((ids) => ids.next)), Ids.layer)
    const fromMemory = yield* inStore(
      StoreMemory.layer,
      Effect.gen(function*() {
        yield* (yield* Projects.Projects).ensure({
          projectId,
          publicKeyHash: yield* ApiKey.hash(ApiKey.generate("public")),
          secretKeyHash: yield* ApiKey.hash(ApiKey.generate("secret"))
        })
        const erase = EraseContact
        const gone = yield* track(projectId, "gone@example.com")
        const back = yield* track(projectId, "back@example.com")
        yield* erase.erase(projectId, { contactId: gone.contact, suppress: true })
        yield* erase.erase(projectId, { contactId: back.contact, suppress: false })
        return yield* exported
      })
    )
    const fromPostgres = yield* inStore(TestDatabase.layer(), move(fromMemory, projectId))
    const secretOf = (items: ReadonlyArray<Backup.Item>) =>
      items.flatMap((i) => (i.type === "project" ? [Backup.secretOf(i)] : []))
    // The memory store's secret, kept by PostgreSQL rather than its column default.
    expect(secretOf(fromPostgres)).toEqual(secretOf(fromMemory))
    yield* inStore(StoreMemory.layer, move(fromPostgres, projectId))
  }), 60_000)
