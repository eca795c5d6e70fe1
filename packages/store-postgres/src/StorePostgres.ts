/**
 * The PostgreSQL store: the log, the inline contact projection and the projects, over
 * `@effect/sql-pg`. Many processes may share one database; correctness rests on the database's
 * constraints, never on a single process.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Backup from "@tracklog/core/Backup"
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as Contacts from "@tracklog/core/Contacts"
import * as EventStore from "@tracklog/core/EventStore"
import type * as Idempotency from "@tracklog/core/Idempotency"
import type * as Json from "@tracklog/core/Json"
import * as Projects from "@tracklog/core/Projects"
import * as Store from "@tracklog/core/Store"
import * as StoreError from "@tracklog/core/StoreError"
import * as Suppressions from "@tracklog/core/Suppressions"
import * as Timestamp from "@tracklog/core/Timestamp"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as LogStream from "@tracklog/core/LogStream"
import * as Processor from "@tracklog/core/Processor"
import * as Runtime from "effect/Runtime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Stream from "effect/Stream"
import * as Reactivity from "@effect/experimental/Reactivity"
import * as Pg from "pg"
import * as Batcher from "./internal/batcher.js"
import * as DirectQuery from "./internal/directQuery.js"
import * as EmailHash from "./internal/emailHash.js"
import * as EventRow from "./internal/eventRow.js"
import * as LiveLog from "./internal/liveLog.js"
import * as SqlErrors from "./internal/sqlError.js"
import * as Migrations from "./Migrations.js"
import * as StoreMetrics from "./StoreMetrics.js"

/** How the store reaches its database. */
export interface Config extends Options {
  readonly url: string
  /** Pool size; 1 for the embedded Postgres, which serves one connection at a time. */
  readonly maxConnections?: number | undefined
}

interface ContactRow {
  readonly id: string
  readonly project_id: string
  readonly email: string
  readonly subscribed: boolean
  readonly data: Json.JsonObject
  readonly created_at: Date
  readonly updated_at: Date
  readonly version: number
}

const toContact = (row: ContactRow): Contact.Contact => ({
  id: row.id,
  projectId: row.project_id,
  email: row.email,
  subscribed: row.subscribed,
  data: row.data,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  version: row.version
})

// The holder of a taken email, as the group commit answers it (JSON, so its dates are text).
type HolderRow = Omit<ContactRow, "created_at" | "updated_at"> & { created_at: string; updated_at: string }
const toHolder = (row: HolderRow): Contact.Contact =>
  toContact({ ...row, created_at: new Date(row.created_at), updated_at: new Date(row.updated_at) })

const eventColumns = EventRow.columns
const toRecorded = EventRow.toRecorded

type AppendError = EventStore.ConcurrencyConflict | StoreError.StoreUnavailable
type GrantedAppendError = AppendError | Projects.GrantRevoked | Suppressions.EmailSuppressed

// An append as the group commit sends it: its contact row and its event rows, as JSON text.
interface EncodedAppend {
  readonly input: EventStore.Append
  readonly head: string
  readonly rows: ReadonlyArray<string>
  /** The idempotency record stored with this append, if any (behaviour §6). */
  readonly key?: { readonly id: string; readonly row: string } | undefined
  /** The key hash that must still grant the contact's project (`EventStore.Append.grantedBy`). */
  readonly grantedBy?: string | undefined
}

const encodeKey = (record: Idempotency.Record, streamId: string) => ({
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

interface IdempotencyRow {
  readonly project_id: string
  readonly key: string
  readonly fingerprint: string
  readonly status: number
  readonly body: string
  readonly contact_ids: ReadonlyArray<string>
  readonly created_at: Date
}

const toRecord = (row: IdempotencyRow): Idempotency.Record => ({
  projectId: row.project_id,
  key: row.key,
  fingerprint: row.fingerprint,
  answer: { status: row.status, body: row.body },
  contactIds: row.contact_ids,
  createdAt: row.created_at
})

const encodeAppend = (
  input: EventStore.Append,
  record?: Idempotency.Record,
  grantedBy?: string | undefined,
  emailHash?: string | undefined
): EncodedAppend => {
  const { events, expectedVersion, streamId } = input
  const contact = upserted(input)
  return {
    input,
    key: record === undefined ? undefined : encodeKey(record, streamId),
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

// The contact an append writes: only upserts go through the append statement.
const upserted = (input: EventStore.Append): Contact.Contact => {
  if (input.projection._tag !== "Upsert") throw new Error("StorePostgres: an erasure is not an upsert")
  return input.projection.contact
}

// An email change moves the contact's claim; the unique index decides a race for the email, and
// its violation would fail a whole group commit: such appends go alone, in their own transaction.
const changesEmail = (input: EventStore.Append) => input.events.some((e) => e.event._tag === "ContactEmailChanged")

const ContactColumns = "id, project_id, email, subscribed, data, created_at, updated_at, version"

// The statement of a group commit, as fixed text (two variants): it is sent many times a second,
// and built once (docs/decisions/0020-direct-hot-statements.md). $1 holds the contact rows, $2
// the event rows, $3 the key hashes appends are made under (a text array), $4 the idempotency
// records; $1, $2 and $4 are JSON arrays. It answers each stream written, each refused, each
// suppressed, and for each new contact whose email was taken, the contact that holds it.
// An append made under a key (`grantedBy`) is refused when that key no longer grants its project:
// the check is in the statement that writes, so a key revoked by another process stops at its
// next append, and the track path needs no read of the key (docs/decisions/0024-grant-on-append.md).
// So is a new contact whose email hash (`unlessSuppressed`) is on its project's suppression list,
// and a new contact whose email is taken hands back the holder: the track path needs no read
// before a first track (docs/decisions/0026-first-track-without-a-read.md).
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
const appendText = (keyed: boolean) => `
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
      SELECT ${ContactColumns} FROM contacts WHERE project_id = i.project_id AND email = i.email LIMIT 1
    ) c
    WHERE i.expected = 0 AND i.stream_id NOT IN (SELECT id FROM created)
  ), appended AS (
    INSERT INTO events (stream_id, project_id, version, id, type, data, created_at)
    SELECT e.stream_id, e.project_id, e.version, e.id, e.type, e.data, e.created_at
    FROM json_to_recordset($2::json) AS e(stream_id text, project_id text, version integer, id text, type text, data json, created_at timestamptz)
    JOIN ok ON ok.stream_id = e.stream_id
    ORDER BY e.stream_id, e.version
  )${
  keyed
    // UNION ALL runs every branch, so the guard is evaluated even when nothing moved.
    ? `, guard AS (
    SELECT 1 / (CASE WHEN EXISTS (
      SELECT 1 FROM keys k JOIN claimed c ON c.project_id = k.project_id AND c.key = k.key
      WHERE k.stream_id NOT IN (SELECT stream_id FROM ok)) THEN 0 ELSE 1 END) AS pass
  )
  ${Answer}
  UNION ALL SELECT NULL, NULL, NULL FROM guard WHERE pass = 0`
    : `
  ${Answer}`
}`
const AppendKeyed = appendText(true)
const AppendPlain = appendText(false)

/** A row of the group commit's answer (`Answer`). */
interface AppendedRow {
  readonly stream_id: string
  readonly outcome: "written" | "refused" | "suppressed" | "held"
  /** With `held`: the contact row as JSON (dates as text). */
  readonly holder: HolderRow | null
}

const appendQuery = (
  batch: ReadonlyArray<EncodedAppend>
): { text: string; values: Array<string | ReadonlyArray<string>> } => {
  const heads = `[${batch.map((a) => a.head).join(",")}]`
  const rows = `[${batch.flatMap((a) => a.rows).join(",")}]`
  // An array, as the key lookup passes its hashes: the driver writes the literal.
  const grants = [...new Set(batch.flatMap((a) => (a.grantedBy === undefined ? [] : [a.grantedBy])))]
  const keys = batch.flatMap((a) => (a.key === undefined ? [] : [a.key.row]))
  return keys.length > 0
    ? { text: AppendKeyed, values: [heads, rows, grants, `[${keys.join(",")}]`] }
    : { text: AppendPlain, values: [heads, rows, grants] }
}

// Beyond this many operations waiting on a database that does not keep up, answer at once.
const MaxQueued = 10_000

/** Tuning of the store. */
export interface Options {
  /** Longest a store operation may take before it answers `StoreUnavailable` (default 5 s). */
  readonly timeout?: Duration.DurationInput | undefined
  /** Most appends in one group commit (default 256). */
  readonly maxBatch?: number | undefined
  /** Group commits in flight at once (default 2). */
  readonly maxInFlight?: number | undefined
  /** How often an idle live reader reads again, for other processes' appends (default 200 ms). */
  readonly pollInterval?: Duration.DurationInput | undefined
  /**
   * Whether the track path's statements are prepared once per connection (default true). Turn
   * it off behind a pooler that does not keep a session's prepared statements (PgBouncer in
   * transaction mode before 1.21).
   */
  readonly preparedStatements?: boolean | undefined
}

/** Builds the ports over a `SqlClient` whose database has been migrated. */
export const make = (options: Options = {}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const timeout = options.timeout ?? Duration.seconds(5)

    const bounded = SqlErrors.bounded(timeout)
    const guard = <A>(effect: Effect.Effect<A, SqlError.SqlError>) => bounded(SqlErrors.orUnavailable(effect))
    // The batched statements of the track path: fixed text, straight to the pool when there is one.
    const direct = DirectQuery.make({
      sql,
      pool: yield* Effect.serviceOption(DirectQuery.Pool),
      timeout: Duration.decode(timeout),
      prepare: options.preparedStatements
    })
    const directGuarded = <Row extends object>(text: string, values: ReadonlyArray<unknown>) =>
      Effect.catchTag(direct<Row>(text, values), "SqlError", (e) => SqlErrors.orUnavailable(Effect.fail(e)))

    // Group commit: every append waiting while a batch is in flight goes into the next one, as
    // one statement — one round trip, one commit — that still decides each append on its own
    // (docs/decisions/0007-group-commit.md).
    // The statement of a group commit; also run alone, in a transaction, for a multi-stream append.
    const appendStatement = (batch: ReadonlyArray<EncodedAppend>) => {
      const { text, values } = appendQuery(batch)
      return sql.unsafe<AppendedRow>(text, values)
    }

    const appendBatch = (batch: ReadonlyArray<EncodedAppend>) => {
      const { text, values } = appendQuery(batch)
      return direct<AppendedRow>(text, values).pipe(
        Effect.map((answered) => {
          const outcomes = new Map<string, AppendedRow>()
          for (const row of answered) outcomes.set(row.stream_id, row)
          return batch.map(({ input: { expectedVersion, streamId }, key }): Exit.Exit<void, GrantedAppendError> => {
            const row = outcomes.get(streamId)
            switch (row?.outcome) {
              case "written":
                return Exit.void
              case "refused":
                return Exit.fail(new Projects.GrantRevoked())
              case "suppressed":
                return Exit.fail(new Suppressions.EmailSuppressed())
              default:
                return Exit.fail(
                  new EventStore.ConcurrencyConflict({
                    streamId,
                    expectedVersion,
                    reason: key !== undefined ? "idempotency" : expectedVersion === 0 ? "email" : "version",
                    holder: key === undefined && row !== undefined && row.holder !== null
                      ? toHolder(row.holder)
                      : undefined
                  })
                )
            }
          })
        }),
        // Two batches locking the same streams in different orders: one is chosen to fail, and
        // nothing of it was written, so each of its appends is decided again.
        Effect.catchTag(
          "SqlError",
          (e): Effect.Effect<ReadonlyArray<Exit.Exit<void, GrantedAppendError>>, StoreError.StoreUnavailable> =>
            SqlErrors.isRetryable(e) || SqlErrors.isIdempotencyTaken(e) || SqlErrors.isGuardTripped(e)
              ? Effect.succeed(
                batch.map(({ input: { expectedVersion, streamId } }) =>
                  Exit.fail(new EventStore.ConcurrencyConflict({ streamId, expectedVersion, reason: "version" }))
                )
              )
              : SqlErrors.orUnavailable(Effect.fail(e))
        )
      )
    }

    // How both batchers (appends, and the track path's reads) group their calls. Their batches
    // run on the runtime that built the store, with its flags (a server turns Effect's fiber
    // metrics off), not on Effect's default one; interruptible whatever the builder was, or a
    // statement's timeout could not cut it off.
    const runtime = Runtime.enableRuntimeFlag(yield* Effect.runtime<never>(), RuntimeFlags.Interruption)
    const batching = {
      runFork: Runtime.runFork(runtime),
      maxSize: options.maxBatch ?? 256,
      maxInFlight: options.maxInFlight ?? 2,
      maxQueued: MaxQueued,
      overflow: () => new StoreError.StoreUnavailable({ reason: "too many operations waiting for the database" })
    }

    const batched = Batcher.make<EncodedAppend, void, GrantedAppendError>({
      ...batching,
      run: appendBatch,
      onBatch: StoreMetrics.batchSizeOf("append"),
      // One statement cannot move a stream twice, nor claim one email for two new contacts.
      keyOf: ({ input, key }) => {
        const contact = upserted(input)
        return key === undefined
          ? [input.streamId, Contact.emailKey(contact.projectId, contact.email)]
          : [input.streamId, Contact.emailKey(contact.projectId, contact.email), key.id]
      }
    })
    // Encoded by its caller, before it joins a batch: an append that cannot be encoded (a BigInt
    // in its data) fails alone, and its batch goes on without it.
    const signal = LogStream.makeSignal()
    // A new contact carries its email's hash under the project's secret (read once per process),
    // checked against the suppression list in the statement; a project the database does not
    // hold has none. Any other append goes straight to the batch: no step for a hash it does not need.
    const hashFor = (input: EventStore.Append) => {
      const contact = upserted(input)
      return input.expectedVersion === 0
        ? Effect.map(hashOf(contact.projectId, contact.email, boundedSecret), Option.getOrUndefined)
        : Effect.succeed(undefined)
    }
    const append = (input: EventStore.Append): Effect.Effect<void, GrantedAppendError> => {
      if (input.projection._tag === "Erase") return erase(input, input.projection)
      if (changesEmail(input)) return appendTogether({ appends: [input] })
      const send = (emailHash: string | undefined) =>
        Effect.flatMap(Effect.sync(() => encodeAppend(input, undefined, input.grantedBy, emailHash)), batched)
      return (input.expectedVersion === 0 ? Effect.flatMap(hashFor(input), send) : send(undefined)).pipe(
        // Committed: this process's live readers wake at once (docs/decisions/0010-log-wake-up.md).
        Effect.tap(() => signal.notify())
      )
    }

    // Several streams at once cannot share a group commit, which decides each append on its own:
    // they go in one transaction of their own, committed only when every stream moved.
    const appendTogether = (
      input: EventStore.AppendAll
    ): Effect.Effect<void, AppendError | Suppressions.EmailSuppressed> => {
      const conflict = (reason: "version" | "email" | "idempotency") =>
        new EventStore.ConcurrencyConflict({
          streamId: input.appends[0]?.streamId ?? "",
          expectedVersion: input.appends[0]?.expectedVersion ?? 0,
          reason
        })
      const record = input.idempotency
      return Effect.forEach(input.appends, (a) =>
        Effect.map(hashFor(a), (hash) => encodeAppend(a, undefined, undefined, hash)))
        .pipe(Effect.flatMap((encoded) =>
          sql.withTransaction(Effect.gen(function*() {
            if (encoded.length > 0) {
              const answered = yield* appendStatement(encoded)
              if (
                answered.some((row) =>
                  row.outcome === "suppressed"
                )
              ) return yield* new Suppressions.EmailSuppressed()
              if (answered.filter((row) => row.outcome === "written").length !== encoded.length) {
                return yield* conflict(answered.some((row) => row.outcome === "held") ? "email" : "version")
              }
            }
            if (record !== undefined) {
              yield* sql`INSERT INTO idempotency_keys (project_id, key, fingerprint, status, body, contact_ids, created_at)
                SELECT k.project_id, k.key, k.fingerprint, k.status, k.body, k.contact_ids, k.created_at
                FROM json_populate_record(null::idempotency_keys, ${encodeKey(record, "").row}::json) AS k`
            }
          })).pipe(
            Effect.catchTag("SqlError", (e): Effect.Effect<never, AppendError> =>
              SqlErrors.isIdempotencyTaken(e)
                ? Effect.fail(conflict("idempotency"))
                : SqlErrors.isEmailTaken(e)
                ? Effect.fail(conflict("email"))
                : SqlErrors.isRetryable(e)
                ? Effect.fail(conflict("version"))
                : SqlErrors.orUnavailable(Effect.fail(e))),
            bounded
          )
        ))
    }

    const appendAll = (
      input: EventStore.AppendAll
    ): Effect.Effect<void, AppendError | Suppressions.EmailSuppressed> =>
      (input.appends.length === 1 && !changesEmail(input.appends[0]!)
        ? Effect.flatMap(
          hashFor(input.appends[0]!),
          (hash) => batched(encodeAppend(input.appends[0]!, input.idempotency, undefined, hash))
        ).pipe(
          // Made under no key: never refused for one.
          Effect.catchTag("GrantRevoked", (e) => Effect.die(e))
        )
        : appendTogether(input)).pipe(Effect.tap(() => signal.notify()))

    // Batched like the track path's contact reads: one query for every key looked up meanwhile.
    // An expired record is removed in the same statement that looks for it, so its key is free.
    const findIdempotency = Batcher.make<
      { readonly projectId: string; readonly key: string; readonly notBefore: Date },
      Option.Option<Idempotency.Record>,
      StoreError.StoreUnavailable
    >({
      ...batching,
      run: (batch) =>
        directGuarded<IdempotencyRow>(
          `
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
          ) i`,
          [
            JSON.stringify(
              batch.map((k) => ({ project_id: k.projectId, key: k.key, not_before: Timestamp.iso(k.notBefore) }))
            )
          ]
        ).pipe(
          Effect.map((rows) => {
            const found = new Map(rows.map((row) => [`${row.project_id}\u0000${row.key}`, toRecord(row)]))
            return batch.map((k) => Exit.succeed(Option.fromNullable(found.get(`${k.projectId}\u0000${k.key}`))))
          })
        )
    })

    const eventStore = EventStore.EventStore.of({
      append,
      appendAll,
      // An expired record is removed in the same statement that looks for it, so its key is free.
      findIdempotency: (projectId, key, notBefore) => findIdempotency({ projectId, key, notBefore }),
      // In bounded slices by the created_at index: old rows only, so appends never wait on it.
      expireIdempotency: (before) =>
        guard(sql<{ count: string }>`
          WITH gone AS (
            DELETE FROM idempotency_keys WHERE (project_id, key) IN (
              SELECT project_id, key FROM idempotency_keys WHERE created_at < ${before} LIMIT 10000)
            RETURNING 1
          )
          SELECT count(*)::text AS count FROM gone`).pipe(Effect.map((rows) => Number(rows[0]?.count ?? 0))),
      readStream: (streamId) =>
        guard(
          sql`SELECT ${sql.literal(eventColumns)} FROM events WHERE stream_id = ${streamId} ORDER BY version`.values
        )
          .pipe(Effect.map((rows) => rows.map(toRecorded))),
      // Only transactions below the oldest running one are read: one that began earlier but
      // commits later can then never land behind a checkpoint (Emmett PR #336). The next `limit`
      // events in log order are taken first and that filter applied after: rows are ordered by
      // transaction, so what passes is still a prefix of the log with no gap. In one WHERE, a
      // table whose statistics lag behind (a fresh or bulk-loaded log) got a bitmap scan of every
      // remaining row and a sort on disk per page, ~20× slower than walking the index in order.
      // The outer ORDER BY names the columns: the bare names would sort by the `::text` outputs.
      readAll: (after, limit) =>
        guard(
          sql`
          SELECT ${sql.literal(eventColumns)}
          FROM (
            SELECT * FROM events
            WHERE (transaction_id, global_position) > (${after.transactionId.toString()}::xid8, ${after.position.toString()}::bigint)
            ORDER BY transaction_id, global_position
            LIMIT ${limit}
          ) AS events
          WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY events.transaction_id, events.global_position`.values
        ).pipe(Effect.map((rows) => {
          const events = rows.map(toRecorded)
          const last = events[events.length - 1]
          return {
            events,
            checkpoint: last === undefined ? after : { transactionId: last.transactionId, position: last.position }
          }
        }))
    })

    const contactColumns = sql.literal(ContactColumns)

    // One query for every lookup waiting (the track path's reads, batched like the appends), or
    // for a batch's contacts at once.
    const findByEmails = (batch: ReadonlyArray<{ readonly projectId: string; readonly email: string }>) =>
      directGuarded<ContactRow>(
        `
          SELECT c.* FROM json_to_recordset($1::json) AS k(project_id text, email text)
          -- One index probe per key, whatever the statistics: an IN (or a plain join) over the
          -- function's fixed 100-row estimate was planned as a scan of every contact. LIMIT
          -- keeps the planner from flattening the subquery back into such a join.
          CROSS JOIN LATERAL (
            SELECT ${ContactColumns} FROM contacts WHERE project_id = k.project_id AND email = k.email LIMIT 1
          ) c`,
        [JSON.stringify(batch.map((k) => ({ project_id: k.projectId, email: k.email })))]
      ).pipe(
        Effect.map((rows) => {
          const found = new Map(rows.map((row) => [Contact.emailKey(row.project_id, row.email), toContact(row)]))
          return batch.map((k) => Option.fromNullable(found.get(Contact.emailKey(k.projectId, k.email))))
        })
      )
    const findByEmail = Batcher.make<
      { readonly projectId: string; readonly email: string },
      Option.Option<Contact.Contact>,
      StoreError.StoreUnavailable
    >({
      ...batching,
      onBatch: StoreMetrics.batchSizeOf("find_by_email"),
      run: (batch) => Effect.map(findByEmails(batch), (found) => found.map(Exit.succeed))
    })

    const contacts = Contacts.Contacts.of({
      findById: (projectId, contactId) =>
        guard(
          sql<ContactRow>`SELECT ${contactColumns} FROM contacts WHERE project_id = ${projectId} AND id = ${contactId}`
        )
          .pipe(Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toContact))),
      findByEmail: (projectId, email) => findByEmail({ projectId, email }),
      findManyByEmail: (projectId, emails) =>
        emails.length === 0 ? Effect.succeed([]) : findByEmails(emails.map((email) => ({ projectId, email }))),
      list: (projectId, request) =>
        guard(sql<ContactRow>`
          SELECT ${contactColumns} FROM contacts
          WHERE project_id = ${projectId} ${request.cursor === undefined ? sql`` : sql`AND id > ${request.cursor}`}
          ORDER BY id LIMIT ${request.limit + 1}`).pipe(
          Effect.map((rows) => Contacts.page(rows.map(toContact), request.limit, (c) => c.id))
        ),
      timeline: (projectId, contactId, request) =>
        Effect.gen(function*() {
          const owner = yield* guard(
            sql<{ id: string }>`SELECT id FROM contacts WHERE project_id = ${projectId} AND id = ${contactId}`
          )
          if (owner.length === 0) return yield* new Contacts.ContactNotFound({ contactId })
          const before = request.cursor === undefined ? null : Number(request.cursor)
          const rows = yield* guard(
            sql`
            SELECT ${sql.literal(eventColumns)}
            FROM events
            WHERE stream_id = ${contactId} AND type IN ${sql.in(ContactEvent.visibleTypes)}
              ${before === null ? sql`` : sql`AND version < ${before}`}
            ORDER BY version DESC LIMIT ${request.limit + 1}`.values
          )
          const page = Contacts.page(rows.map(toRecorded), request.limit, (r) => String(r.version))
          return { ...page, data: page.data.map(Contacts.toTimelineEvent) }
        })
    })

    // Every request looks its key up (no grant is cached, so a revoked key stops at once): the
    // lookups waiting together go as one query, like the track path's reads.
    const findByKeyHash = Batcher.make<string, Option.Option<Projects.Grant>, StoreError.StoreUnavailable>({
      ...batching,
      onBatch: StoreMetrics.batchSizeOf("find_by_key_hash"),
      run: (hashes) =>
        directGuarded<{ hash: string; project_id: string; kind: "public" | "secret" }>(
          "SELECT hash, project_id, kind FROM api_keys WHERE hash = ANY ($1::text[])",
          [hashes]
        ).pipe(
          Effect.map((rows) => {
            const found = new Map(rows.map((r) => [r.hash, { projectId: r.project_id, kind: r.kind }]))
            return hashes.map((hash) => Exit.succeed(Option.fromNullable(found.get(hash))))
          })
        )
    })

    const projects = Projects.Projects.of({
      findByKeyHash,
      // Under an advisory lock: two processes ensuring the same keys must agree on one project.
      ensure: (keys) =>
        guard(sql.withTransaction(Effect.gen(function*() {
          yield* sql`SELECT pg_advisory_xact_lock(hashtext('tracklog.projects'))`
          const rows = yield* sql<{ hash: string; project_id: string; kind: "public" | "secret" }>`
            SELECT hash, project_id, kind FROM api_keys WHERE hash IN (${keys.publicKeyHash}, ${keys.secretKeyHash})`
          const grant = (hash: string) => {
            const row = rows.find((r) => r.hash === hash)
            return row === undefined ? undefined : { projectId: row.project_id, kind: row.kind }
          }
          const outcome = Projects.resolveEnsure({
            public: grant(keys.publicKeyHash),
            secret: grant(keys.secretKeyHash)
          })
          if (outcome._tag !== "Create") return outcome
          yield* sql`INSERT INTO projects (id) VALUES (${keys.projectId})`
          yield* sql`INSERT INTO api_keys (hash, project_id, kind) VALUES
            (${keys.publicKeyHash}, ${keys.projectId}, 'public'), (${keys.secretKeyHash}, ${keys.projectId}, 'secret')`
          return { _tag: "Exists" as const, projectId: keys.projectId }
        }))).pipe(
          Effect.flatMap((
            outcome
          ) => (outcome._tag === "Exists" ? Effect.succeed(outcome.projectId) : Effect.fail(outcome)))
        ),
      count: guard(sql<{ count: string }>`SELECT count(*)::text AS count FROM projects`).pipe(
        Effect.map((rows) => Number(rows[0]?.count ?? 0))
      ),
      list: guard(sql<{ id: string; created_at: Date; public_keys: number; secret_keys: number }>`
        SELECT p.id, p.created_at,
          (SELECT count(*)::int FROM api_keys k WHERE k.project_id = p.id AND k.kind = 'public') AS public_keys,
          (SELECT count(*)::int FROM api_keys k WHERE k.project_id = p.id AND k.kind = 'secret') AS secret_keys
        FROM projects p ORDER BY p.created_at, p.id`).pipe(
        Effect.map((rows) =>
          rows.map((r) => ({
            projectId: r.id,
            createdAt: r.created_at,
            publicKeys: r.public_keys,
            secretKeys: r.secret_keys
          }))
        )
      ),
      // One transaction: the old keys and the new ones are never valid together, nor both gone.
      rotate: (keys) =>
        guard(sql.withTransaction(Effect.gen(function*() {
          yield* sql`SELECT pg_advisory_xact_lock(hashtext('tracklog.projects'))`
          const project = yield* sql`SELECT id FROM projects WHERE id = ${keys.projectId}`
          if (project.length === 0) return new Projects.ProjectNotFound({ projectId: keys.projectId })
          const taken =
            yield* sql`SELECT hash FROM api_keys WHERE hash IN (${keys.publicKeyHash}, ${keys.secretKeyHash})`
          if (taken.length > 0 || keys.publicKeyHash === keys.secretKeyHash) {
            return new Projects.ProjectKeysConflict({ message: "A new key of the rotation is already in use" })
          }
          yield* sql`DELETE FROM api_keys WHERE project_id = ${keys.projectId}`
          yield* sql`INSERT INTO api_keys (hash, project_id, kind) VALUES
            (${keys.publicKeyHash}, ${keys.projectId}, 'public'), (${keys.secretKeyHash}, ${keys.projectId}, 'secret')`
          return undefined
        }))).pipe(Effect.flatMap((error) => (error === undefined ? Effect.void : Effect.fail(error)))),
      revoke: (hash) =>
        guard(
          sql<
            { project_id: string; kind: "public" | "secret" }
          >`DELETE FROM api_keys WHERE hash = ${hash} RETURNING project_id, kind`
        ).pipe(
          Effect.flatMap((rows) =>
            rows[0] === undefined
              ? Effect.fail(new Projects.KeyNotFound())
              : Effect.succeed({ projectId: rows[0].project_id, kind: rows[0].kind })
          )
        )
    })

    // Erasure and suppression (behaviour §7).
    // A project's secret never changes: read once per process, and answered at once after that
    // (every new contact's suppression check asks for it). `read` runs the query: as it is inside a
    // transaction, `bounded` outside one.
    const secrets = new Map<string, string>()
    const querySecret = (projectId: string): Effect.Effect<Option.Option<string>, SqlError.SqlError> =>
      sql<{ hmac_secret: string }>`SELECT hmac_secret FROM projects WHERE id = ${projectId}`.pipe(
        Effect.map((rows) => {
          const secret = rows[0]?.hmac_secret
          if (secret !== undefined) secrets.set(projectId, secret)
          return Option.fromNullable(secret)
        })
      )
    const boundedSecret = (projectId: string) => guard(querySecret(projectId))
    const secretOf = <E>(projectId: string, read: (projectId: string) => Effect.Effect<Option.Option<string>, E>) => {
      const known = secrets.get(projectId)
      return known !== undefined ? Effect.succeedSome(known) : read(projectId)
    }
    // `None` for a project the database does not hold: nothing of it can be suppressed.
    const hashOf = <E>(
      projectId: string,
      email: string,
      read: (projectId: string) => Effect.Effect<Option.Option<string>, E>
    ) => Effect.map(secretOf(projectId, read), Option.map((secret) => EmailHash.emailHash(secret, email)))

    // Idempotency records (behaviour §6) live in a table another migration adds; when it is there,
    // erasure deletes the records of the contact's tracks in its transaction.
    // Asked once: the migrations have run before the store is made.
    const idempotencyTable = yield* sql<
      { present: boolean }
    >`SELECT to_regclass('idempotency_keys') IS NOT NULL AS present`.pipe(
      Effect.map((rows) => rows[0]?.present === true),
      Effect.orDie
    )

    const conflict = (input: EventStore.Append) =>
      new EventStore.ConcurrencyConflict({
        streamId: input.streamId,
        expectedVersion: input.expectedVersion,
        reason: "version"
      })

    // Erasure (behaviour §7): one transaction, opened by the compare-and-set of the stream, whose
    // row lock orders it with any append to the contact: a track that commits first moves the
    // version, so this erasure conflicts and is decided again (erasing that track too); one that
    // commits after conflicts itself, and is decided again on no contact.
    const erase = (
      input: EventStore.Append,
      projection: Extract<EventStore.Projection, { readonly _tag: "Erase" }>
    ): Effect.Effect<void, AppendError> =>
      sql.withTransaction(Effect.gen(function*() {
        const moved = yield* sql`
          UPDATE streams SET version = ${input.expectedVersion + input.events.length}
          WHERE stream_id = ${input.streamId} AND version = ${input.expectedVersion}
          RETURNING stream_id`
        if (moved.length === 0) return yield* conflict(input)
        const erased = yield* sql<{ email: string }>`
          DELETE FROM contacts WHERE id = ${input.streamId} AND project_id = ${projection.projectId} RETURNING email`
        if (erased.length === 0) return yield* conflict(input)
        yield* sql`DELETE FROM events WHERE stream_id = ${input.streamId}`
        if (idempotencyTable) {
          // The records of the contact's tracks go; one that names other contacts too (a
          // batch's) stays without this one, so a retry of it cannot track them twice
          // (docs/decisions/0029-erasure-keeps-shared-batch-records.md).
          const named = sql`project_id = ${projection.projectId} AND contact_ids @> ARRAY[${input.streamId}]::text[]`
          yield* sql`DELETE FROM idempotency_keys WHERE ${named} AND contact_ids <@ ARRAY[${input.streamId}]::text[]`
          yield* sql`UPDATE idempotency_keys SET contact_ids = array_remove(contact_ids, ${input.streamId}::text)
            WHERE ${named}`
        }
        if (projection.suppress) {
          const hash = yield* Effect.flatMap(
            hashOf(projection.projectId, erased[0]!.email, querySecret),
            Option.match({
              onNone: () =>
                Effect.dieMessage(
                  `no project ${projection.projectId}: its suppression list needs the project's secret`
                ),
              onSome: Effect.succeed
            })
          )
          yield* sql`INSERT INTO suppressions (project_id, email_hash) VALUES (${projection.projectId}, ${hash}) ON CONFLICT DO NOTHING`
        }
        for (const [i, { event, id }] of input.events.entries()) {
          yield* sql`
            INSERT INTO events (stream_id, project_id, version, id, type, data, created_at)
            VALUES (${input.streamId}, ${projection.projectId}, ${input.expectedVersion + i + 1}, ${id}, ${event._tag},
              ${JSON.stringify(ContactEvent.encode(event))}::json, ${Timestamp.iso(event.at)}::timestamptz)`
        }
      })).pipe(
        // A deadlock with a group commit: nothing was written; decide again.
        Effect.catchTag(
          "SqlError",
          (e): Effect.Effect<never, AppendError> =>
            SqlErrors.isRetryable(e) ? Effect.fail(conflict(input)) : SqlErrors.orUnavailable(Effect.fail(e))
        ),
        bounded,
        // The marker is in the log: live readers wake for it as for any append.
        Effect.tap(() => signal.notify())
      )

    // The track path asks only when a retry found no contact (a first track is checked in its
    // append); batched like its other read. A batch asks for all its emails in one query.
    const suppressedHashes = (batch: ReadonlyArray<{ readonly projectId: string; readonly hash: string }>) =>
      directGuarded<{ project_id: string; email_hash: string }>(
        `
          SELECT s.project_id, s.email_hash
          FROM json_to_recordset($1::json) AS k(project_id text, email_hash text)
          -- One index probe per key whatever the statistics, as the contact lookup.
          CROSS JOIN LATERAL (
            SELECT project_id, email_hash FROM suppressions
            WHERE project_id = k.project_id AND email_hash = k.email_hash LIMIT 1
          ) s`,
        [JSON.stringify(batch.map((k) => ({ project_id: k.projectId, email_hash: k.hash })))]
      ).pipe(
        Effect.map((rows) => {
          const found = new Set(rows.map((row) => `${row.project_id}\u0000${row.email_hash}`))
          return batch.map((k) => found.has(`${k.projectId}\u0000${k.hash}`))
        })
      )
    const isSuppressed = Batcher.make<
      { readonly projectId: string; readonly hash: string },
      boolean,
      StoreError.StoreUnavailable
    >({
      ...batching,
      run: (batch) => Effect.map(suppressedHashes(batch), (found) => found.map(Exit.succeed))
    })

    const suppressions = Suppressions.Suppressions.of({
      isSuppressed: (projectId, email) =>
        Effect.flatMap(
          hashOf(projectId, email, boundedSecret),
          Option.match({
            onNone: () => Effect.succeed(false),
            onSome: (hash) => isSuppressed({ projectId, hash })
          })
        ),
      suppressedAmong: (projectId, emails) =>
        Effect.flatMap(
          secretOf(projectId, boundedSecret),
          Option.match({
            onNone: () => Effect.succeed(new Set<string>()),
            onSome: (secret) => {
              const distinct = [...new Set(emails)]
              if (distinct.length === 0) return Effect.succeed(new Set<string>())
              return Effect.map(
                suppressedHashes(distinct.map((email) => ({ projectId, hash: EmailHash.emailHash(secret, email) }))),
                (found) => new Set(distinct.filter((_, i) => found[i]))
              )
            }
          })
        ),
      lift: (projectId, email) =>
        Effect.flatMap(
          hashOf(projectId, email, boundedSecret),
          Option.match({
            onNone: () => Effect.succeed([]),
            onSome: (hash) =>
              guard(
                sql`DELETE FROM suppressions WHERE project_id = ${projectId} AND email_hash = ${hash} RETURNING project_id`
              )
          })
        ).pipe(
          Effect.flatMap((rows) => rows.length === 0 ? Effect.fail(new Suppressions.NotSuppressed()) : Effect.void)
        )
    })

    // Asked once, as the idempotency table is: the migrations have run before the store is made.
    const identity = yield* Effect.orDie(LiveLog.readIdentity(sql))
    const logSource = LiveLog.makeLogSource({ sql, guard, identity, signal, pollInterval: options.pollInterval })
    const processors = LiveLog.makeProcessorStore({ sql, guard })

    const backup = makeBackup(sql, eventStore)

    return { eventStore, contacts, projects, suppressions, logSource, processors, backup }
  })

// Tables besides the log and projects whose rows an export carries, when the schema has them.
const ExtraTables = [Backup.SuppressionsTable] as const

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`

const ImportChunk = 1000

// Export and import of the whole store (behaviour §9). Not bounded by the operation timeout: an
// import of a large log takes as long as it takes, in one transaction.
const makeBackup = (sql: SqlClient.SqlClient, eventStore: EventStore.EventStore["Type"]) => {
  const unavailable = <A, E, R>(effect: Effect.Effect<A, E | SqlError.SqlError, R>) =>
    Effect.catchIf(
      effect,
      (e): e is SqlError.SqlError => (e as { _tag?: unknown })._tag === "SqlError",
      (e) => SqlErrors.orUnavailable(Effect.fail(e))
    ) as Effect.Effect<A, Exclude<E, SqlError.SqlError> | StoreError.StoreUnavailable, R>

  const columnsOf = (table: string) =>
    sql<{ column_name: string }>`
      SELECT column_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = ${table}`.pipe(
      Effect.map((rows) => new Set(rows.map((r) => r.column_name)))
    )

  const existingTables = sql<{ name: string }>`
    SELECT t AS name FROM unnest(${`{${ExtraTables.join(",")}}`}::text[]) AS t WHERE to_regclass(t) IS NOT NULL`.pipe(
    Effect.map((rows) => rows.map((r) => r.name))
  )

  // A row into a table, with only the columns both the row and the table have; the rest take
  // their defaults.
  const insertRow = (table: string, columns: ReadonlySet<string>, row: Record<string, unknown>) => {
    const names = Object.keys(row).filter((k) => columns.has(k))
    if (names.length === 0) return Effect.void
    const list = names.map(quoteIdent).join(", ")
    return sql`INSERT INTO ${sql.literal(quoteIdent(table))} (${sql.literal(list)})
      SELECT ${sql.literal(list)} FROM json_populate_record(null::${sql.literal(quoteIdent(table))}, ${
      JSON.stringify(row)
    }::json)`
  }

  const header = Stream.sync((): Backup.Item => ({
    type: "tracklog-export",
    version: 1,
    exportedAt: new Date().toISOString()
  }))

  const projectItems = Stream.fromIterableEffect(
    sql<{ row: string }>`SELECT row_to_json(p)::text AS row FROM projects p ORDER BY p.created_at, p.id`
  ).pipe(Stream.map(({ row }): Backup.Item => {
    const { created_at, id, ...extra } = JSON.parse(row) as Record<string, unknown>
    return {
      type: "project",
      id: id as string,
      ...(created_at === null || created_at === undefined
        ? {}
        : { createdAt: new Date(created_at as string).toISOString() }),
      ...(Object.keys(extra).length === 0 ? {} : { extra })
    }
  }))

  const keyItems = Stream.fromIterableEffect(
    sql<
      { hash: string; project_id: string; kind: "public" | "secret" }
    >`SELECT hash, project_id, kind FROM api_keys ORDER BY project_id, kind, hash`
  ).pipe(Stream.map((r): Backup.Item => ({ type: "key", hash: r.hash, projectId: r.project_id, kind: r.kind })))

  const rowItems = Stream.fromIterableEffect(existingTables).pipe(
    Stream.flatMap((table) =>
      Stream.fromIterableEffect(
        sql<{ row: string }>`SELECT row_to_json(t)::text AS row FROM ${sql.literal(quoteIdent(table))} t`
      ).pipe(
        Stream.map(({ row }): Backup.Item => ({ type: "row", table, row: JSON.parse(row) }))
      )
    )
  )

  // The log as catch-up readers see it: in order, and only what can no longer be overtaken, so
  // an export taken while writers run is a prefix of the log with no gap.
  const eventItems = Stream.paginateChunkEffect(
    EventStore.start,
    (after) =>
      Effect.map(eventStore.readAll(after, 1000), (batch) =>
        [
          Chunk.unsafeFromArray(batch.events.map((e): Backup.Item => ({
            type: "event",
            id: e.id,
            streamId: e.streamId,
            projectId: e.projectId,
            version: e.version,
            position: String(e.position),
            event: ContactEvent.encode(e.event)
          }))),
          batch.events.length === 0 ? Option.none() : Option.some(batch.checkpoint)
        ] as const)
  )

  const exportAll: Stream.Stream<Backup.Item, StoreError.StoreUnavailable> = header.pipe(
    Stream.concat(projectItems),
    Stream.concat(keyItems),
    Stream.concat(rowItems),
    Stream.mapError((e) => e as SqlError.SqlError),
    Stream.catchAll((e) => Stream.fromEffect(SqlErrors.orUnavailable(Effect.fail(e)))),
    Stream.concat(eventItems)
  )

  const importAll = <E>(items: Stream.Stream<Backup.Item, E>) =>
    unavailable(sql.withTransaction(Effect.gen(function*() {
      yield* sql`SELECT pg_advisory_xact_lock(hashtext('tracklog.projects'))`
      const [held] = yield* sql<{ n: number }>`
        SELECT ((SELECT count(*) FROM projects) + (SELECT count(*) FROM events))::int AS n`
      if ((held?.n ?? 0) > 0) {
        return yield* new Backup.StoreNotEmpty({
          message: "The store already holds projects or events; import needs an empty store"
        })
      }
      const projectColumns = yield* columnsOf("projects")
      const tableColumns = new Map<string, ReadonlySet<string>>()
      const streams = new Map<string, { version: number; projectId: string; state: Contact.State }>()
      const counts = { projects: 0, keys: 0, events: 0, contacts: 0, rows: 0 }
      // project id → whether its item carried its suppression secret (`Backup.checkSuppression`).
      const carried = new Map<string, boolean>()

      const invalid = (message: string) => Effect.fail(new Backup.InvalidExport({ message }))

      const load = (chunk: ReadonlyArray<Backup.Item>) =>
        Effect.gen(function*() {
          const keys: Array<{ hash: string; project_id: string; kind: string }> = []
          const events: Array<Record<string, unknown>> = []
          for (const item of chunk) {
            switch (item.type) {
              case "tracklog-export":
                break
              case "project":
                yield* insertRow("projects", projectColumns, {
                  ...item.extra,
                  id: item.id,
                  ...(item.createdAt === undefined ? {} : { created_at: item.createdAt })
                })
                carried.set(item.id, Backup.secretOf(item) !== undefined)
                counts.projects++
                break
              case "key":
                keys.push({ hash: item.hash, project_id: item.projectId, kind: item.kind })
                break
              case "row": {
                if (!/^[a-z_][a-z0-9_]*$/.test(item.table)) return yield* invalid(`not a table name: ${item.table}`)
                if (item.table === Backup.SuppressionsTable) {
                  const checked = Backup.checkSuppression(item.row, carried)
                  if (checked._tag === "Left") return yield* checked.left
                }
                let columns = tableColumns.get(item.table)
                if (columns === undefined) {
                  columns = yield* columnsOf(item.table)
                  tableColumns.set(item.table, columns)
                }
                if (columns.size === 0) return yield* invalid(`this store has no table ${item.table}`)
                yield* insertRow(item.table, columns, item.row)
                counts.rows++
                break
              }
              case "event": {
                const decoded = Backup.eventOf(item)
                if (decoded._tag === "Left") return yield* decoded.left
                const stream = streams.get(item.streamId) ??
                  { version: 0, projectId: item.projectId, state: Contact.initialState }
                if (!Backup.follows(stream.version, item.version, decoded.right)) {
                  return yield* invalid(`event ${item.id}: version ${item.version} after ${stream.version}`)
                }
                stream.version = item.version
                stream.state = Contact.evolve(stream.state, decoded.right)
                streams.set(item.streamId, stream)
                counts.events++
                // Positions are numbered anew in log order: one import transaction, so the
                // position alone orders what it loads.
                events.push({
                  stream_id: item.streamId,
                  project_id: item.projectId,
                  version: item.version,
                  global_position: counts.events,
                  id: item.id,
                  type: decoded.right._tag,
                  data: ContactEvent.encode(decoded.right),
                  created_at: Timestamp.iso(decoded.right.at)
                })
              }
            }
          }
          if (keys.length > 0) {
            yield* sql`INSERT INTO api_keys (hash, project_id, kind)
              SELECT hash, project_id, kind FROM json_to_recordset(${
              JSON.stringify(keys)
            }::json) AS k(hash text, project_id text, kind text)`
            counts.keys += keys.length
          }
          if (events.length > 0) {
            yield* sql`INSERT INTO events (stream_id, project_id, version, global_position, id, type, data, created_at)
              SELECT stream_id, project_id, version, global_position, id, type, data, created_at
              FROM json_to_recordset(${JSON.stringify(events)}::json) AS e(
                stream_id text, project_id text, version integer, global_position bigint, id text, type text, data json, created_at timestamptz)
              ORDER BY global_position`
          }
        })

      yield* Stream.runForEachChunk(Stream.rechunk(items, ImportChunk), (chunk) => load(Array.from(chunk)))

      // The projection, folded from the log: streams and their contacts.
      const all = [...streams.entries()]
      const emails = new Set<string>()
      for (let i = 0; i < all.length; i += ImportChunk) {
        const slice = all.slice(i, i + ImportChunk)
        const contactRows = []
        for (const [, { state }] of slice) {
          if (state === null) continue
          const key = Contact.emailKey(state.projectId, state.email)
          if (emails.has(key)) return yield* invalid(`two contacts for one email in project ${state.projectId}`)
          emails.add(key)
          contactRows.push({
            id: state.id,
            project_id: state.projectId,
            email: state.email,
            subscribed: state.subscribed,
            data: state.data,
            created_at: Timestamp.iso(state.createdAt),
            updated_at: Timestamp.iso(state.updatedAt),
            version: state.version
          })
        }
        yield* sql`INSERT INTO streams (stream_id, version)
          SELECT stream_id, version FROM json_to_recordset(${
          JSON.stringify(slice.map(([id, s]) => ({ stream_id: id, version: s.version })))
        }::json)
          AS s(stream_id text, version integer)`
        if (contactRows.length > 0) {
          yield* sql`INSERT INTO contacts (id, project_id, email, subscribed, data, created_at, updated_at, version)
            SELECT id, project_id, email, subscribed, data, created_at, updated_at, version
            FROM json_to_recordset(${JSON.stringify(contactRows)}::json) AS c(
              id text, project_id text, email text, subscribed boolean, data json, created_at timestamptz, updated_at timestamptz, version integer)`
          counts.contacts += contactRows.length
        }
      }
      if (counts.events > 0) yield* sql`SELECT setval('events_global_position', ${counts.events})`
      return counts satisfies Backup.Summary
    })))

  return Backup.Backup.of({ export: exportAll, import: importAll })
}

/** The ports over the `SqlClient` in context; runs the migrations first. */
export const layerFromClient = (
  options: Options = {}
): Layer.Layer<
  Store.Ports | LogStream.LogSource | Processor.ProcessorStore | Backup.Backup,
  SqlError.SqlError | import("@effect/sql/Migrator").MigrationError,
  SqlClient.SqlClient
> =>
  Layer.effectContext(Effect.gen(function*() {
    yield* Migrations.run
    const ports = yield* make(options)
    return Store.context(ports).pipe(
      Context.add(LogStream.LogSource, ports.logSource),
      Context.add(Processor.ProcessorStore, ports.processors),
      Context.add(Backup.Backup, ports.backup)
    )
  }))

/**
 * A `pg` pool for the store, made here so the store can send its batched statements to it
 * directly (`DirectQuery`), under the `@effect/sql-pg` client every other statement uses.
 */
export const layerClient = (config: Config) =>
  Layer.scopedContext(Effect.gen(function*() {
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const pool = new Pg.Pool({
          connectionString: config.url,
          max: config.maxConnections ?? 10,
          application_name: "tracklog",
          // PGlite's one session keeps what closed connections prepared: dropped as one opens.
          ...(config.preparedStatements === false ? {} : { onConnect: DirectQuery.dropStale })
        })
        // A connection that fails while idle is dropped by the pool; its next user reconnects.
        pool.on("error", () => {})
        return pool
      }),
      (pool) => Effect.promise(() => pool.end())
    )
    const client = yield* PgClient.fromPool({ acquire: Effect.succeed(pool), applicationName: "tracklog" })
    return Context.make(PgClient.PgClient, client).pipe(
      Context.add(SqlClient.SqlClient, client),
      Context.add(DirectQuery.Pool, pool)
    )
  })).pipe(Layer.provide(Reactivity.layer))

/** The store on a database URL: pool, migrations, ports. */
export const layer = (config: Config) => layerFromClient(config).pipe(Layer.provideMerge(layerClient(config)))
