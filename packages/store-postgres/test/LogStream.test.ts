/**
 * The live log on PostgreSQL under concurrency (behaviour §4, §5): two stores on one database stand in
 * for two processes; a subscriber on one must see every committed event of both exactly once, in
 * log order, also with a slow transaction that began first and commits last, and a rolled-back one.
 */
import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as LogStream from "@tracklog/core/LogStream"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as StorePostgres from "../src/StorePostgres.js"
import * as TestDatabase from "../src/testing/TestDatabase.js"

const ids = Ids.uuidv7
const random = () => globalThis.crypto.getRandomValues(new Uint8Array(10))
const newId = () => ids(Date.now(), random())

// One contact with `n` tracked events, appended through a store's port.
const appendContact = (projectId: string, n: number) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    const contactId = newId()
    const at = new Date()
    const events: Array<ContactEvent.ContactEvent> = [
      ContactEvent.ContactCreated.make({
        contactId,
        projectId,
        email: `${contactId}@example.com`,
        subscribed: true,
        at
      })
    ]
    for (let i = 0; i < n; i++) events.push(ContactEvent.EventTracked.make({ name: `e${i}`, data: {}, at }))
    yield* store.append({
      streamId: contactId,
      expectedVersion: 0,
      events: events.map((event) => ({ id: newId(), event })),
      projection: { _tag: "Upsert", contact: Contact.fold(events)! }
    })
  })

// An event row written by hand inside the caller's transaction (its id is known to the test).
const insertRaw = (projectId: string, id: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const event = ContactEvent.encode(ContactEvent.EventTracked.make({ name: "raw", data: {}, at: new Date() }))
    yield* sql`INSERT INTO events (stream_id, project_id, version, id, type, data, created_at)
      VALUES (${id}, ${projectId}, 1, ${id}, 'EventTracked', ${JSON.stringify(event)}::json, now())`
  })

const logOrder = (projectId: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql<
        { id: string }
      >`SELECT id FROM events WHERE project_id = ${projectId} ORDER BY transaction_id, global_position`
  ).pipe(
    Effect.map((rows) => rows.map((r) => r.id))
  )

describe("live log on PostgreSQL", () => {
  it.live(
    "two writers, a slow transaction that began first and commits last, and a rolled-back one: each committed event once, in log order; the open one stalls readers, never skips",
    () =>
      Effect.gen(function*() {
        const db = yield* TestDatabase.server
        // Two sessions at once (a writer holding a transaction open): the embedded Postgres serves one.
        if (db.backend === "embedded")
          return yield* Effect.die(new Error("this test needs a PostgreSQL server (DATABASE_URL)"))
        const config = { url: db.url, maxConnections: db.maxConnections, pollInterval: "50 millis" as const }
        const one = yield* Layer.build(StorePostgres.layer(config))
        const two = yield* Layer.build(StorePostgres.layer(config))
        const projectId = newId()

        const seen: Array<string> = []
        const subscriber = yield* Effect.fork(
          Stream.runForEach(LogStream.events({ projectId, batchSize: 7 }), (e) => Effect.sync(() => seen.push(e.id)))
            .pipe(
              Effect.provide(one)
            )
        )

        // The slow transaction takes its transaction id first, then waits for the writers.
        const slowId = newId()
        const writersDone = yield* Deferred.make<void>()
        const slowStarted = yield* Deferred.make<void>()
        const slow = yield* Effect.fork(
          Effect.flatMap(SqlClient.SqlClient, (sql) =>
            sql.withTransaction(Effect.gen(function*() {
              yield* insertRaw(projectId, slowId)
              yield* Deferred.succeed(slowStarted, undefined)
              yield* Deferred.await(writersDone)
            }))).pipe(Effect.provide(two))
        )
        yield* Deferred.await(slowStarted)

        // A rolled-back transaction: its event must never reach anyone.
        const rolledBackId = newId()
        yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql.withTransaction(Effect.zipRight(insertRaw(projectId, rolledBackId), Effect.fail("rollback" as const))))
          .pipe(
            Effect.provide(two),
            Effect.flip
          )

        // Two writers, concurrently, each through its own store (its own pool and wake-up).
        yield* Effect.all([
          Effect.forEach(Array.from({ length: 20 }), () =>
            appendContact(projectId, 2), { concurrency: 4 }).pipe(Effect.provide(one)),
          Effect.forEach(Array.from({ length: 20 }), () =>
            appendContact(projectId, 2), { concurrency: 4 }).pipe(Effect.provide(two))
        ], { concurrency: 2 })

        // The slow transaction is still open: readers stall behind it and deliver nothing after it.
        yield* Effect.sleep("400 millis")
        expect(seen).toEqual([])
        const stalled = yield* LogStream.LogSource.pipe(
          Effect.flatMap((source) =>
            source.lag(EventStore.start, projectId)
          ),
          Effect.provide(one)
        )
        expect(stalled.events).toBe(120)

        yield* Deferred.succeed(writersDone, undefined)
        yield* Fiber.join(slow)
        const expected = yield* Effect.provide(logOrder(projectId), one)
        expect(expected).toHaveLength(121)
        expect(expected[0]).toBe(slowId)
        expect(expected).not.toContain(rolledBackId)

        const deadline = Date.now() + 10_000
        while (seen.length < expected.length && Date.now() < deadline)
          yield* Effect.sleep("20 millis")
        yield* Effect.sleep("200 millis")
        yield* Fiber.interrupt(subscriber)
        expect(seen).toEqual(expected)
      }).pipe(Effect.scoped),
    60_000
  )
})
