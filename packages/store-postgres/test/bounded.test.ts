/**
 * A statement is never cancelled: not when its caller goes away (an event stream's client
 * disconnecting) and not when it outlasts the operation timeout. The driver's cancel is a signal
 * to the backend that can land after the statement ended and cancel the next statement on that
 * pooled connection, somebody else's, which was then answered 503. On the server and embedded.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as SqlErrors from "../src/internal/sqlError.js"
import * as StorePostgres from "../src/StorePostgres.js"

for (const backend of TestDatabase.backends) {
  describe(`SqlErrors.bounded: ${backend.name}`, () => {
    // Two connections where the backend has them: the driver's cancel takes the second one, so
    // it would reach the backend while the statement runs.
    const client = Effect.flatMap(
      backend.database,
      (db) => Layer.build(StorePostgres.layerClient({ url: db.url, maxConnections: Math.min(2, db.maxConnections) }))
    ).pipe(
      Effect.flatMap((context) => Effect.provide(SqlClient.SqlClient, context)),
      // The table the slow statements write to.
      Effect.tap((sql) => Effect.orDie(sql`CREATE TABLE marks (n int)`))
    )

    // Slow enough that the caller leaves while it runs.
    const slowInsert = (sql: SqlClient.SqlClient, n: number) =>
      sql`INSERT INTO marks SELECT ${n} FROM pg_sleep(0.3)`.pipe(Effect.orDie)
    // What the abandoned statement wrote, once it could have ended (2 s at most).
    const marks = (sql: SqlClient.SqlClient) =>
      Effect.gen(function*() {
        for (let tries = 0;; tries++) {
          const rows = yield* Effect.orDie(sql<{ n: number }>`SELECT n FROM marks ORDER BY n`)
          if (rows.length > 0 || tries === 40) return rows.map((r) => r.n)
          yield* Effect.sleep(Duration.millis(50))
        }
      })

    it.scopedLive(
      "a statement whose caller is interrupted runs to its end, and the pool goes on",
      () =>
        Effect.gen(function*() {
          const sql = yield* client
          const caller = yield* Effect.fork(SqlErrors.bounded(Duration.seconds(5))(slowInsert(sql, 1)))
          yield* Effect.sleep(Duration.millis(80))
          yield* Fiber.interrupt(caller)
          expect(yield* sql<{ ok: number }>`SELECT 1 AS ok FROM pg_sleep(0.05)`.pipe(Effect.orDie)).toEqual([{ ok: 1 }])
          expect(yield* marks(sql)).toEqual([1])
        }),
      20_000
    )

    it.scopedLive(
      "past the timeout the caller gets StoreUnavailable at once, and the statement still commits",
      () =>
        Effect.gen(function*() {
          const sql = yield* client
          const error = yield* Effect.flip(SqlErrors.bounded(Duration.millis(50))(slowInsert(sql, 2)))
          expect(error._tag).toBe("StoreUnavailable")
          expect(yield* sql<{ ok: number }>`SELECT 1 AS ok`.pipe(Effect.orDie)).toEqual([{ ok: 1 }])
          expect(yield* marks(sql)).toEqual([2])
        }),
      20_000
    )
  })
}
