/**
 * Erasure (behaviour §7) on PostgreSQL: the `Erase` projection of an append
 * (docs/decisions/0014-erasure-physical-deletion-and-hmac-suppression.md, 0032). One transaction,
 * opened by the compare-and-set of the stream, whose row lock orders it with any append to the
 * contact: a track that commits first moves the version, so this erasure conflicts and is decided
 * again (erasing that track too); one that commits after conflicts itself, and is decided again on
 * no contact.
 */
import type * as SqlError from "@effect/sql/SqlError"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as EventStore from "@tracklog/core/EventStore"
import type * as StoreError from "@tracklog/core/StoreError"
import * as Timestamp from "@tracklog/core/Timestamp"
import * as Effect from "effect/Effect"
import type * as Database from "./database.js"
import * as SqlErrors from "./sqlError.js"

/** What an erasure's append asks of the projection. */
export type Erase = Extract<EventStore.Projection, { readonly _tag: "Erase" }>

/** The erasure of a store. */
export const make = (options: {
  readonly db: Database.Database
  /** Removes the contact from the records of its tracks, in the erasure's transaction. */
  readonly withoutContact: (projectId: string, contactId: string) => Effect.Effect<void, SqlError.SqlError>
  /** Puts the email on its project's list, in the erasure's transaction. */
  readonly suppressWithin: (projectId: string, email: string) => Effect.Effect<void, SqlError.SqlError>
  /** Drops the contact's webhook messages and their payloads, in the erasure's transaction. */
  readonly withoutWebhooks: (projectId: string, contactId: string) => Effect.Effect<void, SqlError.SqlError>
}) => {
  const { bounded, sql } = options.db
  const conflict = (input: EventStore.Append) =>
    new EventStore.ConcurrencyConflict({
      streamId: input.streamId,
      expectedVersion: input.expectedVersion,
      reason: "version"
    })

  return (
    input: EventStore.Append,
    { projectId, suppress }: Erase
  ): Effect.Effect<void, EventStore.ConcurrencyConflict | StoreError.StoreUnavailable> =>
    sql.withTransaction(Effect.gen(function*() {
      const moved = yield* sql`
        UPDATE streams SET version = ${input.expectedVersion + input.events.length}
        WHERE stream_id = ${input.streamId} AND version = ${input.expectedVersion}
        RETURNING stream_id`
      if (moved.length === 0) return yield* conflict(input)
      const erased = yield* sql<{ email: string }>`
        DELETE FROM contacts WHERE id = ${input.streamId} AND project_id = ${projectId} RETURNING email`
      if (erased.length === 0) return yield* conflict(input)
      yield* sql`DELETE FROM events WHERE stream_id = ${input.streamId}`
      yield* options.withoutContact(projectId, input.streamId)
      // Its segment membership goes too; its exits are not recorded (`contact.erased` says it).
      yield* sql`DELETE FROM segment_snapshots WHERE contact_id = ${input.streamId}`
      yield* sql`DELETE FROM segment_members WHERE contact_id = ${input.streamId}`
      yield* options.withoutWebhooks(projectId, input.streamId)
      if (suppress) yield* options.suppressWithin(projectId, erased[0]!.email)
      for (const [i, { event, id }] of input.events.entries()) {
        const data = JSON.stringify(ContactEvent.encode(event))
        yield* sql`
          INSERT INTO events (stream_id, project_id, version, id, type, data, created_at, bytes)
          VALUES (${input.streamId}, ${projectId}, ${input.expectedVersion + i + 1}, ${id}, ${event._tag},
            ${data}::json, ${Timestamp.iso(event.at)}::timestamptz, ${Buffer.byteLength(data)})`
      }
    })).pipe(
      // A deadlock with a group commit: nothing was written; decide again.
      Effect.catchTag(
        "SqlError",
        (e): Effect.Effect<never, EventStore.ConcurrencyConflict | StoreError.StoreUnavailable> =>
          SqlErrors.isRetryable(e) ? Effect.fail(conflict(input)) : SqlErrors.orUnavailable(Effect.fail(e))
      ),
      bounded
    )
}
