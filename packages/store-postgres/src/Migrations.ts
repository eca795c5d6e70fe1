/**
 * The schema, as numbered migrations run by `@effect/sql`'s Migrator. A shipped migration is
 * never edited: a change is a new number.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

/** The migrations, by `<number>_<name>`. */
export const migrations = {
  "0001_create_log": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // One row per stream, holding its version: the compare-and-set target of every append.
    yield* sql`CREATE TABLE streams (
      stream_id text PRIMARY KEY,
      version integer NOT NULL CHECK (version > 0)
    )`
    yield* sql`CREATE SEQUENCE events_global_position AS bigint`
    // `json`, not `jsonb`: it keeps the payload's key order, which behaviour §1.5 promises to readers.
    yield* sql`CREATE TABLE events (
      stream_id text NOT NULL,
      version integer NOT NULL,
      global_position bigint NOT NULL DEFAULT nextval('events_global_position'),
      transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
      id text NOT NULL UNIQUE,
      type text NOT NULL,
      data json NOT NULL,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (stream_id, version)
    )`
    yield* sql`CREATE INDEX events_log_order ON events (transaction_id, global_position)`
    yield* sql`CREATE TABLE contacts (
      id text PRIMARY KEY,
      project_id text NOT NULL,
      email text NOT NULL,
      subscribed boolean NOT NULL,
      data json NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      version integer NOT NULL,
      UNIQUE (project_id, email)
    )`
    yield* sql`CREATE INDEX contacts_by_project ON contacts (project_id, id)`
    yield* sql`CREATE TABLE projects (
      id text PRIMARY KEY,
      created_at timestamptz NOT NULL DEFAULT now()
    )`
    // Keys are stored as SHA-256 hashes only.
    yield* sql`CREATE TABLE api_keys (
      hash text PRIMARY KEY,
      project_id text NOT NULL REFERENCES projects (id),
      kind text NOT NULL CHECK (kind IN ('public', 'secret'))
    )`
    yield* sql`CREATE TABLE checkpoints (
      consumer text PRIMARY KEY,
      transaction_id xid8 NOT NULL,
      global_position bigint NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`
  }),
  // Every event carries its project, so a project's log is an index range (behaviour §5), not a join;
  // existing rows take it from their contact.
  "0002_events_project": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE events ADD COLUMN project_id text`
    yield* sql`UPDATE events e SET project_id = c.project_id FROM contacts c WHERE c.id = e.stream_id`
    yield* sql`ALTER TABLE events ALTER COLUMN project_id SET NOT NULL`
    yield* sql`CREATE INDEX events_project_log_order ON events (project_id, transaction_id, global_position)`
  }),
  // Durable processors (behaviour §5.3): a checkpoint and a lease per name
  // (docs/decisions/0011-processor-checkpoints-and-instances.md). They replace the never-used
  // `checkpoints` table of 0001.
  "0003_processors": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE processors (
      name text PRIMARY KEY,
      transaction_id xid8 NOT NULL DEFAULT '0',
      global_position bigint NOT NULL DEFAULT 0,
      owner text,
      lease_until timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`
    yield* sql`DROP TABLE IF EXISTS checkpoints`
    // A project's next page, always by walking its index in order: on a freshly loaded log, whose
    // statistics still say "few rows", the planner otherwise picks a bitmap scan of every
    // remaining row and a sort, per page (quadratic over a catch-up). The function's own settings
    // rule that out whatever the statistics.
    yield* sql`CREATE FUNCTION tracklog_project_page(p text, t xid8, pos bigint, n integer) RETURNS SETOF events
      LANGUAGE sql STABLE SET enable_bitmapscan = off SET enable_sort = off AS $$
        SELECT * FROM events WHERE project_id = p AND (transaction_id, global_position) > (t, pos)
        ORDER BY transaction_id, global_position LIMIT n
      $$`
  }),
  // Idempotency records (behaviour §6), written in the same statement as their request's events; the
  // primary key decides between two processes using one key. `contact_ids` lets erasure remove a
  // contact's records (behaviour §7); `created_at` drives expiry.
  "0004_idempotency": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE idempotency_keys (
      project_id text NOT NULL,
      key text NOT NULL,
      fingerprint text NOT NULL,
      status integer NOT NULL,
      body text NOT NULL,
      contact_ids text[] NOT NULL,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (project_id, key)
    )`
    yield* sql`CREATE INDEX idempotency_keys_contacts ON idempotency_keys USING gin (contact_ids)`
    yield* sql`CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at)`
  }),
  // The suppression list keeps only HMAC-SHA-256(email) under a secret per project (behaviour §7).
  // The secret is a column default, so every way a project is made gets one without code; a
  // volatile default is evaluated per row, so existing projects each get their own here.
  "0005_suppressions": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE projects ADD COLUMN hmac_secret text NOT NULL
      DEFAULT encode(sha256((gen_random_uuid()::text || gen_random_uuid()::text)::bytea), 'hex')`
    yield* sql`CREATE TABLE suppressions (
      project_id text NOT NULL,
      email_hash text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (project_id, email_hash)
    )`
  }),
  // The log's identity (behaviour §5.1, docs/decisions/0033-cursors-name-their-log.md): one row, made
  // with the database, whose random epoch every stream cursor names, so that a cursor of another
  // store's log (an import numbers the log anew) is refused, not read as a place in this one. A
  // database that already held events may have handed out cursors without an epoch: it still
  // takes those; a new one never made any.
  "0006_log_identity": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE log_identity (
      only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
      epoch text NOT NULL CHECK (epoch ~ '^[0-9a-f]{16}$'),
      legacy_cursors boolean NOT NULL
    )`
    yield* sql`INSERT INTO log_identity (epoch, legacy_cursors)
      SELECT left(encode(sha256((gen_random_uuid()::text || gen_random_uuid()::text)::bytea), 'hex'), 16),
        EXISTS (SELECT 1 FROM events)`
  }),
  // Segments (behaviour §11): their definitions, and the membership the segment processor keeps.
  // Contact ids are compared as JavaScript compares strings (a segment's build cursor is one), so
  // they sort byte-wise here: "C", whatever the database's collation.
  "0007_segments": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // `json`, not `jsonb`: the condition is answered as it was sent, keys in its order.
    yield* sql`CREATE TABLE segments (
      id text PRIMARY KEY,
      project_id text NOT NULL,
      name text NOT NULL,
      slug text NOT NULL,
      condition json NOT NULL,
      track_membership boolean NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      revision integer NOT NULL,
      built_revision integer NOT NULL DEFAULT 0,
      build_cursor text COLLATE "C" NOT NULL DEFAULT '',
      deleted_at timestamptz
    )`
    yield* sql`CREATE INDEX segments_by_project ON segments (project_id, created_at, id)`
    // The decision keeps slugs unique under its lock; this guards it.
    yield* sql`CREATE UNIQUE INDEX segments_slug ON segments (project_id, slug) WHERE deleted_at IS NULL`
    // One row per contact the processor has seen; `due` (ms) is when a time window may move it, a
    // double as JavaScript's numbers are, so any instant the evaluator computes is stored exactly.
    yield* sql`CREATE TABLE segment_snapshots (
      contact_id text COLLATE "C" PRIMARY KEY,
      project_id text NOT NULL,
      snapshot jsonb NOT NULL,
      due double precision
    )`
    yield* sql`CREATE INDEX segment_snapshots_due ON segment_snapshots (due, contact_id) WHERE due IS NOT NULL`
    yield* sql`CREATE INDEX segment_snapshots_by_project ON segment_snapshots (project_id, contact_id)`
    yield* sql`CREATE TABLE segment_members (
      segment_id text NOT NULL,
      contact_id text COLLATE "C" NOT NULL,
      entered_at timestamptz NOT NULL,
      PRIMARY KEY (segment_id, contact_id)
    )`
    yield* sql`CREATE INDEX segment_members_by_contact ON segment_members (contact_id)`
  }),
  // Webhooks (behaviour §12). An endpoint is kept as its state, in JSON, written by compare-and-set
  // of its version; `enabled` is a column for the sender's join. A message is queued once per
  // endpoint and event (the unique key), ordered by `seq`; the sender finds due work through the
  // partial index on `next_attempt_at`, and a contact's earlier pending message through
  // `webhook_messages_order` (docs/decisions/0040, 0041).
  "0008_webhooks": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE webhook_endpoints (
      id text PRIMARY KEY,
      project_id text NOT NULL,
      state json NOT NULL,
      enabled boolean NOT NULL,
      version integer NOT NULL CHECK (version > 0),
      created_at timestamptz NOT NULL
    )`
    yield* sql`CREATE INDEX webhook_endpoints_project ON webhook_endpoints (project_id, created_at, id)`
    yield* sql`CREATE TABLE webhook_messages (
      seq bigserial PRIMARY KEY,
      id text NOT NULL UNIQUE,
      project_id text NOT NULL,
      endpoint_id text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
      contact_id text NOT NULL,
      event_id text NOT NULL,
      type text NOT NULL,
      payload text NOT NULL,
      status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
      attempts jsonb NOT NULL DEFAULT '[]',
      next_attempt_at timestamptz,
      lease_owner text,
      lease_until timestamptz,
      created_at timestamptz NOT NULL,
      UNIQUE (endpoint_id, event_id)
    )`
    yield* sql`CREATE INDEX webhook_messages_due ON webhook_messages (next_attempt_at) WHERE status = 'pending'`
    yield* sql`CREATE INDEX webhook_messages_order ON webhook_messages (endpoint_id, contact_id, seq)
      WHERE status = 'pending'`
    yield* sql`CREATE INDEX webhook_messages_endpoint ON webhook_messages (endpoint_id, seq)`
    yield* sql`CREATE INDEX webhook_messages_contact ON webhook_messages (project_id, contact_id)`
  }),
  // Every track updates its contact's row and its stream's. Rows written by inserts fill their
  // pages, so an update found no room beside its row and wrote its new version elsewhere, with an
  // entry in each of the table's indexes (3 for contacts): 4–7% of the updates were HOT under a
  // batch load. With room left in each page, ~90% are, and the database's CPU per batched track
  // fell by ~40% (docs/decisions/0046-batch-one-statement-and-hot-updates.md). Pages written from
  // now on keep the room.
  "0009_hot_updates": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE contacts SET (fillfactor = 70)`
    yield* sql`ALTER TABLE streams SET (fillfactor = 70)`
  }),
  // Each event's payload size as written (its JSON text), so a processor's page can stop at a
  // number of bytes (`EventStore.readAll`'s `maxBytes`) without reading or decompressing the
  // payloads it leaves out. Nullable: adding it rewrites nothing; an event written before it is
  // counted at its stored size.
  "0010_event_bytes": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE events ADD COLUMN bytes integer`
  }),
  // A page of a project's segment snapshots, and of a segment's members, always by walking their
  // index in order, as `tracklog_project_page` does for the log: on a table never analyzed (a new
  // one, a bulk load) the planner took each page as a bitmap scan of every row after the cursor
  // and a sort, 80 ms a page at 100 000 contacts, quadratic over a pass or an audience.
  "0011_ordered_pages": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE FUNCTION tracklog_snapshot_page(p text, after text, n integer) RETURNS SETOF segment_snapshots
      LANGUAGE sql STABLE SET enable_bitmapscan = off SET enable_sort = off AS $$
        SELECT * FROM segment_snapshots WHERE project_id = p AND contact_id > after ORDER BY contact_id LIMIT n
      $$`
    yield* sql`CREATE FUNCTION tracklog_member_page(s text, after text, n integer) RETURNS SETOF segment_members
      LANGUAGE sql STABLE SET enable_bitmapscan = off SET enable_sort = off AS $$
        SELECT * FROM segment_members WHERE segment_id = s AND contact_id > after ORDER BY contact_id LIMIT n
      $$`
  }),
  // The segment processor rewrites a contact's snapshot at each of its tracks. A snapshot under
  // 20 segments is ~1.5–2 KB of jsonb, over the 2 KB past which a row is compressed: each write
  // compressed it (pglz) and each read expanded it again; and its row found no room beside itself,
  // so ~20 % of the updates were HOT. Kept whole and with room, the upsert's database time per
  // snapshot fell from ~80 to ~50 µs (docs/decisions/0050-snapshots-uncompressed-with-room.md).
  "0012_snapshot_storage": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE segment_snapshots SET (toast_tuple_target = 8160, fillfactor = 60)`
  }),
  // The sender's claim, by walking the due index in order, as `tracklog_snapshot_page` walks its
  // own: a settled message leaves its entry in the index until a vacuum, and at ~2 000 deliveries a
  // second the planner's bitmap scan went through every one of them (19 000 at a time) at each
  // claim, 188 µs of database time per message claimed; an index scan stops at the claim's size
  // and marks the dead entries it passes, so the next claim skips them.
  "0013_ordered_claim": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE FUNCTION tracklog_claimable(at timestamptz, n integer, excluded text[]) RETURNS SETOF bigint
      LANGUAGE sql VOLATILE SET enable_bitmapscan = off SET enable_sort = off AS $$
        SELECT m.seq FROM webhook_messages m
        WHERE m.status = 'pending' AND m.next_attempt_at <= at
          AND m.endpoint_id <> ALL (excluded)
          AND (m.lease_until IS NULL OR m.lease_until <= at)
          AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = m.endpoint_id AND e.enabled)
          AND NOT EXISTS (
            SELECT 1 FROM webhook_messages p
            WHERE p.endpoint_id = m.endpoint_id AND p.contact_id = m.contact_id AND p.status = 'pending'
              AND p.seq < m.seq)
        ORDER BY m.next_attempt_at
        LIMIT n
        FOR UPDATE OF m SKIP LOCKED
      $$`
  }),
  // Each segment's short alias, which a stored snapshot writes in place of its id
  // (docs/decisions/0052-compact-snapshots.md); an identity, so never reused.
  "0014_segment_aliases": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE segments ADD COLUMN alias integer GENERATED ALWAYS AS IDENTITY UNIQUE`
  })
}

const MigrationsTable = "tracklog_migrations"

/**
 * Runs the pending migrations. Safe when several processes start at once: a transaction-scoped
 * advisory lock serializes them, and the Migrator's own table is created under that lock (its
 * check-then-create would otherwise race).
 */
export const run = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return yield* sql.withTransaction(Effect.gen(function*() {
    yield* sql`SELECT pg_advisory_xact_lock(hashtext('tracklog.migrations'))`
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(MigrationsTable)} (
      migration_id integer PRIMARY KEY,
      created_at timestamptz NOT NULL DEFAULT now(),
      name text NOT NULL
    )`
    return yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: MigrationsTable })
  }))
})
