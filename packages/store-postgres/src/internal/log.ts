/**
 * The log read back (`EventStore.readStream`, `readAll`, behaviour §4): one stream in version order,
 * and the whole log after a checkpoint, in log order with no gap.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import type * as EventStore from "@tracklog/core/EventStore"
import type * as StoreError from "@tracklog/core/StoreError"
import * as Effect from "effect/Effect"
import type * as Database from "./database.js"
import * as EventRow from "./eventRow.js"

// A row's payload size: as written, or for a row written before sizes were (migration 0010) as stored.
const size = "coalesce(events.bytes, pg_column_size(events.data))"

// The page with each row's running size through it. Only the sizes are summed: a payload left out
// is neither read nor decompressed.
const sized = (sql: SqlClient.SqlClient, page: Statement.Fragment, order: Statement.Fragment) =>
  sql`(SELECT *, sum(${sql.literal(size)}) OVER (ORDER BY ${order}) AS bytes_through FROM ${page}) AS events`

/**
 * The whole log's next `limit` events after `after`, as a FROM item named `events`, and its
 * order. Taken by walking the index in order (see `readAll`).
 */
export const next = (
  sql: SqlClient.SqlClient,
  after: EventStore.Checkpoint,
  limit: number
): readonly [Statement.Fragment, Statement.Fragment] => [
  sql`(
    SELECT * FROM events
    WHERE (transaction_id, global_position) > (${after.transactionId.toString()}::xid8, ${after.position.toString()}::bigint)
    ORDER BY transaction_id, global_position
    LIMIT ${limit}
  ) AS events`,
  sql`events.transaction_id, events.global_position`
]

/**
 * A page of the log (`page`, a FROM item named `events`, of at most `limit` events after `after`
 * in log order by `order`) as a reader gets it: only transactions below the oldest running one
 * (see `readAll`), and with `maxBytes`, cut before the event that would take its payloads past it
 * (`EventStore.readAll`); a prefix still, never empty for want of room, and `cut` when it may
 * have stopped at its bytes (short of `limit`, its bytes at the bound).
 */
export const read = (
  { guard, sql }: Pick<Database.Database, "guard" | "sql">,
  page: readonly [Statement.Fragment, Statement.Fragment],
  after: EventStore.Checkpoint,
  limit: number,
  maxBytes: number | undefined
): Effect.Effect<EventStore.Batch, StoreError.StoreUnavailable> => {
  const [from, order] = page
  return guard(
    maxBytes === undefined
      ? sql`
        SELECT ${sql.literal(EventRow.columns)} FROM ${from}
        WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY ${order}`.values
      : sql`
        SELECT ${sql.literal(EventRow.columns)}, events.bytes_through FROM ${sized(sql, from, order)}
        WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          AND events.bytes_through - ${sql.literal(size)} < ${maxBytes}
        ORDER BY ${order}`.values
  ).pipe(Effect.map((rows) => {
    const events = rows.map(EventRow.toRecorded)
    const last = events[events.length - 1]
    const through = Number(rows[rows.length - 1]?.[7] ?? 0)
    return {
      events,
      checkpoint: last === undefined ? after : { transactionId: last.transactionId, position: last.position },
      cut: maxBytes !== undefined && events.length > 0 && events.length < limit && through >= maxBytes
    }
  }))
}

/** The reads of a store's log. */
export const make = (db: Database.Database) => {
  const { guard, sql } = db
  const columns = sql.literal(EventRow.columns)
  return {
    readStream: (streamId: string) =>
      guard(sql`SELECT ${columns} FROM events WHERE stream_id = ${streamId} ORDER BY version`.values).pipe(
        Effect.map((rows) => rows.map(EventRow.toRecorded))
      ),
    // Only transactions below the oldest running one are read: one that began earlier but
    // commits later can then never land behind a checkpoint (Emmett PR #336). The next `limit`
    // events in log order are taken first and that filter applied after: rows are ordered by
    // transaction, so what passes is still a prefix of the log with no gap. In one WHERE, a
    // table whose statistics lag behind (a fresh or bulk-loaded log) got a bitmap scan of every
    // remaining row and a sort on disk per page, ~20× slower than walking the index in order.
    // The outer ORDER BY names the columns: the bare names would sort by the `::text` outputs.
    readAll: (after: EventStore.Checkpoint, limit: number, maxBytes?: number) =>
      read(db, next(sql, after, limit), after, limit, maxBytes)
  }
}
