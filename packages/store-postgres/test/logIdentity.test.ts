/**
 * Migration 0006 and the log's identity (behaviour §5.1, decision 0033): one epoch per database,
 * the same for every store (every process) on it; cursors without an epoch are taken only where
 * the database held events before the migration, so it may have handed them out.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { describe, expect, it } from "@effect/vitest"
import * as LogStream from "@tracklog/core/LogStream"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Migrations from "../src/Migrations.js"
import * as StorePostgres from "../src/StorePostgres.js"
import * as TestDatabase from "../src/testing/TestDatabase.js"

const client = (url: string) =>
  Layer.build(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 }).pipe(Layer.provide(Reactivity.layer)))

// The identity a store on the database reads, as a server process would.
const identityOf = (db: TestDatabase.Database) =>
  Effect.map(
    Layer.build(StorePostgres.layer({ url: db.url, maxConnections: db.maxConnections })),
    (context) => Context.get(context, LogStream.LogSource).identity
  )

// The schema as it was before 0006, then, after `fill`, the migrations of this version.
const migrateFrom0005 = (fill: Effect.Effect<unknown, unknown, SqlClient.SqlClient>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const before = Object.fromEntries(Object.entries(Migrations.migrations).filter(([name]) => name < "0006"))
    yield* sql`CREATE TABLE tracklog_migrations (migration_id integer PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), name text NOT NULL)`
    yield* Migrator.make({})({ loader: Migrator.fromRecord(before), table: "tracklog_migrations" })
    yield* fill
    yield* Migrations.run
  })

for (const backend of TestDatabase.backends) {
  describe(`log identity (migration 0006_log_identity): ${backend.name}`, () => {
    it.scoped(
      "a new database has one epoch, the same for every store on it, and takes no cursor without it",
      () =>
        Effect.gen(function*() {
          const db = yield* backend.database
          const one = yield* identityOf(db)
          const two = yield* identityOf(db)
          expect(one.epoch).toMatch(/^[0-9a-f]{16}$/)
          expect(one).toEqual({ epoch: one.epoch, legacyCursors: false })
          expect(two).toEqual(one)
          // Another database, another log.
          expect((yield* identityOf(yield* backend.database)).epoch).not.toBe(one.epoch)
          // One row, never a second.
          const second = yield* Effect.flip(
            Effect.provide(
              Effect.flatMap(
                SqlClient.SqlClient,
                (sql) => sql`INSERT INTO log_identity (epoch, legacy_cursors) VALUES ('0123456789abcdef', false)`
              ),
              yield* client(db.url)
            )
          )
          expect(second._tag).toBe("SqlError")
        }),
      60_000
    )

    it.scoped(
      "a database that held events before 0006 still takes cursors without an epoch; one that held none does not",
      () =>
        Effect.gen(function*() {
          const used = yield* backend.database
          yield* Effect.provide(
            migrateFrom0005(Effect.flatMap(SqlClient.SqlClient, (sql) =>
              sql`INSERT INTO events (stream_id, project_id, version, id, type, data, created_at)
              VALUES ('s1', 'p1', 1, 'e1', 'EventTracked', '{}'::json, now())`)),
            yield* client(used.url)
          )
          const kept = yield* identityOf(used)
          expect(kept).toEqual({ epoch: expect.stringMatching(/^[0-9a-f]{16}$/), legacyCursors: true })

          const empty = yield* backend.database
          yield* Effect.provide(migrateFrom0005(Effect.void), yield* client(empty.url))
          expect((yield* identityOf(empty)).legacyCursors).toBe(false)
        }),
      60_000
    )
  })
}
