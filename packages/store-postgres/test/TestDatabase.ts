/**
 * A fresh, empty database per test file, so runs never see each other's rows: on the PostgreSQL
 * server at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as StorePostgres from "../src/StorePostgres.js"

/** The server the tests use. */
export const adminUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

const withDatabase = (url: string, database: string) => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

/** Creates a database for the scope and drops it after. */
export const database = Effect.gen(function*() {
  const name = `tracklog_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
  const admin = yield* PgClient.make({ url: Redacted.make(adminUrl), maxConnections: 1 })
  yield* Effect.acquireRelease(
    admin.unsafe(`CREATE DATABASE ${name}`),
    () => Effect.orDie(admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  )
  return { url: withDatabase(adminUrl, name), admin: admin as SqlClient.SqlClient }
}).pipe(Effect.provide(Reactivity.layer))

/** The store on a fresh database, with its `SqlClient`. */
export const layer = (options: { readonly maxConnections?: number } = {}) =>
  Layer.unwrapScoped(Effect.map(database, ({ url }) => StorePostgres.layer({ url, ...options })))
