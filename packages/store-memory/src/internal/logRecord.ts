/**
 * One event of the memory store's log, as the JSON text it is kept as, and the tombstone an
 * erasure leaves in its place.
 *
 * The log keeps each event as text in buffers outside the heap, not as the ~7 objects it decodes
 * to, which the garbage collector would copy and mark again and again as the log grows
 * (docs/decisions/0009-memory-log-as-text.md). Events round-trip through JSON as they do in
 * Postgres.
 */
import * as ContactEvent from "@tracklog/core/ContactEvent"
import type * as EventStore from "@tracklog/core/EventStore"
import type * as TextLog from "./textLog.js"

/** What the text of a live event holds. Its log position is its index in the log, plus one. */
export interface Stored {
  readonly id: string
  readonly streamId: string
  readonly projectId: string
  readonly version: number
  readonly transactionId: number
  readonly event: ContactEvent.Encoded
}

/**
 * What an erased event's text is overwritten with (behaviour §7): its transaction, so a reader can
 * still move its checkpoint past it, and nothing else.
 */
export interface Tombstone {
  readonly erased: number
}

/** The text of an event. Throws for an event that cannot be encoded (a `BigInt` in its data). */
export const encode = (stored: Omit<Stored, "event"> & { readonly event: ContactEvent.ContactEvent }): string =>
  JSON.stringify(
    {
      id: stored.id,
      streamId: stored.streamId,
      projectId: stored.projectId,
      version: stored.version,
      transactionId: stored.transactionId,
      event: ContactEvent.encode(stored.event)
    } satisfies Stored
  )

/** The text an erased event leaves: never longer than the event's own, so it fits in its place. */
export const tombstone = (transactionId: number): string =>
  JSON.stringify({ erased: transactionId } satisfies Tombstone)

/** The record at a log position (from 1). */
export const at = (log: TextLog.TextLog, position: number): Stored | Tombstone => JSON.parse(log.get(position - 1))

/** True for the record of an erased event. */
export const isErased = (record: Stored | Tombstone): record is Tombstone => "erased" in record

/** A live record as the log port hands it out: its event decoded. */
export const toRecorded = (stored: Stored, position: number): EventStore.RecordedEvent => ({
  id: stored.id,
  streamId: stored.streamId,
  projectId: stored.projectId,
  version: stored.version,
  transactionId: BigInt(stored.transactionId),
  position: BigInt(position),
  event: ContactEvent.decode(stored.event)
})

/** The checkpoint of a record: where a reader is once it has read past it, erased or not. */
export const checkpointOf = (record: Stored | Tombstone, position: number): EventStore.Checkpoint => ({
  transactionId: BigInt(isErased(record) ? record.erased : record.transactionId),
  position: BigInt(position)
})
