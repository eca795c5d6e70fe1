/**
 * Migration 0005 on a database that already has projects: each gets its own secret, and so does
 * every project made afterwards, by any path (behaviour §7).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Migrations from "../src/Migrations.js"
import * as TestDatabase from "../src/testing/TestDatabase.js"

for (const backend of TestDatabase.backends) {
  describe(`migration 0005_suppressions: ${backend.name}`, () => {
    it.scoped(
      "existing projects each get a distinct secret; new ones get one from the default",
      () =>
        Effect.gen(function*() {
          const db = yield* backend.database
          const client = yield* Layer.build(
            PgClient.layer({ url: Redacted.make(db.url), maxConnections: 1 }).pipe(Layer.provide(Reactivity.layer))
          )
          yield* Effect.gen(function*() {
            const sql = yield* SqlClient.SqlClient
            // The schema as it was before 0005, with projects in it.
            const before = Object.fromEntries(Object.entries(Migrations.migrations).filter(([name]) => name < "0005"))
            yield* sql`CREATE TABLE tracklog_migrations (migration_id integer PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), name text NOT NULL)`
            yield* Migrator.make({})({ loader: Migrator.fromRecord(before), table: "tracklog_migrations" })
            yield* sql`INSERT INTO projects (id) VALUES ('old-1'), ('old-2'), ('old-3')`
            yield* Migrations.run
            yield* sql`INSERT INTO projects (id) VALUES ('new-1')`
            const rows = yield* sql<
              { id: string; hmac_secret: string }
            >`SELECT id, hmac_secret FROM projects ORDER BY id`
            expect(rows.map((r) => r.id)).toEqual(["new-1", "old-1", "old-2", "old-3"])
            for (const row of rows) expect(row.hmac_secret).toMatch(/^[0-9a-f]{64}$/)
            expect(new Set(rows.map((r) => r.hmac_secret)).size).toBe(4)
            const columns = yield* sql<{ column_name: string }>`
            SELECT column_name FROM information_schema.columns WHERE table_name = 'suppressions' ORDER BY ordinal_position`
            expect(columns.map((c) => c.column_name)).toEqual(["project_id", "email_hash", "created_at"])
          }).pipe(Effect.provide(client))
        }),
      60_000
    )
  })
}
