/**
 * An event row as the store reads it: the columns as an array, the payload as text, parsed here
 * (a third of the driver's cost with named columns and its own json parsing, which bounds replay
 * speed). int8 and xid8 arrive as text too, decoded explicitly to bigint.
 */
import * as ContactEvent from "@tracklog/core/ContactEvent"
import type * as EventStore from "@tracklog/core/EventStore"

/** The columns, in the order `toRecorded` reads them. */
export const columns = "id, stream_id, project_id, version, transaction_id::text, global_position::text, data::text"

/** A row of `columns` as a recorded event. */
export const toRecorded = (row: ReadonlyArray<unknown>): EventStore.RecordedEvent => ({
  id: row[0] as string,
  streamId: row[1] as string,
  projectId: row[2] as string,
  version: row[3] as number,
  transactionId: BigInt(row[4] as string),
  position: BigInt(row[5] as string),
  event: ContactEvent.decode(JSON.parse(row[6] as string))
})
