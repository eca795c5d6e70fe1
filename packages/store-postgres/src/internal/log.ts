/**
 * The log read back (`EventStore.readStream`, `readAll`, behaviour §4): one stream in version order,
 * and the whole log after a checkpoint, in log order with no gap.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import type * as EventStore from "@tracklog/core/EventStore"
import * as Effect from "effect/Effect"
import type * as Database from "./database.js"
import * as EventRow from "./eventRow.js"

/**
 * A page of events (`page`, a FROM item named `events`, in log order by `order`) cut where its
 * payloads pass `maxBytes` (`EventStore.readAll`); still a prefix, and never empty for want of
 * room. Only the sizes are summed: a payload left out is neither read nor decompressed.
 */
export const bounded = (
  sql: SqlClient.SqlClient,
  page: Statement.Fragment,
  order: Statement.Fragment,
  maxBytes: number | undefined
): Statement.Fragment =>
  maxBytes === undefined ? page : sql`(
    SELECT *, sum(coalesce(events.bytes, pg_column_size(events.data))) OVER (ORDER BY ${order})
      - coalesce(events.bytes, pg_column_size(events.data)) AS bytes_before
    FROM ${page}
  ) AS events`

/** The condition that goes with `bounded`. */
export const within = (sql: SqlClient.SqlClient, maxBytes: number | undefined): Statement.Fragment =>
  maxBytes === undefined ? sql`` : sql`AND events.bytes_before < ${maxBytes}`

/** The columns to read from `bounded`: `EventRow.columns`, and the bytes up to each row. */
export const boundedColumns = (sql: SqlClient.SqlClient, maxBytes: number | undefined): Statement.Fragment =>
  sql.literal(
    maxBytes === undefined
      ? EventRow.columns
      : `${EventRow.columns}, events.bytes_before + coalesce(events.bytes, pg_column_size(events.data))`
  )

/**
 * The rows of `boundedColumns` as a page after `after`. It may have been cut by its bytes when it
 * is short of `limit` and its bytes reached `maxBytes` (the next row did not fit, if there was one).
 */
export const batchOf = (
  rows: ReadonlyArray<ReadonlyArray<unknown>>,
  after: EventStore.Checkpoint,
  limit: number,
  maxBytes: number | undefined
): EventStore.Batch => {
  const events = rows.map(EventRow.toRecorded)
  const last = events[events.length - 1]
  const through = Number(rows[rows.length - 1]?.[7] ?? 0)
  return {
    events,
    checkpoint: last === undefined ? after : { transactionId: last.transactionId, position: last.position },
    cut: maxBytes !== undefined && events.length > 0 && events.length < limit && through >= maxBytes
  }
}

/** The reads of a store's log. */
export const make = ({ guard, sql }: Database.Database) => {
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
      guard(
        sql`
        SELECT ${boundedColumns(sql, maxBytes)}
        FROM ${
          bounded(
            sql,
            sql`(
          SELECT * FROM events
          WHERE (transaction_id, global_position) > (${after.transactionId.toString()}::xid8, ${after.position.toString()}::bigint)
          ORDER BY transaction_id, global_position
          LIMIT ${limit}
        ) AS events`,
            sql`events.transaction_id, events.global_position`,
            maxBytes
          )
        }
        WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot()) ${within(sql, maxBytes)}
        ORDER BY events.transaction_id, events.global_position`.values
      ).pipe(Effect.map((rows) => batchOf(rows, after, limit, maxBytes)))
  }
}
