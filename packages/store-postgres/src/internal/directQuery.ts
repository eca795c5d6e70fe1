import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import type * as StoreError from "@tracklog/core/StoreError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Pg from "pg"
import * as SqlErrors from "./sqlError.js"

/** The `pg` pool under the store's `SqlClient`, when the store built that client itself. */
export class Pool extends Context.Tag("@tracklog/store-postgres/DirectQuery/Pool")<Pool, Pg.Pool>() {}

/** A statement of fixed text, bounded by the store's timeout; never inside a transaction. */
export type Query = <Row extends object>(
  text: string,
  values: ReadonlyArray<unknown>
) => Effect.Effect<ReadonlyArray<Row>, SqlError | StoreError.StoreUnavailable>

/**
 * The batched statements of the track path, sent straight to the pool when there is one: one
 * callback and one timer per statement. Through `@effect/sql`, with the store's `bounded`
 * (a disconnected child fiber raced against a sleeping one), a statement cost ~2.5× the client
 * CPU of the same query on `pg` (docs/decisions/0020-direct-hot-statements.md). Without a pool (a
 * client given to `StorePostgres.make`) the same text goes through the client.
 */
export const make = (options: {
  readonly sql: SqlClient.SqlClient
  readonly pool: Option.Option<Pg.Pool>
  readonly timeout: Duration.Duration
}): Query => {
  if (Option.isNone(options.pool)) {
    const bounded = SqlErrors.bounded(options.timeout)
    return <Row extends object>(text: string, values: ReadonlyArray<unknown>) =>
      bounded(options.sql.unsafe<Row>(text, values))
  }
  const pool = options.pool.value
  const millis = Duration.toMillis(options.timeout)
  return <Row extends object>(text: string, values: ReadonlyArray<unknown>) =>
    Effect.async<ReadonlyArray<Row>, SqlError | StoreError.StoreUnavailable>((resume) => {
      let done = false
      // Past the timeout the caller is answered and the statement left to finish or fail alone,
      // as `SqlErrors.bounded` does.
      const timer = setTimeout(() => {
        done = true
        resume(Effect.fail(SqlErrors.timedOut()))
      }, millis)
      pool.query<Row & Pg.QueryResultRow>(text, values as Array<unknown>, (error, result) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resume(
          error
            ? Effect.fail(new SqlError({ cause: error, message: "Failed to execute statement" }))
            : Effect.succeed(result.rows)
        )
      })
      // A caller that goes away leaves the statement to finish alone too: never cancelled (see
      // `SqlErrors.bounded`); only the timer goes.
      return Effect.sync(() => {
        done = true
        clearTimeout(timer)
      })
    })
}
