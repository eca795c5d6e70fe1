/**
 * Durable processors' checkpoints and leases (`Processor.ProcessorStore`, behaviour §5.3) on
 * PostgreSQL (docs/decisions/0011-processor-checkpoints-and-instances.md).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as SqlError from "@effect/sql/SqlError"
import type * as LogStream from "@tracklog/core/LogStream"
import * as Processor from "@tracklog/core/Processor"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Database from "./database.js"
import * as SqlErrors from "./sqlError.js"

/**
 * The `ProcessorStore` of a Postgres store: one `processors` row per name holding the checkpoint
 * and a lease (owner, expiry by the database's clock, renewed by heartbeat). No advisory locks:
 * the embedded Postgres serves one connection, which a session lock would pin.
 */
export const make = (options: {
  readonly sql: SqlClient.SqlClient
  readonly guard: Database.Guard
  /** Notified after each commit: a handler may have appended (segment transitions). */
  readonly signal?: LogStream.Signal | undefined
}) => {
  const { guard, sql } = options
  return Processor.ProcessorStore.of({
    claim: (name, owner, ttl) =>
      guard(sql<{ transaction_id: string; global_position: string }>`
        INSERT INTO processors (name, owner, lease_until)
        VALUES (${name}, ${owner}, clock_timestamp() + ${Duration.toMillis(ttl)} * interval '1 millisecond')
        ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until
        WHERE processors.owner = EXCLUDED.owner OR processors.owner IS NULL OR processors.lease_until < clock_timestamp()
        RETURNING transaction_id::text, global_position::text`).pipe(
        Effect.map((rows) =>
          Option.map(
            Option.fromNullable(rows[0]),
            (r) => ({ transactionId: BigInt(r.transaction_id), position: BigInt(r.global_position) })
          )
        )
      ),
    release: (name, owner) =>
      guard(sql`UPDATE processors SET owner = NULL, lease_until = NULL WHERE name = ${name} AND owner = ${owner}`).pipe(
        Effect.asVoid
      ),
    // The handler's writes through this `SqlClient` join the transaction: a failed compare-and-set
    // fails it, and they roll back with it.
    commit: (name, owner, from, to, work) =>
      sql.withTransaction(Effect.gen(function*() {
        const a = yield* work
        const moved = yield* SqlErrors.orUnavailable(sql`
          UPDATE processors SET transaction_id = ${to.transactionId.toString()}::xid8, global_position = ${to.position.toString()}::bigint,
            updated_at = now()
          WHERE name = ${name} AND owner = ${owner}
            AND transaction_id = ${from.transactionId.toString()}::xid8 AND global_position = ${from.position.toString()}::bigint
          RETURNING name`)
        if (moved.length === 0) return yield* new Processor.CheckpointConflict({ name })
        return a
      })).pipe(
        // Committed: this process's live readers wake for what the handler appended, at once.
        Effect.tap(() => Effect.sync(() => options.signal?.notify())),
        Effect.catchIf(
          (e): e is SqlError.SqlError => e instanceof SqlError.SqlError,
          (e) => SqlErrors.orUnavailable(Effect.fail(e))
        )
      ),
    status: (name) =>
      guard(sql<{ transaction_id: string; global_position: string; owner: string | null }>`
        SELECT transaction_id::text, global_position::text,
          CASE WHEN lease_until > clock_timestamp() THEN owner END AS owner
        FROM processors WHERE name = ${name}`).pipe(
        Effect.map((rows) =>
          Option.map(Option.fromNullable(rows[0]), (r) => ({
            checkpoint: { transactionId: BigInt(r.transaction_id), position: BigInt(r.global_position) },
            owner: Option.fromNullable(r.owner)
          }))
        )
      )
  })
}
