/**
 * The log read back (`EventStore.readStream`, `readAll`, behaviour §4): one stream in version order,
 * and the whole log after a checkpoint, in log order with no gap.
 */
import type * as EventStore from "@tracklog/core/EventStore"
import * as Effect from "effect/Effect"
import type * as Database from "./database.js"
import * as EventRow from "./eventRow.js"

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
    readAll: (after: EventStore.Checkpoint, limit: number) =>
      guard(
        sql`
        SELECT ${columns}
        FROM (
          SELECT * FROM events
          WHERE (transaction_id, global_position) > (${after.transactionId.toString()}::xid8, ${after.position.toString()}::bigint)
          ORDER BY transaction_id, global_position
          LIMIT ${limit}
        ) AS events
        WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY events.transaction_id, events.global_position`.values
      ).pipe(Effect.map((rows) => {
        const events = rows.map(EventRow.toRecorded)
        const last = events[events.length - 1]
        return {
          events,
          checkpoint: last === undefined ? after : { transactionId: last.transactionId, position: last.position }
        }
      }))
  }
}
