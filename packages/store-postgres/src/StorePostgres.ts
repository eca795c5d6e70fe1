/**
 * The PostgreSQL store: the log, the inline contact projection and the projects, over
 * `@effect/sql-pg`. Many processes may share one database; correctness rests on the database's
 * constraints, never on a single process.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as Contacts from "@tracklog/core/Contacts"
import * as EventStore from "@tracklog/core/EventStore"
import type * as Json from "@tracklog/core/Json"
import * as Projects from "@tracklog/core/Projects"
import * as StoreError from "@tracklog/core/StoreError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as SqlErrors from "./internal/sqlError.js"
import * as Migrations from "./Migrations.js"

/** How the store reaches its database. */
export interface Config {
  readonly url: string
  /** Pool size; 1 for the embedded Postgres, which serves one connection at a time. */
  readonly maxConnections?: number | undefined
  /** Longest a store operation may take before it answers `StoreUnavailable`. */
  readonly timeout?: Duration.DurationInput | undefined
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

interface EventRow {
  readonly id: string
  readonly stream_id: string
  readonly version: number
  readonly transaction_id: string
  readonly global_position: string
  readonly data: ContactEvent.Encoded
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

// int8 and xid8 arrive from `pg` as strings: decoded explicitly to bigint here.
const toRecorded = (row: EventRow): EventStore.RecordedEvent => ({
  id: row.id,
  streamId: row.stream_id,
  version: row.version,
  transactionId: BigInt(row.transaction_id),
  position: BigInt(row.global_position),
  event: ContactEvent.decode(row.data)
})

const VisibleTypes = ["EventTracked", "SubscriptionChanged"]

/** Builds the ports over a `SqlClient` whose database has been migrated. */
export const make = (options: { readonly timeout?: Duration.DurationInput | undefined } = {}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const timeout = options.timeout ?? Duration.seconds(10)

    // Every operation is bounded: a database that hangs answers `StoreUnavailable`, not never.
    const guard = <A>(effect: Effect.Effect<A, SqlError.SqlError>) =>
      SqlErrors.orUnavailable(effect).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new StoreError.StoreUnavailable({ reason: "database timed out" })
        })
      )

    // One statement, so one round trip and atomic by itself: the stream's compare-and-set, the
    // events and the projection row. Later parts read from `cas`, so a lost race writes nothing.
    const append = (input: EventStore.Append) => {
      const { contact, events, expectedVersion, streamId } = input
      const newVersion = expectedVersion + events.length
      const rows = JSON.stringify(events.map(({ event, id }, i) => ({
        id,
        version: expectedVersion + i + 1,
        type: event._tag,
        data: ContactEvent.encode(event),
        created_at: event.at.toISOString()
      })))
      return sql<{ ok: boolean }>`
        WITH cas AS (
          INSERT INTO streams AS s (stream_id, version) VALUES (${streamId}, ${newVersion})
          ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version WHERE s.version = ${expectedVersion}
          RETURNING s.stream_id
        ), appended AS (
          INSERT INTO events (stream_id, version, id, type, data, created_at)
          SELECT cas.stream_id, e.version, e.id, e.type, e.data, e.created_at
          FROM cas, json_to_recordset(${rows}::json) AS e(id text, version integer, type text, data json, created_at timestamptz)
          ORDER BY e.version
        ), projected AS (
          INSERT INTO contacts AS c (id, project_id, email, subscribed, data, created_at, updated_at, version)
          SELECT cas.stream_id, ${contact.projectId}, ${contact.email}, ${contact.subscribed}, ${JSON.stringify(contact.data)}::json,
            ${contact.createdAt.toISOString()}::timestamptz, ${contact.updatedAt.toISOString()}::timestamptz, ${newVersion}
          FROM cas
          ON CONFLICT (id) DO UPDATE SET subscribed = excluded.subscribed, data = excluded.data,
            updated_at = excluded.updated_at, version = excluded.version
        )
        SELECT EXISTS (SELECT 1 FROM cas) AS ok`.pipe(
        Effect.flatMap(([row]) =>
          row?.ok === true
            ? Effect.void
            : Effect.fail(new EventStore.ConcurrencyConflict({ streamId, expectedVersion, reason: "version" }))
        ),
        // The only unique index a valid append can hit is (project_id, email): another stream
        // created this contact first. This is the one place SQLSTATE 23505 becomes a conflict.
        Effect.catchTag("SqlError", (e): Effect.Effect<never, EventStore.ConcurrencyConflict | StoreError.StoreUnavailable> =>
          SqlErrors.isUniqueViolation(e)
            ? Effect.fail(new EventStore.ConcurrencyConflict({ streamId, expectedVersion, reason: "email" }))
            : SqlErrors.orUnavailable(Effect.fail(e)))
      )
    }

    const eventStore = EventStore.EventStore.of({
      append: (input) =>
        append(input).pipe(Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new StoreError.StoreUnavailable({ reason: "database timed out" })
        })),
      readStream: (streamId) =>
        guard(sql<EventRow>`
          SELECT id, stream_id, version, transaction_id::text, global_position::text, data
          FROM events WHERE stream_id = ${streamId} ORDER BY version`).pipe(Effect.map((rows) => rows.map(toRecorded))),
      // Only transactions below the oldest running one are read: one that began earlier but
      // commits later can then never land behind a checkpoint (Emmett PR #336). ORDER BY names
      // the table's columns: the bare names would sort by the `::text` output columns.
      readAll: (after, limit) =>
        guard(sql<EventRow>`
          SELECT id, stream_id, version, transaction_id::text, global_position::text, data
          FROM events
          WHERE (transaction_id, global_position) > (${after.transactionId.toString()}::xid8, ${after.position.toString()}::bigint)
            AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY events.transaction_id, events.global_position
          LIMIT ${limit}`).pipe(Effect.map((rows) => {
          const events = rows.map(toRecorded)
          const last = events[events.length - 1]
          return { events, checkpoint: last === undefined ? after : { transactionId: last.transactionId, position: last.position } }
        }))
    })

    const contactColumns = sql`id, project_id, email, subscribed, data, created_at, updated_at, version`

    const contacts = Contacts.Contacts.of({
      findById: (projectId, contactId) =>
        guard(sql<ContactRow>`SELECT ${contactColumns} FROM contacts WHERE project_id = ${projectId} AND id = ${contactId}`)
          .pipe(Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toContact))),
      findByEmail: (projectId, email) =>
        guard(sql<ContactRow>`SELECT ${contactColumns} FROM contacts WHERE project_id = ${projectId} AND email = ${email}`)
          .pipe(Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toContact))),
      list: (projectId, request) =>
        guard(sql<ContactRow>`
          SELECT ${contactColumns} FROM contacts
          WHERE project_id = ${projectId} ${request.cursor === undefined ? sql`` : sql`AND id > ${request.cursor}`}
          ORDER BY id LIMIT ${request.limit + 1}`).pipe(
          Effect.map((rows) => Contacts.page(rows.map(toContact), request.limit, (c) => c.id))
        ),
      timeline: (projectId, contactId, request) =>
        Effect.gen(function*() {
          const owner = yield* guard(sql<{ id: string }>`SELECT id FROM contacts WHERE project_id = ${projectId} AND id = ${contactId}`)
          if (owner.length === 0) return yield* new Contacts.ContactNotFound({ contactId })
          const before = request.cursor === undefined ? null : Number(request.cursor)
          const rows = yield* guard(sql<EventRow>`
            SELECT id, stream_id, version, transaction_id::text, global_position::text, data
            FROM events
            WHERE stream_id = ${contactId} AND type IN ${sql.in(VisibleTypes)}
              ${before === null ? sql`` : sql`AND version < ${before}`}
            ORDER BY version DESC LIMIT ${request.limit + 1}`)
          const page = Contacts.page(rows.map(toRecorded), request.limit, (r) => String(r.version))
          return { ...page, data: page.data.map(Contacts.toTimelineEvent) }
        })
    })

    const projects = Projects.Projects.of({
      findByKeyHash: (hash) =>
        guard(sql<{ project_id: string; kind: "public" | "secret" }>`SELECT project_id, kind FROM api_keys WHERE hash = ${hash}`)
          .pipe(Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (r) => ({ projectId: r.project_id, kind: r.kind })))),
      // Under an advisory lock: two processes ensuring the same keys must agree on one project.
      ensure: (keys) =>
        guard(sql.withTransaction(Effect.gen(function*() {
          yield* sql`SELECT pg_advisory_xact_lock(hashtext('tracklog.projects'))`
          const existing = yield* sql<{ project_id: string }>`
            SELECT project_id FROM api_keys WHERE hash IN (${keys.publicKeyHash}, ${keys.secretKeyHash}) LIMIT 1`
          if (existing[0] !== undefined) return existing[0].project_id
          yield* sql`INSERT INTO projects (id) VALUES (${keys.projectId})`
          yield* sql`INSERT INTO api_keys (hash, project_id, kind) VALUES
            (${keys.publicKeyHash}, ${keys.projectId}, 'public'), (${keys.secretKeyHash}, ${keys.projectId}, 'secret')`
          return keys.projectId
        }))),
      count: guard(sql<{ count: string }>`SELECT count(*)::text AS count FROM projects`).pipe(
        Effect.map((rows) => Number(rows[0]?.count ?? 0))
      )
    })

    return { eventStore, contacts, projects }
  })

/** The ports over the `SqlClient` in context; runs the migrations first. */
export const layerFromClient = (
  options: { readonly timeout?: Duration.DurationInput | undefined } = {}
): Layer.Layer<EventStore.EventStore | Contacts.Contacts | Projects.Projects, SqlError.SqlError | import("@effect/sql/Migrator").MigrationError, SqlClient.SqlClient> =>
  Layer.effectContext(Effect.gen(function*() {
    yield* Migrations.run
    const { contacts, eventStore, projects } = yield* make(options)
    return Context.make(EventStore.EventStore, eventStore).pipe(
      Context.add(Contacts.Contacts, contacts),
      Context.add(Projects.Projects, projects)
    )
  }))

/** A `pg` pool for the store. */
export const layerClient = (config: Config) =>
  PgClient.layer({
    url: Redacted.make(config.url),
    maxConnections: config.maxConnections ?? 10,
    applicationName: "tracklog"
  })

/** The store on a database URL: pool, migrations, ports. */
export const layer = (config: Config) =>
  layerFromClient({ timeout: config.timeout }).pipe(Layer.provideMerge(layerClient(config)))
