/**
 * The contact projection read back (`Contacts`, behaviour §3): by id, by email (the track path's
 * read, batched like the appends), a batch's emails at once, a project's list, and a contact's
 * timeline.
 */
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as Contacts from "@tracklog/core/Contacts"
import type * as StoreError from "@tracklog/core/StoreError"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Batcher from "./batcher.js"
import * as ContactRow from "./contactRow.js"
import type * as Database from "./database.js"
import * as EventRow from "./eventRow.js"
import * as StoreMetrics from "../StoreMetrics.js"

// The contacts of the batched (project, email) keys.
const ByEmails = `
  SELECT c.* FROM json_to_recordset($1::json) AS k(project_id text, email text)
  -- One index probe per key, whatever the statistics: an IN (or a plain join) over the
  -- function's fixed 100-row estimate was planned as a scan of every contact. LIMIT
  -- keeps the planner from flattening the subquery back into such a join.
  CROSS JOIN LATERAL (
    SELECT ${ContactRow.columns} FROM contacts WHERE project_id = k.project_id AND email = k.email LIMIT 1
  ) c`

// The contacts of the batched (project, id) keys, one index probe each (as `ByEmails`).
const ByIds = `
  SELECT c.* FROM json_to_recordset($1::json) AS k(project_id text, id text)
  CROSS JOIN LATERAL (
    SELECT ${ContactRow.columns} FROM contacts WHERE project_id = k.project_id AND id = k.id LIMIT 1
  ) c`

/** The `Contacts` port of a store. */
export const make = (db: Database.Database) => {
  const { guard, sql } = db
  const columns = sql.literal(ContactRow.columns)

  // The contacts of many keys in one statement (`text` takes them as JSON), one answer per key.
  const lookup = <K>(
    text: string,
    row: (key: K) => object,
    keyOf: (key: K) => string,
    keyOfRow: (row: ContactRow.Row) => string
  ) =>
  (batch: ReadonlyArray<K>) =>
    Effect.map(db.directGuarded<ContactRow.Row>(text, [JSON.stringify(batch.map(row))]), (rows) => {
      const found = new Map(rows.map((r) => [keyOfRow(r), ContactRow.toContact(r)]))
      return batch.map((k) => Option.fromNullable(found.get(keyOf(k))))
    })
  // Every lookup waiting goes in the next statement (group commit).
  const batched = <K>(
    name: string,
    run: (batch: ReadonlyArray<K>) => Effect.Effect<Array<Option.Option<Contact.Contact>>, StoreError.StoreUnavailable>
  ) =>
    Batcher.make<K, Option.Option<Contact.Contact>, StoreError.StoreUnavailable>({
      ...db.batching,
      onBatch: StoreMetrics.batchSizeOf(name),
      run: (batch) => Effect.map(run(batch), (found) => found.map(Exit.succeed))
    })

  // The track path's reads, batched like the appends; or a batch's contacts at once.
  const findByEmails = lookup<{ readonly projectId: string; readonly email: string }>(
    ByEmails,
    (k) => ({ project_id: k.projectId, email: k.email }),
    (k) => Contact.emailKey(k.projectId, k.email),
    (r) => Contact.emailKey(r.project_id, r.email)
  )
  const findByEmail = batched("find_by_email", findByEmails)
  // Lookups by id come many at once from an event stream that meets contacts created before it
  // opened (one each, ~10 000 statements for a stream opened on 10 000 busy contacts): batched.
  const findById = batched(
    "find_by_id",
    lookup<{ readonly projectId: string; readonly contactId: string }>(
      ByIds,
      (k) => ({ project_id: k.projectId, id: k.contactId }),
      (k) => `${k.projectId}\u0000${k.contactId}`,
      (r) => `${r.project_id}\u0000${r.id}`
    )
  )

  return Contacts.Contacts.of({
    findById: (projectId, contactId) => findById({ projectId, contactId }),
    findByEmail: (projectId, email) => findByEmail({ projectId, email }),
    findManyByEmail: (projectId, emails) =>
      emails.length === 0 ? Effect.succeed([]) : findByEmails(emails.map((email) => ({ projectId, email }))),
    list: (projectId, request) =>
      guard(sql<ContactRow.Row>`
        SELECT ${columns} FROM contacts
        WHERE project_id = ${projectId} ${request.cursor === undefined ? sql`` : sql`AND id > ${request.cursor}`}
        ORDER BY id LIMIT ${request.limit + 1}`).pipe(
        Effect.map((rows) => Contacts.page(rows.map(ContactRow.toContact), request.limit, (c) => c.id))
      ),
    // The events `ContactEvent.visibleTypes` names, newest first: the table of what a timeline
    // shows is core's, selected here by type so a page is one index range.
    timeline: (projectId, contactId, request) =>
      Effect.gen(function*() {
        const owner = yield* guard(
          sql<{ id: string }>`SELECT id FROM contacts WHERE project_id = ${projectId} AND id = ${contactId}`
        )
        if (owner.length === 0) return yield* new Contacts.ContactNotFound({ contactId })
        const before = request.cursor === undefined ? null : Number(request.cursor)
        const rows = yield* guard(
          sql`
          SELECT ${sql.literal(EventRow.columns)}
          FROM events
          WHERE stream_id = ${contactId} AND type IN ${sql.in(ContactEvent.visibleTypes)}
            ${before === null ? sql`` : sql`AND version < ${before}`}
          ORDER BY version DESC LIMIT ${request.limit + 1}`.values
        )
        const page = Contacts.page(rows.map(EventRow.toRecorded), request.limit, (r) => String(r.version))
        return { ...page, data: page.data.map(Contacts.toTimelineEvent) }
      })
  })
}
