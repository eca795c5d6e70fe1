/**
 * Export and import of the whole store (`Backup`, behaviour §9) on PostgreSQL. The import's rules
 * (each stream's versions, the fold of each contact, one contact per email) are core's
 * `Backup.rebuild`, which the memory store runs too; here its result is written. Not bounded by
 * the operation timeout: an import of a large log takes as long as it takes, in one transaction.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import * as Backup from "@tracklog/core/Backup"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as EventStore from "@tracklog/core/EventStore"
import type * as StoreError from "@tracklog/core/StoreError"
import * as Timestamp from "@tracklog/core/Timestamp"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as SqlErrors from "./sqlError.js"

// Tables besides the log and projects whose rows an export carries, when the schema has them,
// with the columns that travel (both ways). A segment's definition travels; how far the processor
// built its membership does not (nor do snapshots and members): an import rebuilds it.
const ExtraTables: ReadonlyArray<{ readonly name: string; readonly columns?: ReadonlyArray<string> }> = [
  { name: Backup.SuppressionsTable },
  {
    name: Backup.SegmentsTable,
    columns: [
      "id",
      "project_id",
      "name",
      "slug",
      "condition",
      "track_membership",
      "created_at",
      "updated_at",
      "revision",
      "deleted_at"
    ]
  }
]

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`

const ImportChunk = 1000

/** The `Backup` port of a store; its export reads the log as `readAll` pages it. */
export const make = (sql: SqlClient.SqlClient, readAll: EventStore.EventStore["Type"]["readAll"]) => {
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
    SELECT t AS name FROM unnest(${ExtraTables.map((t) => t.name)}::text[]) AS t WHERE to_regclass(t) IS NOT NULL`.pipe(
    Effect.map((rows) => ExtraTables.filter((t) => rows.some((r) => r.name === t.name)))
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
        sql<{ row: string }>`SELECT row_to_json(t)::text AS row FROM (SELECT ${
          sql.literal(table.columns?.join(", ") ?? "*")
        } FROM ${sql.literal(quoteIdent(table.name))}) t`
      ).pipe(
        Stream.map(({ row }): Backup.Item => ({ type: "row", table: table.name, row: JSON.parse(row) }))
      )
    )
  )

  // The log as catch-up readers see it: in order, and only what can no longer be overtaken, so
  // an export taken while writers run is a prefix of the log with no gap.
  const eventItems = Stream.paginateChunkEffect(
    EventStore.start,
    (after) =>
      Effect.map(readAll(after, 1000), (batch) =>
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
      const rebuilt = Backup.rebuild()
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
                  const travel = ExtraTables.find((t) => t.name === item.table)?.columns
                  const all = yield* columnsOf(item.table)
                  columns = travel === undefined ? all : new Set(travel.filter((c) => all.has(c)))
                  tableColumns.set(item.table, columns)
                }
                if (columns.size === 0) return yield* invalid(`this store has no table ${item.table}`)
                yield* insertRow(item.table, columns, item.row)
                counts.rows++
                break
              }
              case "event": {
                const event = rebuilt.add(item)
                if (event._tag === "Left") return yield* event.left
                counts.events++
                // Positions are numbered anew in log order: one import transaction, so the
                // position alone orders what it loads.
                events.push({
                  stream_id: item.streamId,
                  project_id: item.projectId,
                  version: item.version,
                  global_position: counts.events,
                  id: item.id,
                  type: event.right._tag,
                  data: ContactEvent.encode(event.right),
                  created_at: Timestamp.iso(event.right.at)
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
            yield* sql`INSERT INTO events (stream_id, project_id, version, global_position, id, type, data, created_at, bytes)
              SELECT stream_id, project_id, version, global_position, id, type, data, created_at, octet_length(data::text)
              FROM json_to_recordset(${JSON.stringify(events)}::json) AS e(
                stream_id text, project_id text, version integer, global_position bigint, id text, type text, data json, created_at timestamptz)
              ORDER BY global_position`
          }
        })

      yield* Stream.runForEachChunk(Stream.rechunk(items, ImportChunk), (chunk) => load(Array.from(chunk)))

      // The projection, folded from the log: streams and their contacts.
      const streams = rebuilt.finish()
      if (streams._tag === "Left") return yield* streams.left
      for (let i = 0; i < streams.right.length; i += ImportChunk) {
        const slice = streams.right.slice(i, i + ImportChunk)
        const contactRows = slice.flatMap(({ contact }) =>
          contact === null ? [] : [{
            id: contact.id,
            project_id: contact.projectId,
            email: contact.email,
            subscribed: contact.subscribed,
            data: contact.data,
            created_at: Timestamp.iso(contact.createdAt),
            updated_at: Timestamp.iso(contact.updatedAt),
            version: contact.version
          }]
        )
        yield* sql`INSERT INTO streams (stream_id, version)
          SELECT stream_id, version FROM json_to_recordset(${
          JSON.stringify(slice.map((s) => ({ stream_id: s.streamId, version: s.version })))
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
