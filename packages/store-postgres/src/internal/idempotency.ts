/**
 * Idempotency records (behaviour §6) on PostgreSQL: how a record is written (inside the append's
 * statement or transaction, `encodeRecord`), found, expired, and trimmed when a contact it names
 * is erased. The rules are `Idempotency.isLive` and `Idempotency.withoutContact`; here they run
 * inside the statements, so a record is never read and written back outside the step that must be
 * atomic. `IdempotencyContract` and `ErasureContract` hold both stores to the same answers.
 */
import type * as SqlError from "@effect/sql/SqlError"
import type * as Idempotency from "@tracklog/core/Idempotency"
import type * as StoreError from "@tracklog/core/StoreError"
import * as Timestamp from "@tracklog/core/Timestamp"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Batcher from "./batcher.js"
import type * as Database from "./database.js"

/** A record as the append writes it: its key (for the group commit's batching) and its row, as JSON. */
export const encodeRecord = (record: Idempotency.Record, streamId: string) => ({
  id: `${record.projectId}\u0001${record.key}`,
  row: JSON.stringify({
    stream_id: streamId,
    project_id: record.projectId,
    key: record.key,
    fingerprint: record.fingerprint,
    status: record.answer.status,
    body: record.answer.body,
    contact_ids: record.contactIds,
    created_at: Timestamp.iso(record.createdAt)
  })
})

interface Row {
  readonly project_id: string
  readonly key: string
  readonly fingerprint: string
  readonly status: number
  readonly body: string
  readonly contact_ids: ReadonlyArray<string>
  readonly created_at: Date
}

const toRecord = (row: Row): Idempotency.Record => ({
  projectId: row.project_id,
  key: row.key,
  fingerprint: row.fingerprint,
  answer: { status: row.status, body: row.body },
  contactIds: row.contact_ids,
  createdAt: row.created_at
})

// The lookup of the batched keys. A record is live from its `created_at` on (`Idempotency.isLive`:
// at or after `not_before`); an expired one is removed by the statement that finds it, so its key
// is free.
const Find = `
  WITH k AS (
    SELECT * FROM json_to_recordset($1::json) AS k(project_id text, key text, not_before timestamptz)
  ), expired AS (
    DELETE FROM idempotency_keys i USING k
    WHERE i.project_id = k.project_id AND i.key = k.key AND i.created_at < k.not_before
  )
  SELECT i.project_id, i.key, i.fingerprint, i.status, i.body, i.contact_ids, i.created_at
  FROM k CROSS JOIN LATERAL (
    -- One index probe per key whatever the statistics, as the contact lookup.
    SELECT * FROM idempotency_keys
    WHERE project_id = k.project_id AND key = k.key AND created_at >= k.not_before LIMIT 1
  ) i`

/** The records of a store. */
export const make = (db: Database.Database) => {
  const { guard, sql } = db

  // Batched like the track path's contact reads: one query for every key looked up meanwhile.
  const find = Batcher.make<
    { readonly projectId: string; readonly key: string; readonly notBefore: Date },
    Option.Option<Idempotency.Record>,
    StoreError.StoreUnavailable
  >({
    ...db.batching,
    run: (batch) =>
      db.directGuarded<Row>(Find, [
        JSON.stringify(
          batch.map((k) => ({ project_id: k.projectId, key: k.key, not_before: Timestamp.iso(k.notBefore) }))
        )
      ]).pipe(
        Effect.map((rows) => {
          const found = new Map(rows.map((row) => [`${row.project_id}\u0000${row.key}`, toRecord(row)]))
          return batch.map((k) => Exit.succeed(Option.fromNullable(found.get(`${k.projectId}\u0000${k.key}`))))
        })
      )
  })

  return {
    find: (projectId: string, key: string, notBefore: Date) => find({ projectId, key, notBefore }),
    // In bounded slices by the created_at index: old rows only, so appends never wait on it.
    expire: (before: Date) =>
      guard(sql<{ count: string }>`
        WITH gone AS (
          DELETE FROM idempotency_keys WHERE (project_id, key) IN (
            SELECT project_id, key FROM idempotency_keys WHERE created_at < ${before} LIMIT 10000)
          RETURNING 1
        )
        SELECT count(*)::text AS count FROM gone`).pipe(Effect.map((rows) => Number(rows[0]?.count ?? 0))),
    /** Stores a record, in the caller's transaction; a key already stored is a unique violation. */
    insert: (record: Idempotency.Record): Effect.Effect<void, SqlError.SqlError> =>
      Effect.asVoid(
        sql`INSERT INTO idempotency_keys (project_id, key, fingerprint, status, body, contact_ids, created_at)
        SELECT k.project_id, k.key, k.fingerprint, k.status, k.body, k.contact_ids, k.created_at
        FROM json_populate_record(null::idempotency_keys, ${encodeRecord(record, "").row}::json) AS k`
      ),
    /**
     * `Idempotency.withoutContact` for every record of the project, in the erasure's transaction:
     * the records naming only the contact go; one that names others too (a batch's) stays without
     * it, so a retry of it cannot track them twice
     * (docs/decisions/0029-erasure-keeps-shared-batch-records.md).
     */
    withoutContact: (projectId: string, contactId: string): Effect.Effect<void, SqlError.SqlError> =>
      Effect.gen(function*() {
        const named = sql`project_id = ${projectId} AND contact_ids @> ARRAY[${contactId}]::text[]`
        yield* sql`DELETE FROM idempotency_keys WHERE ${named} AND contact_ids <@ ARRAY[${contactId}]::text[]`
        yield* sql`UPDATE idempotency_keys SET contact_ids = array_remove(contact_ids, ${contactId}::text)
          WHERE ${named}`
      })
  }
}
