import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import type * as StoreError from "@tracklog/core/StoreError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { createHash } from "node:crypto"
import type * as Pg from "pg"
import * as SqlErrors from "./sqlError.js"

/** The `pg` pool under the store's `SqlClient`, when the store built that client itself. */
export class Pool extends Context.Tag("@tracklog/store-postgres/DirectQuery/Pool")<Pool, Pg.Pool>() {}

/** A statement of fixed text, bounded by the store's timeout; never inside a transaction. */
export type Query = <Row extends object>(
  text: string,
  values: ReadonlyArray<unknown>
) => Effect.Effect<ReadonlyArray<Row>, SqlError | StoreError.StoreUnavailable>

// Prepared statements are session state, and PGlite (the embedded store) has one session that
// every connection to it shares. So each connection prepares under names of its own: the
// connection's serial in this process, then a digest of the text. Two connections never meet each
// other's names, and what a closed one prepared is dropped by the next one to connect (`dropStale`).
let lastSerial = 0
const serials = new WeakMap<Pg.ClientBase, number>()
// Serials of connections open now, in every pool of this process.
const open = new Set<number>()
const Prefix = "tracklog_"
// Pools whose closing connections are watched (once each, whatever number of stores share one).
const watched = new WeakSet<Pg.Pool>()

const serialOf = (client: Pg.ClientBase) => {
  let serial = serials.get(client)
  if (serial === undefined) {
    serial = ++lastSerial
    serials.set(client, serial)
    open.add(serial)
  }
  return serial
}

const digests = new Map<string, string>()
const digestOf = (text: string) => {
  let digest = digests.get(text)
  if (digest === undefined) {
    digest = createHash("sha256").update(text).digest("hex").slice(0, 24)
    digests.set(text, digest)
  }
  return digest
}

/**
 * Run by the pool on each new connection, before it is used: drops the statements of connections
 * of this process that have closed. A new session on a server has none (one cheap read); PGlite's
 * one session keeps them until then.
 */
export const dropStale = async (client: Pg.ClientBase): Promise<void> => {
  const { rows } = await client.query<{ name: string }>(
    `SELECT name FROM pg_prepared_statements WHERE starts_with(name, '${Prefix}')`
  )
  const stale = rows.map((r) => r.name).filter((name) => !open.has(Number(name.slice(Prefix.length).split("_")[0])))
  // One at a time, each allowed to fail: a connection opening at the same moment (another pool on
  // the same PGlite) may drop the same ones first.
  for (const name of stale) await client.query(`DEALLOCATE "${name}"`).catch(() => undefined)
}

/**
 * The batched statements of the track path, sent straight to the pool when there is one: one
 * callback and one timer per statement. Through `@effect/sql`, with the store's `bounded`
 * (a disconnected child fiber raced against a sleeping one), a statement cost ~2.5× the client
 * CPU of the same query on `pg` (docs/decisions/0020-direct-hot-statements.md). Without a pool (a
 * client given to `StorePostgres.make`) the same text goes through the client.
 * Each text is prepared once per connection (docs/decisions/0025-prepared-hot-statements.md).
 */
export const make = (options: {
  readonly sql: SqlClient.SqlClient
  readonly pool: Option.Option<Pg.Pool>
  readonly timeout: Duration.Duration
  /** Prepares each text once per connection, under a name of that connection's (default true). */
  readonly prepare?: boolean | undefined
}): Query => {
  if (Option.isNone(options.pool)) {
    const bounded = SqlErrors.bounded(options.timeout)
    return <Row extends object>(text: string, values: ReadonlyArray<unknown>) =>
      bounded(options.sql.unsafe<Row>(text, values))
  }
  const pool = options.pool.value
  const millis = Duration.toMillis(options.timeout)
  const prepare = options.prepare ?? true
  if (prepare && !watched.has(pool)) {
    watched.add(pool)
    pool.on("remove", (client) => open.delete(serials.get(client) ?? 0))
  }
  return <Row extends object>(text: string, values: ReadonlyArray<unknown>) =>
    Effect.async<ReadonlyArray<Row>, SqlError | StoreError.StoreUnavailable>((resume) => {
      let done = false
      // Past the timeout the caller is answered and the statement left to finish or fail alone,
      // as `SqlErrors.bounded` does.
      const timer = setTimeout(() => {
        done = true
        resume(Effect.fail(SqlErrors.timedOut()))
      }, millis)
      const answer = (
        error: Error | undefined,
        rows: ReadonlyArray<Row> | undefined,
        message = "Failed to execute statement"
      ) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resume(error !== undefined ? Effect.fail(new SqlError({ cause: error, message })) : Effect.succeed(rows!))
      }
      // What `pool.query` does, with the connection in hand to name the statement after it: a
      // connection that fails, or a statement that does, is released with its error (and closed).
      pool.connect((error, client, release) => {
        // Named as `@effect/sql-pg` names it: whatever the database answered, it is an outage.
        if (error !== undefined || client === undefined)
          return answer(error ?? new Error("no connection"), undefined, SqlErrors.AcquireFailed)
        let released = false
        const finish = (error: Error | undefined, rows: ReadonlyArray<Row> | undefined) => {
          if (released) return
          released = true
          client.removeListener("error", finish)
          release(error)
          answer(error, rows)
        }
        client.once("error", finish)
        const query: Pg.QueryConfig = prepare
          ? { name: `${Prefix}${serialOf(client)}_${digestOf(text)}`, text, values: values as Array<unknown> }
          : { text, values: values as Array<unknown> }
        try {
          client.query<Row & Pg.QueryResultRow>(
            query,
            (error, result) => finish(error ?? undefined, error ? undefined : result.rows)
          )
        } catch (error) {
          finish(error instanceof Error ? error : new Error(String(error)), undefined)
        }
      })
      // A caller that goes away leaves the statement to finish alone too: never cancelled (see
      // `SqlErrors.bounded`); only the timer goes.
      return Effect.sync(() => {
        done = true
        clearTimeout(timer)
      })
    })
}
