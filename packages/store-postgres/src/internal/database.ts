/**
 * What every port of the store is built on: the client, the operation timeout around its
 * statements, the direct path of the hot statements, and how the batchers group their calls.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import * as StoreError from "@tracklog/core/StoreError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as DirectQuery from "./directQuery.js"
import * as SqlErrors from "./sqlError.js"

/** A statement bounded by the timeout: an outage is `StoreUnavailable`, any other SQL error a defect. */
export type Guard = <A>(effect: Effect.Effect<A, SqlError.SqlError>) => Effect.Effect<A, StoreError.StoreUnavailable>

/** How every batcher of the store groups its calls (`Batcher.make`'s options but `run`). */
export interface Batching {
  readonly runFork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>
  readonly maxSize: number
  readonly maxInFlight: number
  readonly maxQueued: number
  readonly overflow: () => StoreError.StoreUnavailable
}

/** The database as the ports reach it. */
export interface Database {
  readonly sql: SqlClient.SqlClient
  /** Bounds an operation (a transaction, say) by the store's timeout. */
  readonly bounded: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StoreError.StoreUnavailable, R>
  readonly guard: Guard
  /** A statement of fixed text, straight to the pool when there is one; its `SqlError` left to the caller. */
  readonly direct: DirectQuery.Query
  /** The same, its `SqlError` classified as `guard` does. */
  readonly directGuarded: <Row extends object>(
    text: string,
    values: ReadonlyArray<unknown>
  ) => Effect.Effect<ReadonlyArray<Row>, StoreError.StoreUnavailable>
  readonly batching: Batching
}

// Beyond this many operations waiting on a database that does not keep up, answer at once.
const MaxQueued = 10_000

/** The database under the `SqlClient` in context (and its pool, `DirectQuery.Pool`, when there is one). */
export const make = (options: {
  readonly timeout?: Duration.DurationInput | undefined
  readonly maxBatch?: number | undefined
  readonly maxInFlight?: number | undefined
  readonly preparedStatements?: boolean | undefined
}): Effect.Effect<Database, never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const timeout = options.timeout ?? Duration.seconds(5)
    const bounded = SqlErrors.bounded(timeout)
    const guard: Guard = (effect) => bounded(SqlErrors.orUnavailable(effect))
    // The batched statements of the track path: fixed text, straight to the pool when there is one.
    const direct = DirectQuery.make({
      sql,
      pool: yield* Effect.serviceOption(DirectQuery.Pool),
      timeout: Duration.decode(timeout),
      prepare: options.preparedStatements
    })
    const directGuarded = <Row extends object>(text: string, values: ReadonlyArray<unknown>) =>
      Effect.catchTag(direct<Row>(text, values), "SqlError", (e) => SqlErrors.orUnavailable(Effect.fail(e)))
    // Batches run on the runtime that built the store, with its flags (a server turns Effect's
    // fiber metrics off), not on Effect's default one; interruptible whatever the builder was, or
    // a statement's timeout could not cut it off.
    const runtime = Runtime.enableRuntimeFlag(yield* Effect.runtime<never>(), RuntimeFlags.Interruption)
    const batching: Batching = {
      runFork: Runtime.runFork(runtime),
      maxSize: options.maxBatch ?? 256,
      maxInFlight: options.maxInFlight ?? 2,
      maxQueued: MaxQueued,
      overflow: () => new StoreError.StoreUnavailable({ reason: "too many operations waiting for the database" })
    }
    return { sql, bounded, guard, direct, directGuarded, batching }
  })
