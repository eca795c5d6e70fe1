/**
 * Segment transitions appended to their contacts' streams (`Membership.Write.transitions`,
 * behaviour §11.3), inside the caller's transaction: as an append does, each stream row is locked,
 * its version taken, the events inserted after it and the version moved, stream and contact
 * projection together. A track that read the contact before waits on the lock and then fails its
 * compare-and-set, so it is decided again after the transition, never interleaved with it.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import type * as Membership from "@tracklog/core/Membership"
import * as Timestamp from "@tracklog/core/Timestamp"
import * as Effect from "effect/Effect"

/** Appends the transitions in their order; a contact that no longer exists (erased) gets none. */
export const append = (sql: SqlClient.SqlClient, transitions: ReadonlyArray<Membership.Transition>) =>
  Effect.gen(function*() {
    if (transitions.length === 0) return
    const ids = [...new Set(transitions.map((t) => t.contactId))]
    // One order for every writer of this statement, so two never wait on each other's rows. The
    // group commit locks in its own order: a deadlock with it fails one side, which retries.
    const locked = yield* sql<{ stream_id: string; version: number }>`
      SELECT stream_id, version FROM streams WHERE stream_id = ANY (${ids}::text[])
      ORDER BY stream_id FOR UPDATE`
    const versions = new Map(locked.map((r) => [r.stream_id, r.version]))
    const events: Array<Record<string, unknown>> = []
    for (const t of transitions) {
      const version = versions.get(t.contactId)
      if (version === undefined) continue
      versions.set(t.contactId, version + 1)
      // Built by the processor from a segment's own fields: nothing to validate (and validating was
      // a tenth of a due drain's time).
      const event = new ContactEvent.EventTracked({ name: t.name, data: t.data, at: t.at }, true)
      events.push({
        n: events.length,
        stream_id: t.contactId,
        project_id: t.projectId,
        version: version + 1,
        id: t.eventId,
        type: event._tag,
        data: ContactEvent.encode(event),
        created_at: Timestamp.iso(t.at)
      })
    }
    if (events.length === 0) return
    // The events take their transaction id and position from the column defaults, as every
    // append's do: readers see them in log order once this transaction commits. Only for contacts
    // that live in their project: a statement of its own after the lock, so under READ COMMITTED
    // it sees every commit made before the lock was granted (an erasure that held the stream has
    // removed its contact). Each contact is probed by its key, and the streams and contacts moved
    // are found by their keys from an array: index lookups whatever the statistics, where a join
    // on the input was planned as a scan of every contact (plans.test.ts).
    yield* sql`
      WITH living AS MATERIALIZED (
        SELECT e.* FROM json_to_recordset(${JSON.stringify(events)}::json) AS e(
          stream_id text, project_id text, version integer, id text, type text, data json, created_at timestamptz, n integer)
        CROSS JOIN LATERAL (
          SELECT 1 FROM contacts c WHERE c.id = e.stream_id AND c.project_id = e.project_id LIMIT 1
        ) c
      ), appended AS (
        INSERT INTO events (stream_id, project_id, version, id, type, data, created_at, bytes)
        SELECT e.stream_id, e.project_id, e.version, e.id, e.type, e.data, e.created_at, octet_length(e.data::text)
        FROM living e ORDER BY e.n
      ), heads AS MATERIALIZED (
        SELECT stream_id, max(version) AS version FROM living GROUP BY stream_id
      ), streamed AS (
        UPDATE streams s SET version = h.version FROM heads h
        WHERE s.stream_id = ANY (ARRAY(SELECT stream_id FROM heads)) AND s.stream_id = h.stream_id
      )
      UPDATE contacts c SET version = h.version FROM heads h
      WHERE c.id = ANY (ARRAY(SELECT stream_id FROM heads)) AND c.id = h.stream_id`
  })
