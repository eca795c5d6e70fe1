/**
 * Segment membership (`Membership.MembershipStore`, behaviour §11.3) on PostgreSQL: the segment
 * processor's snapshots, the members, and its writes, each all or nothing. Called inside the
 * processor's `ProcessorStore.commit`, a write joins that transaction (`sql.withTransaction` nests
 * as a savepoint): its transitions and its checkpoint commit together or not at all.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import * as Contacts from "@tracklog/core/Contacts"
import * as Membership from "@tracklog/core/Membership"
import * as StoreError from "@tracklog/core/StoreError"
import type * as LogStream from "@tracklog/core/LogStream"
import * as Timestamp from "@tracklog/core/Timestamp"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ContactRow from "./contactRow.js"
import type * as Database from "./database.js"
import * as SqlErrors from "./sqlError.js"
import * as SnapshotRow from "./snapshotRow.js"
import * as Transitions from "./transitions.js"

// What `scan` leaves in a date it was not asked for.
const epoch = new Date(0)

// The last of each key: one statement cannot upsert a row twice.
const lastBy = <A>(items: ReadonlyArray<A>, key: (a: A) => string): ReadonlyArray<A> => [
  ...new Map(items.map((a) => [key(a), a])).values()
]

// A deadlock with an append or an erasure: nothing of the step was written, and it may be tried
// again, as any step that could not be stored; anything else is as `orUnavailable` says.
const classify = <A, R>(effect: Effect.Effect<A, SqlError.SqlError, R>) =>
  Effect.catchAll(
    effect,
    (e): Effect.Effect<never, StoreError.StoreUnavailable> =>
      SqlErrors.isRetryable(e)
        ? Effect.fail(new StoreError.StoreUnavailable({ reason: "segment write deadlocked; try again", cause: e }))
        : SqlErrors.orUnavailable(Effect.fail(e))
  )

/** The `MembershipStore` of a store; `signal` wakes this process's live readers after a write. */
export const make = (db: Database.Database, signal: LogStream.Signal) => {
  const { bounded, guard, sql } = db
  const snapshotRows = SnapshotRow.make(db)
  const contactColumns = sql.literal(ContactRow.columns.split(", ").map((c) => `c.${c}`).join(", "))

  // Bounded when it is its own transaction. Inside a caller's (the processor's commit) it is not:
  // a timeout would answer while its statements go on, and the caller's rollback or commit could
  // land between them. The caller's transaction is the operation to bound.
  const boundedAlone = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.flatMap(
      Effect.serviceOption(SqlClient.TransactionConnection),
      (outer): Effect.Effect<A, E | StoreError.StoreUnavailable, R> => Option.isSome(outer) ? effect : bounded(effect)
    )

  const write = (step: Membership.Write) =>
    sql.withTransaction(Effect.gen(function*() {
      // First: the stream locks, before any row an erasure of the same contact would wait on.
      yield* Transitions.append(sql, step.transitions)
      const snapshots = lastBy(step.snapshots, (s) => s.contact.id)
      if (snapshots.length > 0) {
        const stored = yield* snapshotRows.stored(snapshots)
        const rows = snapshots.map((s, i) => ({
          contact_id: s.contact.id,
          project_id: s.contact.projectId,
          snapshot: stored[i],
          due: s.due
        }))
        yield* sql`
          INSERT INTO segment_snapshots (contact_id, project_id, snapshot, due)
          SELECT contact_id, project_id, snapshot, due FROM json_to_recordset(${JSON.stringify(rows)}::json)
            AS s(contact_id text, project_id text, snapshot jsonb, due double precision)
          ON CONFLICT (contact_id) DO UPDATE
          SET project_id = EXCLUDED.project_id, snapshot = EXCLUDED.snapshot, due = EXCLUDED.due`
      }
      if (step.left.length > 0) {
        yield* sql`
          DELETE FROM segment_members m
          USING json_to_recordset(${JSON.stringify(step.left)}::json) AS l("segmentId" text, "contactId" text)
          WHERE m.segment_id = l."segmentId" AND m.contact_id = l."contactId"`
      }
      if (step.joined.length > 0) {
        const rows = lastBy(step.joined, (j) => `${j.segmentId}\u0000${j.contactId}`).map((j) => ({
          segment_id: j.segmentId,
          contact_id: j.contactId,
          entered_at: Timestamp.iso(new Date(j.at))
        }))
        yield* sql`
          INSERT INTO segment_members (segment_id, contact_id, entered_at)
          SELECT segment_id, contact_id, entered_at FROM json_to_recordset(${JSON.stringify(rows)}::json)
            AS j(segment_id text, contact_id text, entered_at timestamptz)
          ON CONFLICT (segment_id, contact_id) DO UPDATE SET entered_at = EXCLUDED.entered_at`
      }
      // After the snapshots and joins: an erased contact keeps nothing, whatever else the step holds.
      if (step.removed.length > 0) {
        yield* sql`DELETE FROM segment_snapshots WHERE contact_id = ANY (${step.removed}::text[])`
        yield* sql`DELETE FROM segment_members WHERE contact_id = ANY (${step.removed}::text[])`
      }
      const progress = lastBy(step.progress, (p) => p.segmentId)
      if (progress.length > 0) {
        // Only while the segment is at the revision the pass was of: an edit since starts over.
        yield* sql`
          UPDATE segments s SET build_cursor = p."buildCursor",
            built_revision = CASE WHEN p.built THEN s.revision ELSE s.built_revision END
          FROM json_to_recordset(${JSON.stringify(progress)}::json)
            AS p("segmentId" text, revision integer, "buildCursor" text, built boolean)
          WHERE s.id = p."segmentId" AND s.revision = p.revision`
      }
      if (step.purged.length > 0) {
        yield* sql`DELETE FROM segment_members WHERE segment_id = ANY (${step.purged}::text[])`
        yield* sql`DELETE FROM segments WHERE id = ANY (${step.purged}::text[])`
      }
    })).pipe(
      classify,
      boundedAlone,
      // Wakes this process's live readers for the transitions. Inside the processor's
      // transaction this is before its commit: `ProcessorStore.commit` notifies again after it.
      Effect.tap(() => step.transitions.length > 0 ? Effect.sync(() => signal.notify()) : Effect.void)
    )

  // Every snapshot forgotten and the processor back at the start of the log; or one segment's
  // members forgotten, and the segment taken out of each snapshot that holds it, so the
  // processor's baseline pass finds every member anew. Not bounded by the operation timeout: an
  // operator's command over every contact takes as long as it takes, as an import does.
  const rebuild = (segmentId: string | undefined) =>
    sql.withTransaction(Effect.gen(function*() {
      if (segmentId === undefined) {
        // Tables in the order a processor's step writes them, so the two do not deadlock; the
        // checkpoint last, as its commit moves it last.
        yield* sql`DELETE FROM segment_snapshots`
        yield* sql`DELETE FROM segment_members`
        yield* sql`UPDATE segments SET built_revision = 0, build_cursor = ''`
        yield* sql`UPDATE processors SET transaction_id = '0', global_position = 0, updated_at = now()
          WHERE name = ${Membership.ProcessorName}`
        return
      }
      // Under its id or its alias (`SnapshotRow`).
      yield* sql`
        WITH k AS (
          SELECT ARRAY[${segmentId}::text] || coalesce((SELECT ARRAY['#' || alias] FROM segments WHERE id = ${segmentId}), '{}') AS keys
        ), stripped AS (
          SELECT contact_id, (snapshot -> 'segments') - k.keys AS segments, (snapshot -> 'deadlines') - k.keys AS deadlines
          FROM segment_snapshots, k
          WHERE snapshot -> 'segments' ?| k.keys OR snapshot -> 'deadlines' ?| k.keys
        ), due AS (
          SELECT s.contact_id, s.segments, s.deadlines,
            (SELECT min(value::double precision) FROM jsonb_each_text(s.deadlines)) AS due
          FROM stripped s
        )
        UPDATE segment_snapshots t
        SET snapshot = t.snapshot || jsonb_build_object('segments', d.segments, 'deadlines', d.deadlines, 'due', d.due),
          due = d.due
        FROM due d WHERE t.contact_id = d.contact_id`
      yield* sql`DELETE FROM segment_members WHERE segment_id = ${segmentId}`
      yield* sql`UPDATE segments SET built_revision = 0, build_cursor = '' WHERE id = ${segmentId}`
    })).pipe(classify)

  return Membership.MembershipStore.of({
    snapshots: (contactIds) =>
      contactIds.length === 0
        ? Effect.succeed(new Map())
        : guard(
          sql<SnapshotRow.Row>`
          SELECT contact_id, project_id, due, snapshot FROM segment_snapshots
          WHERE contact_id = ANY (${contactIds}::text[])`.pipe(Effect.flatMap(snapshotRows.read))
        ).pipe(Effect.map((found) => new Map(found.map((s) => [s.contact.id, s])))),
    due: (before, limit) =>
      guard(
        sql<SnapshotRow.Row>`
        SELECT contact_id, project_id, due, snapshot FROM segment_snapshots WHERE due IS NOT NULL AND due <= ${before}
        ORDER BY due, contact_id LIMIT ${limit}`.pipe(Effect.flatMap(snapshotRows.read))
      ),
    // With the contact as the projection holds it (its whole data): see the port. The page is
    // taken first, by its index in order (migration 0011), and each contact probed by its key
    // after: in one join, a table whose statistics lag (a new segment table, a bulk load) got a
    // hash join of every snapshot with every contact per page, 360 ms a page at 100 000 contacts,
    // quadratic over a pass. The probe's LIMIT keeps the planner from pulling it up into such a
    // join again.
    page: (projectId, after, limit) =>
      guard(
        sql<SnapshotRow.Row & ContactRow.Row>`
        SELECT s.contact_id, s.due, s.snapshot, ${contactColumns}
        FROM tracklog_snapshot_page(${projectId}, ${after}, ${limit}) WITH ORDINALITY AS s
        CROSS JOIN LATERAL (SELECT * FROM contacts WHERE id = s.contact_id COLLATE "default" LIMIT 1) c
        ORDER BY s.ordinality`.pipe(
          Effect.flatMap((rows) =>
            Effect.map(snapshotRows.read(rows), (found) =>
              found.map((snapshot, i): Membership.Paged => ({
                ...snapshot,
                contact: ContactRow.toContact(rows[i]!),
                seen: snapshot.contact.version
              })))
          )
        )
      ),
    // Only the parts an audience reads, each taken out of the snapshot in the database: turning a
    // whole snapshot into text and parsing it here was most of an audience's time (485 ms of
    // database time for 100 000 snapshots, against 160 ms for these columns, and the parsing of
    // what is left out). By the index in order, as `page`; rows as arrays.
    scan: (projectId, after, limit, { attributes, data, events }) => {
      const field = (read: boolean, column: string) => read ? sql.literal(column) : sql.literal("NULL")
      return guard(
        sql`
        SELECT s.contact_id,
          ${field(attributes.has("email"), "s.snapshot->'contact'->>'email'")},
          ${field(attributes.has("subscribed"), "s.snapshot->'contact'->>'subscribed'")},
          ${field(attributes.has("createdAt"), "s.snapshot->'contact'->>'createdAt'")},
          ${field(attributes.has("updatedAt"), "s.snapshot->'contact'->>'updatedAt'")},
          ${field(data, "(s.snapshot->'contact'->'data')::text")},
          ${field(events.length > 0, "(s.snapshot->'facts')::text")}
        FROM tracklog_snapshot_page(${projectId}, ${after}, ${limit}) WITH ORDINALITY AS s
        ORDER BY s.ordinality`.values
      ).pipe(
        Effect.map((rows) =>
          rows.map((row): Membership.Snapshot => ({
            contact: {
              id: row[0] as string,
              projectId,
              email: (row[1] as string | null) ?? "",
              subscribed: row[2] === "true",
              createdAt: row[3] === null ? epoch : new Date(row[3] as string),
              updatedAt: row[4] === null ? epoch : new Date(row[4] as string),
              version: 0,
              data: row[5] === null ? {} : JSON.parse(row[5] as string)
            },
            facts: row[6] === null ? {} : JSON.parse(row[6] as string),
            segments: {},
            deadlines: {},
            due: null
          }))
        )
      )
    },
    write,
    // The page first, as `page` takes it; the contacts' own collation on the probe, so each member
    // is one probe of their primary key.
    members: (segmentId, request) =>
      guard(sql<ContactRow.Row & { entered_at: Date }>`
        SELECT m.entered_at, ${contactColumns}
        FROM tracklog_member_page(${segmentId}, ${request.cursor ?? ""}, ${request.limit + 1}) WITH ORDINALITY AS m
        CROSS JOIN LATERAL (SELECT * FROM contacts WHERE id = m.contact_id COLLATE "default" LIMIT 1) c
        ORDER BY m.ordinality`).pipe(
        Effect.map((rows) =>
          Contacts.page(
            rows.map((row): Membership.Member => ({ contact: ContactRow.toContact(row), enteredAt: row.entered_at })),
            request.limit,
            (member) => member.contact.id
          )
        )
      ),
    count: (segmentId) =>
      guard(sql<{ n: number }>`SELECT count(*)::int AS n FROM segment_members WHERE segment_id = ${segmentId}`).pipe(
        Effect.map((rows) => rows[0]?.n ?? 0)
      ),
    segmentsOf: (contactId) =>
      guard(sql<{ segment_id: string; entered_at: Date }>`
        SELECT segment_id, entered_at FROM segment_members WHERE contact_id = ${contactId}
        ORDER BY entered_at, segment_id`).pipe(
        Effect.map((rows) => rows.map((r) => ({ segmentId: r.segment_id, enteredAt: r.entered_at })))
      ),
    rebuild
  })
}
