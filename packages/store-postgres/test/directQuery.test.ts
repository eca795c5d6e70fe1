/**
 * The track path's statements are prepared once per connection, under names of that connection
 * (its serial, then a digest of the text), or sent unnamed when the store is told not to prepare
 * them (a pooler without session state). On PGlite, whose one session every connection shares,
 * connections never meet each other's names and what a closed one prepared is dropped.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Duration from "effect/Duration"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Pg from "pg"
import * as DirectQuery from "../src/internal/directQuery.js"
import * as StorePostgres from "../src/StorePostgres.js"

// One connection: what is prepared on it is visible to the next statement.
const onePool = Effect.flatMap(TestDatabase.server, (db) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const pool = new Pg.Pool({ connectionString: db.url, max: 1 })
      // As the store's own pool: a connection that ends while the test database is being dropped
      // gets "terminating connection", which an idle client re-emits on the pool.
      pool.on("error", () => {})
      return pool
    }),
    (pool) => Effect.promise(() => pool.end())
  ))

// The statements straight to `pool`, as the store sends them (no `SqlClient`: a pool is given).
const directOn = (pool: Pg.Pool, prepare?: boolean) =>
  DirectQuery.make({
    sql: undefined as unknown as SqlClient.SqlClient,
    pool: Option.some(pool),
    timeout: Duration.seconds(5),
    prepare
  })

const prepared = (pool: Pg.Pool) =>
  Effect.promise(() =>
    pool.query<{ name: string; statement: string }>("SELECT name, statement FROM pg_prepared_statements")
  )
    .pipe(Effect.map((result) => result.rows))

describe("DirectQuery", () => {
  it.scopedLive("prepares each text once per connection, named by its text", () =>
    Effect.gen(function*() {
      const pool = yield* onePool
      const query = directOn(pool)
      const one = "SELECT $1::int + 1 AS n"
      const two = "SELECT $1::int + 2 AS n"
      expect(yield* query<{ n: number }>(one, [1])).toEqual([{ n: 2 }])
      expect(yield* query<{ n: number }>(one, [5])).toEqual([{ n: 6 }])
      expect(yield* query<{ n: number }>(two, [5])).toEqual([{ n: 7 }])
      const statements = yield* prepared(pool)
      expect(statements.map((s) => s.statement).sort()).toEqual([one, two])
      expect(new Set(statements.map((s) => s.name)).size).toBe(2)
      for (const { name } of statements) expect(name).toMatch(/^tracklog_\d+_[0-9a-f]{24}$/)
      // Another store on the same pool gives the same text on the same connection the same name.
      const again = directOn(pool)
      expect(yield* again<{ n: number }>(one, [9])).toEqual([{ n: 10 }])
      expect((yield* prepared(pool)).length).toBe(2)
    }))

  it.scopedLive("without `prepare`, sends every statement unnamed", () =>
    Effect.gen(function*() {
      const pool = yield* onePool
      const query = directOn(pool, false)
      expect(yield* query<{ n: number }>("SELECT $1::int + 1 AS n", [1])).toEqual([{ n: 2 }])
      expect(yield* prepared(pool)).toEqual([])
    }))
})

for (const backend of TestDatabase.backends) {
  describe(`DirectQuery on the store's pool: ${backend.name}`, () => {
    // PGlite keeps one session for every connection: what a closed connection prepared is still
    // there when the pool connects again, and must not clash with the new client's statements.
    it.scopedLive("a statement prepared, its connection closed, then prepared again on a new one", () =>
      Effect.gen(function*() {
        const db = yield* backend.database
        const context = yield* Layer.build(StorePostgres.layerClient({ url: db.url, maxConnections: 1 }))
        const pool = Context.get(context, DirectQuery.Pool)
        const query = directOn(pool)
        const text = "SELECT $1::int * 2 AS n"
        expect(yield* query<{ n: number }>(text, [2])).toEqual([{ n: 4 }])
        for (let round = 0; round < 3; round++) {
          const client = yield* Effect.promise(() => pool.connect())
          client.release(true)
          expect(yield* query<{ n: number }>(text, [round])).toEqual([{ n: round * 2 }])
        }
        // Only the open connection's statements are left (this one, prepared too, and the one
        // above), whatever the session keeps.
        const left = yield* query<{ name: string }>(
          "SELECT name FROM pg_prepared_statements WHERE starts_with(name, 'tracklog_')",
          []
        )
        expect(left.length).toBe(2)
        expect(new Set(left.map(({ name }) => name.split("_")[1])).size).toBe(1)
      }))
  })
}
