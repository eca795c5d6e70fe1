/**
 * The group commit's statement (docs/decisions/0002-one-statement-append.md, 0007): one
 * `WITH … INSERT …` over a batch of appends given as JSON, that still decides each append alone.
 * Its text is fixed (two variants), built once, and sent many times a second (decision 0020,
 * prepared per connection: 0025). Here are the text, the encoding of an append to its rows, and
 * the rows it answers.
 */
import * as ContactEvent from "@tracklog/core/ContactEvent"
import type * as Contact from "@tracklog/core/Contact"
import type * as EventStore from "@tracklog/core/EventStore"
import type * as Idempotency from "@tracklog/core/Idempotency"
import * as Timestamp from "@tracklog/core/Timestamp"
import * as ContactRow from "./contactRow.js"
import * as IdempotencyRecords from "./idempotency.js"

/** An append as the group commit sends it: its contact row and its event rows, as JSON text. */
export interface Encoded {
  readonly input: EventStore.Append
  readonly head: string
  readonly rows: ReadonlyArray<string>
  /** The idempotency record stored with this append, if any (behaviour §6). */
  readonly key?: { readonly id: string; readonly row: string } | undefined
  /** The key hash that must still grant the contact's project (`EventStore.Append.grantedBy`). */
  readonly grantedBy?: string | undefined
}

/** The contact an append writes: only upserts go through the append statement. */
export const upserted = (input: EventStore.Append): Contact.Contact => {
  if (input.projection._tag !== "Upsert") throw new Error("StorePostgres: an erasure is not an upsert")
  return input.projection.contact
}

/**
 * Encodes an append, with the record stored with it, the key it is made under, and (a new
 * contact's) the hash of its email under its project's secret, checked against the suppression list.
 */
export const encode = (
  input: EventStore.Append,
  record?: Idempotency.Record,
  grantedBy?: string | undefined,
  emailHash?: string | undefined
): Encoded => {
  const { events, expectedVersion, streamId } = input
  const contact = upserted(input)
  return {
    input,
    key: record === undefined ? undefined : IdempotencyRecords.encodeRecord(record, streamId),
    grantedBy,
    head: JSON.stringify({
      stream_id: streamId,
      key_hash: grantedBy,
      email_hash: emailHash,
      expected: expectedVersion,
      version: expectedVersion + events.length,
      project_id: contact.projectId,
      email: contact.email,
      subscribed: contact.subscribed,
      data: contact.data,
      created_at: Timestamp.iso(contact.createdAt),
      updated_at: Timestamp.iso(contact.updatedAt)
    }),
    rows: events.map(({ event, id }, i) =>
      JSON.stringify({
        stream_id: streamId,
        project_id: contact.projectId,
        version: expectedVersion + i + 1,
        id,
        type: event._tag,
        data: ContactEvent.encode(event),
        created_at: Timestamp.iso(event.at)
      })
    )
  }
}

// $1 holds the contact rows, $2 the event rows, $3 the key hashes appends are made under (a text
// array), $4 the idempotency records; $1, $2 and $4 are JSON arrays. It answers each stream
// written, each refused, each suppressed, and for each new contact whose email was taken, the
// contact that holds it.
// An append made under a key (`grantedBy`) is refused when that key no longer grants its project:
// the check is in the statement that writes, so a key revoked by another process stops at its
// next append, and the track path needs no read of the key (docs/decisions/0024-grant-on-append.md).
// So is a new contact whose email hash is on its project's suppression list, and a new contact
// whose email is taken hands back the holder: the track path needs no read before a first track
// (docs/decisions/0026-first-track-without-a-read.md).
// An append's idempotency key is claimed first (behaviour §6): an append whose key is already
// stored writes nothing and is answered as a conflict, so its caller finds the stored answer,
// and the rest of the group commit goes on. A key claimed for a stream whose compare-and-set
// then fails would be stored without its events: the guard fails the whole statement instead
// (a race of two processes on one stream; every append of it is decided again).
// Written, refused for its key, suppressed, or its email held by `holder`; else a conflict.
const Answer = `SELECT stream_id, 'written' AS outcome, NULL::json AS holder FROM ok
  UNION ALL SELECT stream_id, 'refused', NULL FROM refused
  UNION ALL SELECT stream_id, 'suppressed', NULL FROM suppressed
  UNION ALL SELECT stream_id, 'held', holder FROM held`
// `whole`: the appends go all or none, in this statement alone (a batch, behaviour §8): when one
// of them would not be written, the statement fails (division by zero, as the keyed guard) and
// nothing of it stays; it answers one row.
const text = (keyed: boolean, whole: boolean) => `
  WITH granted AS (
    -- An index lookup by construction, like every hot-path read (plans.test.ts).
    SELECT hash, project_id FROM api_keys WHERE hash = ANY ($3::text[])
  ), offered AS (
    SELECT * FROM json_to_recordset($1::json) AS i(
      stream_id text, key_hash text, email_hash text, expected integer, version integer, project_id text,
      email text, subscribed boolean, data json, created_at timestamptz, updated_at timestamptz)
  ), refused AS (
    SELECT o.stream_id FROM offered o
    WHERE o.key_hash IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM granted g WHERE g.hash = o.key_hash AND g.project_id = o.project_id)
  ), suppressed AS (
    -- One index probe per new contact checked, as the contact lookup (LIMIT: never a join). An
    -- email that has a contact is not refused here but held (below), as a track that found it
    -- would go on with it: the list is about creating a contact.
    SELECT o.stream_id FROM offered o
    CROSS JOIN LATERAL (
      SELECT 1 FROM suppressions
      WHERE project_id = o.project_id AND email_hash = o.email_hash LIMIT 1
    ) s
    LEFT JOIN LATERAL (
      SELECT 1 AS taken FROM contacts WHERE project_id = o.project_id AND email = o.email LIMIT 1
    ) c ON true
    WHERE o.expected = 0 AND o.email_hash IS NOT NULL AND c.taken IS NULL
      AND o.stream_id NOT IN (SELECT stream_id FROM refused)
  ), ${
  keyed
    ? `keys AS (
    SELECT * FROM json_to_recordset($4::json) AS k(stream_id text, project_id text, key text,
      fingerprint text, status integer, body text, contact_ids text[], created_at timestamptz)
    WHERE k.stream_id NOT IN (SELECT stream_id FROM refused)
      AND k.stream_id NOT IN (SELECT stream_id FROM suppressed)
  ), claimed AS (
    INSERT INTO idempotency_keys (project_id, key, fingerprint, status, body, contact_ids, created_at)
    SELECT project_id, key, fingerprint, status, body, contact_ids, created_at FROM keys
    ON CONFLICT DO NOTHING
    RETURNING project_id, key
  ), blocked AS (
    SELECT k.stream_id FROM keys k
    WHERE NOT EXISTS (SELECT 1 FROM claimed c WHERE c.project_id = k.project_id AND c.key = k.key)
  ), `
    : ""
}input AS (
    SELECT * FROM offered i WHERE i.stream_id NOT IN (SELECT stream_id FROM refused)
      AND i.stream_id NOT IN (SELECT stream_id FROM suppressed)
    ${keyed ? "AND i.stream_id NOT IN (SELECT stream_id FROM blocked)" : ""}
  ), created AS (
    -- A new contact first claims its (project_id, email); a taken one claims nothing.
    INSERT INTO contacts (id, project_id, email, subscribed, data, created_at, updated_at, version)
    SELECT stream_id, project_id, email, subscribed, data, created_at, updated_at, version
    FROM input WHERE expected = 0
    ON CONFLICT DO NOTHING
    RETURNING id
  ), started AS (
    INSERT INTO streams (stream_id, version)
    SELECT i.stream_id, i.version FROM input i JOIN created c ON c.id = i.stream_id
    RETURNING stream_id
  ), moved AS (
    -- The compare-and-set of existing streams; under READ COMMITTED a concurrent writer's
    -- commit is re-checked against the expected version.
    -- The streams are found by their key from an array: an index lookup whatever the
    -- statistics, where a join on the input may be planned as a scan of every stream.
    UPDATE streams s SET version = i.version FROM input i
    WHERE s.stream_id = ANY (ARRAY(SELECT stream_id FROM input WHERE expected > 0))
      AND i.expected > 0 AND s.stream_id = i.stream_id AND s.version = i.expected
    RETURNING s.stream_id
  ), projected AS (
    UPDATE contacts c SET email = i.email, subscribed = i.subscribed, data = i.data, updated_at = i.updated_at,
      version = i.version
    -- Driven by the moved streams (estimated at one row): an index probe per contact. With
    -- the filter c.id = ANY (moved) as well, each probe also walked the whole array: quadratic, 150
    -- to 350 ms for a batch moving 500 contacts.
    FROM input i JOIN moved m ON m.stream_id = i.stream_id
    WHERE c.id = i.stream_id
  ), ok AS (
    SELECT stream_id FROM started UNION ALL SELECT stream_id FROM moved
  ), held AS (
    -- The contact that holds a taken email, as this statement's snapshot shows it (one committed
    -- while the statement ran is not visible: then none, and the caller reads).
    SELECT i.stream_id, json_build_object(
      'id', c.id, 'project_id', c.project_id, 'email', c.email, 'subscribed', c.subscribed,
      'data', c.data, 'created_at', c.created_at, 'updated_at', c.updated_at, 'version', c.version
    ) AS holder
    FROM input i
    CROSS JOIN LATERAL (
      SELECT ${ContactRow.columns} FROM contacts WHERE project_id = i.project_id AND email = i.email LIMIT 1
    ) c
    WHERE i.expected = 0 AND i.stream_id NOT IN (SELECT id FROM created)
  ), appended AS (
    INSERT INTO events (stream_id, project_id, version, id, type, data, created_at, bytes)
    SELECT e.stream_id, e.project_id, e.version, e.id, e.type, e.data, e.created_at, octet_length(e.data::text)
    FROM json_to_recordset($2::json) AS e(stream_id text, project_id text, version integer, id text, type text, data json, created_at timestamptz)
    JOIN ok ON ok.stream_id = e.stream_id
    ORDER BY e.stream_id, e.version
  )${
  whole
    ? `, whole AS (
    SELECT 1 / (CASE WHEN (SELECT count(*) FROM ok) = (SELECT count(*) FROM offered) THEN 1 ELSE 0 END) AS pass
  )`
    : ""
}${
  keyed
    // UNION ALL runs every branch, so the guard is evaluated even when nothing moved.
    ? `, guard AS (
    SELECT 1 / (CASE WHEN EXISTS (
      SELECT 1 FROM keys k JOIN claimed c ON c.project_id = k.project_id AND c.key = k.key
      WHERE k.stream_id NOT IN (SELECT stream_id FROM ok)) THEN 0 ELSE 1 END) AS pass
  )`
    : ""
}
  ${
  whole
    ? `SELECT w.pass${keyed ? " + g.pass" : ""} AS pass FROM whole w${keyed ? ", guard g" : ""}`
    : keyed
    ? `${Answer}
  UNION ALL SELECT NULL, NULL, NULL FROM guard WHERE pass = 0`
    : Answer
}`
const Keyed = text(true, false)
const Plain = text(false, false)
const KeyedWhole = text(true, true)
const PlainWhole = text(false, true)

/** A row of the statement's answer. */
export interface Row {
  readonly stream_id: string
  readonly outcome: "written" | "refused" | "suppressed" | "held"
  /** With `held`: the contact row as JSON (dates as text). */
  readonly holder: ContactRow.JsonRow | null
}

/**
 * The statement for a batch: its text (keyed when an append of it stores a record) and its values.
 * `whole`: all or none, answering one row, `{ pass }` (see `text`).
 */
export const query = (
  batch: ReadonlyArray<Encoded>,
  whole = false
): { text: string; values: Array<string | ReadonlyArray<string>> } => {
  const heads = `[${batch.map((a) => a.head).join(",")}]`
  const rows = `[${batch.flatMap((a) => a.rows).join(",")}]`
  // An array, as the key lookup passes its hashes: the driver writes the literal.
  const grants = [...new Set(batch.flatMap((a) => (a.grantedBy === undefined ? [] : [a.grantedBy])))]
  const keys = batch.flatMap((a) => (a.key === undefined ? [] : [a.key.row]))
  return keys.length > 0
    ? { text: whole ? KeyedWhole : Keyed, values: [heads, rows, grants, `[${keys.join(",")}]`] }
    : { text: whole ? PlainWhole : Plain, values: [heads, rows, grants] }
}
