/**
 * The log read live (`LogStream.LogSource`, behaviour §5.1, §5.3) on PostgreSQL, and the log's
 * identity that its cursors name (docs/decisions/0033-cursors-name-their-log.md).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import * as EventStore from "@tracklog/core/EventStore"
import * as LogStream from "@tracklog/core/LogStream"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Database from "./database.js"
import * as Log from "./log.js"

/**
 * The `LogSource` of a Postgres store; `signal` is notified by its appends, `identity` is the
 * database's (`readIdentity`).
 */
export const makeLogSource = (options: {
  readonly sql: SqlClient.SqlClient
  readonly guard: Database.Guard
  readonly identity: LogStream.Identity
  readonly signal: LogStream.Signal
  readonly pollInterval?: Duration.DurationInput | undefined
}) => {
  const { guard, sql } = options
  const inProject = (
    projectId: string | undefined
  ) => (projectId === undefined ? sql`` : sql`AND project_id = ${projectId}`)
  const after = (checkpoint: EventStore.Checkpoint) =>
    sql`(transaction_id, global_position) > (${checkpoint.transactionId.toString()}::xid8, ${checkpoint.position.toString()}::bigint)`
  return LogStream.LogSource.of({
    identity: options.identity,
    // As `readAll` (`log.ts`): the next page in log order first, the xmin filter (and the
    // bytes) after it, so what passes is a prefix with no gap; a project's page is a range of
    // its index.
    read: (checkpoint, limit, projectId, maxBytes) => {
      const t = checkpoint.transactionId.toString()
      const p = checkpoint.position.toString()
      // A project's page comes from a function, in its order. Ordered by its ordinality it needs no
      // sort (the planner knows that column is in order); ordered by the log's columns, every page
      // was sorted again, a third of a 10k-event page's time.
      const page = projectId === undefined
        ? Log.next(sql, checkpoint, limit)
        : [
          sql`tracklog_project_page(${projectId}, ${t}::xid8, ${p}::bigint, ${limit}) WITH ORDINALITY AS events`,
          sql`events.ordinality`
        ] as const
      return Log.read(options, page, checkpoint, limit, maxBytes)
    },
    // The last committed event: what commits after this moment gets a larger transaction id and
    // comes after it. Transactions in flight at this very moment are concurrent with "now" and
    // count as before it (docs/decisions/0010-log-wake-up.md); waiting for the xmin horizon
    // instead would replay events committed before the stream opened whenever any transaction
    // anywhere on the server is open.
    head: (projectId) =>
      guard(sql<{ transaction_id: string; global_position: string }>`
        SELECT transaction_id::text, global_position::text FROM events
        WHERE true ${inProject(projectId)}
        ORDER BY events.transaction_id DESC, events.global_position DESC LIMIT 1`).pipe(
        Effect.map((rows) =>
          rows[0] === undefined
            ? EventStore.start
            : { transactionId: BigInt(rows[0].transaction_id), position: BigInt(rows[0].global_position) }
        )
      ),
    // Counts what is held back behind an open transaction too: that is the stall to see.
    lag: (checkpoint, projectId) =>
      guard(sql<{ events: string; oldest: Date | null }>`
        SELECT count(*)::text AS events, min(created_at) AS oldest FROM events
        WHERE ${after(checkpoint)} ${inProject(projectId)}`).pipe(
        Effect.map((rows) => ({
          events: Number(rows[0]?.events ?? 0),
          oldestAt: Option.fromNullable(rows[0]?.oldest ?? null)
        }))
      ),
    signal: options.signal,
    pollInterval: Duration.decode(options.pollInterval ?? LogStream.DefaultPollInterval)
  })
}

/** The log's identity, as migration 0006 made it: one row, never changed, so read once per store. */
export const readIdentity = (sql: SqlClient.SqlClient): Effect.Effect<LogStream.Identity, SqlError.SqlError> =>
  sql<{ epoch: string; legacy_cursors: boolean }>`SELECT epoch, legacy_cursors FROM log_identity`.pipe(
    Effect.flatMap((rows) =>
      rows.length === 1
        ? Effect.succeed({ epoch: rows[0]!.epoch, legacyCursors: rows[0]!.legacy_cursors })
        : Effect.dieMessage(`log_identity holds ${rows.length} rows, not 1`)
    )
  )
