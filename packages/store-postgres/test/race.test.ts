/**
 * Two processes, one database: two independent pools race to create the same contacts, and two
 * migrators race on an empty database. On the server and on the embedded Postgres.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as Contact from "@tracklog/core/Contact"
import * as Contacts from "@tracklog/core/Contacts"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as Commands from "@tracklog/core/Commands"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Net from "node:net"
import * as Migrations from "../src/Migrations.js"
import * as StorePostgres from "../src/StorePostgres.js"

// A whole "process": its own pool, its own Track service.
const processOn = (db: TestDatabase.Database) =>
  Layer.build(
    Commands.layer.pipe(
      Layer.provideMerge(StorePostgres.layer({ url: db.url, maxConnections: db.maxConnections })),
      Layer.provideMerge(Ids.layer)
    )
  )

for (const backend of TestDatabase.backends) {
  describe(backend.name, () => {
    it.scopedLive(
      "two pools: 500 concurrent first tracks for 20 new emails make 20 contacts and 500 events, no error",
      () =>
        Effect.gen(function*() {
          const db = yield* backend.database
          const [a, b] = yield* Effect.all([processOn(db), processOn(db)], { concurrency: 2 })
          const emails = Array.from({ length: 20 }, (_, i) => `Race${i}@Example.com`)
          const results = yield* Effect.forEach(Array.from({ length: 500 }, (_, i) => i), (i) => {
            const command = Either.getOrThrow(TrackCommand.decode({ email: emails[i % 20], event: `e${i}` }))
            return Effect.flatMap(Track.Track, (t) => t.track("race", command)).pipe(
              Effect.provide(i % 2 === 0 ? a : b),
              Effect.either
            )
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
        }),
      { timeout: 120_000 }
    )

    it.scopedLive(
      "two migrators on an empty database both succeed and the schema is created once",
      () =>
        Effect.gen(function*() {
          const db = yield* backend.database
          const clients = yield* Effect.all([
            Layer.build(StorePostgres.layerClient({ url: db.url, maxConnections: db.maxConnections })),
            Layer.build(StorePostgres.layerClient({ url: db.url, maxConnections: db.maxConnections }))
          ])
          const ran = yield* Effect.all(clients.map((ctx) => Effect.provide(Migrations.run, ctx)), { concurrency: 2 })
          expect(ran.map((r) => r.length).sort()).toEqual([0, Object.keys(Migrations.migrations).length])
          const sql = yield* Effect.provide(SqlClient.SqlClient, clients[0]!)
          const tables = yield* sql<{ table_name: string }>`
          SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`
          expect(tables.map((t) => t.table_name)).toEqual(
            [
              "api_keys",
              "contacts",
              "events",
              "idempotency_keys",
              "log_identity",
              "processors",
              "projects",
              "segment_members",
              "segment_snapshots",
              "segments",
              "streams",
              "suppressions",
              "tracklog_migrations",
              "webhook_endpoints",
              "webhook_messages"
            ]
          )
          // One log, one epoch.
          expect(yield* sql`SELECT count(*)::int AS n FROM log_identity`).toEqual([{ n: 1 }])
        }),
      { timeout: 60_000 }
    )
  })
}

// A TCP proxy in front of the server that the test can cut and restore: a database that goes
// away and comes back, deterministically.
const proxy = (target: URL) =>
  Effect.acquireRelease(
    Effect.async<{ port: number; cut: () => Promise<void>; restore: () => Promise<void>; close: () => void }>(
      (resume) => {
        const sockets = new Set<Net.Socket>()
        const server = Net.createServer((client) => {
          const upstream = Net.connect(Number(target.port || 5432), target.hostname)
          for (const s of [client, upstream]) {
            sockets.add(s)
            s.on("close", () => sockets.delete(s))
            s.on("error", () => {})
          }
          client.pipe(upstream).pipe(client)
        })
        server.listen(0, "127.0.0.1", () => {
          const port = (server.address() as Net.AddressInfo).port
          resume(Effect.succeed({
            port,
            cut: () =>
              new Promise<void>((done) => {
                for (const s of sockets) s.destroy()
                server.close(() => done())
              }),
            restore: () => new Promise<void>((done) => server.listen(port, "127.0.0.1", () => done())),
            close: () => {
              for (const s of sockets) s.destroy()
              server.close()
            }
          }))
        })
      }
    ),
    (p) => Effect.sync(p.close)
  )

// Needs a real server: the embedded Postgres lives in this process.
it.scopedLive("a database that goes away answers StoreUnavailable promptly, and the store recovers on its own", () =>
  Effect.gen(function*() {
    const db = yield* TestDatabase.server
    if (db.backend !== "postgres") return yield* Effect.die("this test needs a PostgreSQL server (DATABASE_URL)")
    const target = new URL(db.url)
    const tcp = yield* proxy(target)
    const viaProxy = new URL(db.url)
    viaProxy.host = `127.0.0.1:${tcp.port}`
    const ctx = yield* Layer.build(Commands.layer.pipe(
      Layer.provideMerge(StorePostgres.layer({ url: viaProxy.toString(), maxConnections: 4, timeout: "2 seconds" })),
      Layer.provideMerge(Ids.layer)
    ))
    const contacts = yield* Effect.provide(Contacts.Contacts, ctx)
    const track = yield* Effect.provide(Track.Track, ctx)
    const command = Either.getOrThrow(TrackCommand.decode({ email: "outage@example.com", event: "e" }))
    yield* track.track("p", command)

    yield* Effect.promise(tcp.cut)
    const started = Date.now()
    const outcome = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
      Effect.map(Effect.either(effect), (r) => (Either.isLeft(r) ? r.left._tag : "Right"))
    const during = yield* Effect.all([
      outcome(contacts.list("p", { limit: 1 })),
      outcome(track.track("p", command)),
      outcome(contacts.findByEmail("p", "outage@example.com"))
    ], { concurrency: "unbounded" })
    expect(during).toEqual(
      ["StoreUnavailable", "StoreUnavailable", "StoreUnavailable"]
    )
    expect(Date.now() - started).toBeLessThan(5_000)

    yield* Effect.promise(tcp.restore)
    yield* track.track("p", command)
    const page = yield* contacts.list("p", { limit: 10 })
    expect(page.data).toHaveLength(1)
    expect(page.data[0]!.version).toBe(3)
  }))
