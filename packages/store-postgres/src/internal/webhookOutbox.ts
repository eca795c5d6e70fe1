/**
 * Webhook messages (`WebhookOutbox`, behaviour §12) on PostgreSQL. Queued by the dispatcher inside
 * its checkpoint's transaction (so through the store's `SqlClient`, never the direct pool); claimed
 * by `FOR UPDATE SKIP LOCKED` and a lease, so processes share the work without holding the same
 * message at once (docs/decisions/0041-webhook-work-shared-by-leases.md).
 */
import type * as SqlError from "@effect/sql/SqlError"
import type * as WebhookSchedule from "@tracklog/core/WebhookSchedule"
import * as WebhookOutbox from "@tracklog/core/WebhookOutbox"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as StoreError from "@tracklog/core/StoreError"
import * as StoreMetrics from "../StoreMetrics.js"
import * as Batcher from "./batcher.js"
import type * as Database from "./database.js"

interface Row {
  readonly seq: string
  readonly id: string
  readonly project_id: string
  readonly endpoint_id: string
  readonly contact_id: string
  readonly event_id: string
  readonly type: string
  readonly payload: string
  readonly status: WebhookOutbox.Status
  readonly attempts: ReadonlyArray<{ at: string; status: number | null; durationMs: number; error: string | null }>
  readonly next_ms: number | null
  readonly created_ms: number
}

// Instants as milliseconds (float8 reaches the driver as a number), not as the driver's `Date` parsing.
const columns = (t: string) =>
  `${t}.seq::text AS seq, ${t}.id, ${t}.project_id, ${t}.endpoint_id, ${t}.contact_id, ${t}.event_id, ${t}.type,
  ${t}.payload, ${t}.status, ${t}.attempts, (extract(epoch FROM ${t}.next_attempt_at) * 1000)::float8 AS next_ms,
  (extract(epoch FROM ${t}.created_at) * 1000)::float8 AS created_ms`

const decode = (row: Row): WebhookOutbox.Message => ({
  seq: Number(row.seq),
  id: row.id,
  projectId: row.project_id,
  endpointId: row.endpoint_id,
  contactId: row.contact_id,
  eventId: row.event_id,
  type: row.type,
  payload: row.payload,
  status: row.status,
  attempts: row.attempts.map((a) => ({ ...a, at: new Date(a.at) })),
  nextAttemptAt: row.next_ms === null ? null : new Date(row.next_ms),
  createdAt: new Date(row.created_ms)
})

interface Settle {
  readonly messageId: string
  readonly owner: string
  readonly attempt: WebhookSchedule.Attempt
  readonly next: WebhookOutbox.Settlement
}

/** Drops every message of an erased contact, in the erasure's transaction (behaviour §7, §12). */
export const eraseContact =
  (db: Database.Database) => (projectId: string, contactId: string): Effect.Effect<void, SqlError.SqlError> =>
    Effect.asVoid(db.sql`DELETE FROM webhook_messages WHERE project_id = ${projectId} AND contact_id = ${contactId}`)

/** The `WebhookOutbox` of a Postgres store. */
export const make = (db: Database.Database): WebhookOutbox.WebhookOutbox["Type"] => {
  const { guard, sql } = db
  const rows = (effect: Effect.Effect<ReadonlyArray<Row>, SqlError.SqlError>) =>
    Effect.map(guard(effect), (found) => found.map(decode))
  // Attempts end one by one, many at a time: recorded together, one statement per round trip.
  const settle = Batcher.make<Settle, boolean, StoreError.StoreUnavailable>({
    ...db.batching,
    onBatch: StoreMetrics.batchSizeOf("webhook_settle"),
    keyOf: (item) => [item.messageId],
    run: (items) =>
      guard(sql<{ id: string }>`
        UPDATE webhook_messages m SET attempts = m.attempts || jsonb_build_array(r.attempt),
          status = r.status, next_attempt_at = r.next_at::timestamptz, lease_owner = NULL, lease_until = NULL
        FROM json_to_recordset(${
        JSON.stringify(items.map(({ attempt, messageId, next, owner }) => ({
          id: messageId,
          owner,
          attempt: { ...attempt, at: attempt.at.toISOString() },
          status: next._tag === "Delivered" ? "delivered" : next._tag === "Failed" ? "failed" : "pending",
          next_at: next._tag === "RetryAt" ? next.at.toISOString() : null
        })))
      }::json) AS r(id text, owner text, attempt jsonb, status text, next_at text)
        WHERE m.id = r.id AND m.lease_owner = r.owner
        RETURNING m.id`).pipe(
        Effect.map((updated) => {
          const done = new Set(updated.map((u) => u.id))
          return items.map((item) => Exit.succeed(done.has(item.messageId)))
        })
      )
  })
  return WebhookOutbox.WebhookOutbox.of({
    // In log order (the array's): `seq` follows it. A message whose event is gone from the log (its
    // contact erased since the dispatcher read it) or whose endpoint was deleted is left out. A
    // message is leased as it is queued when the claim's own rules would hand it out now. Each
    // check is a subquery of a select list, so one index probe per message whatever the
    // estimates: as a join over the input's fixed estimate, a never-analyzed table was scanned.
    enqueue: (messages, lease) =>
      messages.length === 0 ?
        Effect.succeed({ queued: 0, leased: [] }) :
        guard(sql<{ id: string; seq: string; leased: boolean }>`
        WITH input AS MATERIALIZED (
          SELECT r.*, row_number() OVER (PARTITION BY r.endpoint_id, r.contact_id ORDER BY r.n) AS k,
            (SELECT e.enabled FROM webhook_endpoints e WHERE e.id = r.endpoint_id) AS enabled,
            (SELECT true FROM events ev WHERE ev.id = r.event_id LIMIT 1) AS logged
          FROM ROWS FROM (json_to_recordset(${
          JSON.stringify(messages.map((m) => ({
            id: m.id,
            project_id: m.projectId,
            endpoint_id: m.endpointId,
            contact_id: m.contactId,
            event_id: m.eventId,
            type: m.type,
            payload: m.payload,
            created_at: m.createdAt.toISOString()
          })))
        }::json) AS (id text, project_id text, endpoint_id text, contact_id text, event_id text, type text,
            payload text, created_at text)) WITH ORDINALITY AS r(id, project_id, endpoint_id, contact_id, event_id,
            type, payload, created_at, n)
        ), kept AS MATERIALIZED (
          SELECT i.*, CASE WHEN ${lease?.owner ?? null}::text IS NULL OR i.k > 1 OR NOT i.enabled
              OR i.endpoint_id = ANY (${lease?.exclude ?? []}::text[]) THEN false
            ELSE (
              SELECT true FROM webhook_messages p
              WHERE p.endpoint_id = i.endpoint_id AND p.contact_id = i.contact_id AND p.status = 'pending' LIMIT 1
            ) IS NULL END AS qualifies
          FROM input i
          WHERE i.enabled IS NOT NULL AND i.logged IS NOT NULL
        ), leasing AS (
          SELECT n FROM kept WHERE qualifies ORDER BY n LIMIT ${lease?.limit ?? 0}
        )
        INSERT INTO webhook_messages (id, project_id, endpoint_id, contact_id, event_id, type, payload, status,
          next_attempt_at, created_at, lease_owner, lease_until)
        SELECT r.id, r.project_id, r.endpoint_id, r.contact_id, r.event_id, r.type, r.payload, 'pending',
          r.created_at::timestamptz, r.created_at::timestamptz,
          CASE WHEN l.n IS NULL THEN NULL ELSE ${lease?.owner ?? null}::text END,
          CASE WHEN l.n IS NULL THEN NULL ELSE ${lease?.until.toISOString() ?? null}::timestamptz END
        FROM kept r LEFT JOIN leasing l ON l.n = r.n
        ORDER BY r.n
        ON CONFLICT (endpoint_id, event_id) DO NOTHING
        RETURNING id, seq::text AS seq, lease_owner IS NOT NULL AS leased`).pipe(
          Effect.map((inserted) => {
            const byId = new Map(messages.map((m) => [m.id, m]))
            const leased = inserted.flatMap((row): Array<WebhookOutbox.Message> => {
              const message = byId.get(row.id)
              return row.leased && message !== undefined
                ? [WebhookOutbox.queued(message, Number(row.seq))]
                : []
            })
            return { queued: inserted.length, leased: leased.sort((a, b) => a.seq - b.seq) }
          })
        ),
    claim: ({ exclude = [], lease, limit, now, owner }) =>
      rows(sql<Row>`
        WITH due AS (
          SELECT seq FROM tracklog_claimable(${now.toISOString()}::timestamptz, ${limit}, ${exclude}::text[]) AS seq
        )
        UPDATE webhook_messages w SET lease_owner = ${owner},
          lease_until = ${new Date(now.getTime() + Duration.toMillis(lease)).toISOString()}::timestamptz
        FROM due WHERE w.seq = due.seq
        RETURNING ${sql.literal(columns("w"))}`).pipe(
        Effect.map((claimed) =>
          [...claimed].sort((a, b) => (a.nextAttemptAt?.getTime() ?? 0) - (b.nextAttemptAt?.getTime() ?? 0))
        )
      ),
    settle: (messageId, owner, attempt, next) => settle({ messageId, owner, attempt, next }),
    list: (projectId, endpointId, { cursor, limit, status }) =>
      rows(sql<Row>`
        SELECT ${sql.literal(columns("m"))} FROM webhook_messages m
        WHERE endpoint_id = ${endpointId} AND project_id = ${projectId}
          ${status === undefined ? sql`` : sql`AND status = ${status}`}
          ${cursor === undefined ? sql`` : sql`AND seq < ${cursor}`}
        ORDER BY seq DESC LIMIT ${limit + 1}`).pipe(
        Effect.map((found) => {
          const data = found.slice(0, limit)
          const hasMore = found.length > limit
          return { data, hasMore, ...(hasMore ? { cursor: data[data.length - 1]!.seq } : {}) }
        })
      ),
    retry: (projectId, endpointId, messageId, now) =>
      rows(sql<Row>`
        UPDATE webhook_messages m SET status = 'pending', next_attempt_at = ${now.toISOString()}::timestamptz
        WHERE id = ${messageId} AND endpoint_id = ${endpointId} AND project_id = ${projectId}
        RETURNING ${sql.literal(columns("m"))}`).pipe(Effect.map((found) => Option.fromNullable(found[0]))),
    depth: guard(sql<{ pending: number; oldest_ms: number | null }>`
      SELECT count(*)::int AS pending, (extract(epoch FROM min(created_at)) * 1000)::float8 AS oldest_ms
      FROM webhook_messages WHERE status = 'pending'`).pipe(
      Effect.map(([row]) => ({
        pending: row?.pending ?? 0,
        oldestPendingAt: row === undefined || row.oldest_ms === null ? null : new Date(row.oldest_ms)
      }))
    )
  })
}
