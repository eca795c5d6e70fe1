/**
 * A fresh, empty database per test file, so runs never see each other's rows. Two backends:
 * the PostgreSQL server at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), and
 * the embedded Postgres, a new in-memory instance each time. Where no server answers, `server`
 * says so and runs on the embedded one, so nothing is skipped.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as EmbeddedPostgres from "../EmbeddedPostgres.js"
import * as StorePostgres from "../StorePostgres.js"

/** The server the tests use. */
export const adminUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

/** A database for one test file. */
export interface Database {
  readonly backend: "postgres" | "embedded"
  readonly url: string
  /** Pool size the backend supports: the embedded one serves one session. */
  readonly maxConnections: number
  /** Runs SQL as an administrator, outside the test's pools. */
  readonly admin: (sql: string) => Effect.Effect<unknown>
}

const withDatabase = (url: string, database: string) => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

/** A new in-memory embedded Postgres for the scope. */
export const embedded: Effect.Effect<Database, never, Scope.Scope> = Effect.gen(function*() {
  const { url } = yield* Effect.orDie(EmbeddedPostgres.make({}))
  const admin = yield* Effect.orDie(PgClient.make({ url: Redacted.make(url), maxConnections: 1 }))
  return {
    backend: "embedded" as const,
    url,
    maxConnections: 1,
    admin: (sql: string) => Effect.orDie(admin.unsafe(sql))
  }
}).pipe(Effect.provide(Reactivity.layer))

/** A database created on the server for the scope and dropped after; the embedded one if no server answers. */
export const server: Effect.Effect<Database, never, Scope.Scope> = Effect.gen(function*() {
  const connected = yield* Effect.either(PgClient.make({ url: Redacted.make(adminUrl), maxConnections: 1 }))
  if (connected._tag === "Left") {
    console.warn(`[tracklog tests] no PostgreSQL server at ${new URL(adminUrl).host}; using the embedded Postgres`)
    return yield* embedded
  }
  const admin = connected.right
  const name = `tracklog_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
  yield* Effect.acquireRelease(
    Effect.orDie(admin.unsafe(`CREATE DATABASE ${name}`)),
    () => Effect.orDie(admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  )
  return {
    backend: "postgres" as const,
    url: withDatabase(adminUrl, name),
    maxConnections: 10,
    admin: (sql: string) => Effect.orDie(admin.unsafe(sql))
  }
}).pipe(Effect.provide(Reactivity.layer))

/** Both backends, for suites that run on each. */
export const backends = [
  { name: `postgres (${new URL(adminUrl).host})`, database: server },
  { name: "embedded postgres", database: embedded }
] as const

/** The database a test layer runs on. */
export class CurrentDatabase
  extends Context.Tag("@tracklog/store-postgres/testing/CurrentDatabase")<CurrentDatabase, Database>()
{}

/** The store on a fresh database of the backend, with its `SqlClient` and `CurrentDatabase`. */
export const layer = (database: Effect.Effect<Database, never, Scope.Scope> = server) =>
  Layer.unwrapScoped(
    Effect.map(database, (db) =>
      StorePostgres.layer({ url: db.url, maxConnections: db.maxConnections }).pipe(
        Layer.merge(Layer.succeed(CurrentDatabase, db))
      ))
  )
