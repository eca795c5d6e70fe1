/**
 * Two processes, one database: two independent pools race to create the same contacts, and two
 * migrators race on an empty database.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import * as Contact from "@tracklog/core/Contact"
import * as Contacts from "@tracklog/core/Contacts"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Migrations from "../src/Migrations.js"
import * as StorePostgres from "../src/StorePostgres.js"
import * as TestDatabase from "./TestDatabase.js"

// A whole "process": its own pool, its own Track service.
const processOn = (url: string) =>
  Layer.build(Track.layer.pipe(Layer.provideMerge(StorePostgres.layer({ url, maxConnections: 10 })), Layer.provideMerge(Ids.layer)))

it.scopedLive("two pools: 500 concurrent first tracks for 20 new emails make 20 contacts and 500 events, no error", () =>
  Effect.gen(function*() {
    const { url } = yield* TestDatabase.database
    const [a, b] = yield* Effect.all([processOn(url), processOn(url)], { concurrency: 2 })
    const emails = Array.from({ length: 20 }, (_, i) => `Race${i}@Example.com`)
    const results = yield* Effect.forEach(Array.from({ length: 500 }, (_, i) => i), (i) => {
      const command = Either.getOrThrow(TrackCommand.decode({ email: emails[i % 20], event: `e${i}` }))
      return Effect.flatMap(Track.Track, (t) => t.track("race", command)).pipe(Effect.provide(i % 2 === 0 ? a : b), Effect.either)
    }, { concurrency: "unbounded" })
    expect(results.filter(Either.isLeft)).toEqual([])

    const contacts = yield* Effect.provide(Contacts.Contacts, a)
    const store = yield* Effect.provide(EventStore.EventStore, b)
    const page = yield* contacts.list("race", { limit: 100 })
    expect(page.data.map((c) => c.email).sort()).toEqual(emails.map((e) => e.toLowerCase()).sort())
    let tracked = 0
    for (const contact of page.data) {
      const stream = yield* store.readStream(contact.id)
      expect(stream.map((r) => r.version)).toEqual(stream.map((_, i) => i + 1))
      expect(Contact.fold(stream.map((r) => r.event))).toEqual(contact)
      tracked += stream.filter((r) => r.event._tag === "EventTracked").length
    }
    expect(tracked).toBe(500)
  }), { timeout: 120_000 })

it.scopedLive("two migrators on an empty database both succeed and the schema is created once", () =>
  Effect.gen(function*() {
    const { url } = yield* TestDatabase.database
    const clients = yield* Effect.all([
      Layer.build(StorePostgres.layerClient({ url, maxConnections: 2 })),
      Layer.build(StorePostgres.layerClient({ url, maxConnections: 2 }))
    ])
    const ran = yield* Effect.all(clients.map((ctx) => Effect.provide(Migrations.run, ctx)), { concurrency: 2 })
    expect(ran.map((r) => r.length).sort()).toEqual([0, Object.keys(Migrations.migrations).length])
    const sql = yield* Effect.provide(SqlClient.SqlClient, clients[0]!)
    const tables = yield* sql<{ table_name: string }>`
      SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`
    expect(tables.map((t) => t.table_name)).toEqual(
      ["api_keys", "checkpoints", "contacts", "events", "projects", "streams", "tracklog_migrations"]
    )
  }))

it.scopedLive("a connection killed by the server answers StoreUnavailable, and the store recovers on its own", () =>
  Effect.gen(function*() {
    const { admin, url } = yield* TestDatabase.database
    const ctx = yield* Layer.build(StorePostgres.layer({ url, maxConnections: 2 }))
    const contacts = yield* Effect.provide(Contacts.Contacts, ctx)
    yield* contacts.list("p", { limit: 1 })
    const database = new URL(url).pathname.slice(1)
    yield* admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${database} AND pid <> pg_backend_pid()`
    const failures: Array<string> = []
    // Each pooled connection that was killed fails once; then the pool connects anew.
    for (let i = 0; i < 5; i++) {
      const result = yield* Effect.either(contacts.list("p", { limit: 1 }))
      if (Either.isLeft(result)) failures.push(result.left._tag)
    }
    expect(failures.length).toBeGreaterThan(0)
    expect(new Set(failures)).toEqual(new Set(["StoreUnavailable"]))
    const last = yield* Effect.either(contacts.list("p", { limit: 1 }))
    expect(Either.isRight(last)).toBe(true)
  }))
