/**
 * Segment definitions (`SegmentStore`, behaviour §11) on PostgreSQL: a project's change is
 * decided in one transaction under a lock of that project, and written there.
 */
import * as SqlError from "@effect/sql/SqlError"
import type * as Segment from "@tracklog/core/Segment"
import type * as SegmentCondition from "@tracklog/core/SegmentCondition"
import * as SegmentStore from "@tracklog/core/SegmentStore"
import * as Timestamp from "@tracklog/core/Timestamp"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Database from "./database.js"
import * as SqlErrors from "./sqlError.js"

/** The columns, as every read of a segment selects them. */
export const columns =
  "id, project_id, name, slug, condition, track_membership, created_at, updated_at, revision, built_revision, build_cursor, deleted_at"

/** A row of `columns`. */
export interface Row {
  readonly id: string
  readonly project_id: string
  readonly name: string
  readonly slug: string
  readonly condition: SegmentCondition.WireCondition
  readonly track_membership: boolean
  readonly created_at: Date
  readonly updated_at: Date
  readonly revision: number
  readonly built_revision: number
  readonly build_cursor: string
  readonly deleted_at: Date | null
}

/** A row as the segment it holds. */
export const toSegment = (row: Row): Segment.Segment => ({
  id: row.id,
  projectId: row.project_id,
  name: row.name,
  slug: row.slug,
  condition: row.condition,
  trackMembership: row.track_membership,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  revision: row.revision,
  builtRevision: row.built_revision,
  buildCursor: row.build_cursor,
  ...(row.deleted_at === null ? {} : { deletedAt: row.deleted_at })
})

const encode = (segment: Segment.Segment) => ({
  id: segment.id,
  project_id: segment.projectId,
  name: segment.name,
  slug: segment.slug,
  condition: segment.condition,
  track_membership: segment.trackMembership,
  created_at: Timestamp.iso(segment.createdAt),
  updated_at: Timestamp.iso(segment.updatedAt),
  revision: segment.revision,
  built_revision: segment.builtRevision,
  build_cursor: segment.buildCursor,
  deleted_at: segment.deletedAt === undefined ? null : Timestamp.iso(segment.deletedAt)
})

/** The `SegmentStore` of a store. */
export const make = ({ bounded, guard, sql }: Database.Database) => {
  const selected = sql.literal(columns)

  const listOf = (projectId: string) =>
    sql<Row>`SELECT ${selected} FROM segments WHERE project_id = ${projectId} ORDER BY created_at, id`.pipe(
      Effect.map((rows) => rows.map(toSegment))
    )

  // The built fields are the processor's (`MembershipStore.write`'s progress, which takes no
  // project lock): a decision that keeps the revision keeps them as stored, so a rename never
  // moves a pass back to where the decision read it.
  const put = (segments: ReadonlyArray<Segment.Segment>) =>
    sql`
      INSERT INTO segments (${selected})
      SELECT ${selected} FROM json_to_recordset(${JSON.stringify(segments.map(encode))}::json) AS s(
        id text, project_id text, name text, slug text, condition json, track_membership boolean,
        created_at timestamptz, updated_at timestamptz, revision integer, built_revision integer,
        build_cursor text, deleted_at timestamptz)
      ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, slug = EXCLUDED.slug, condition = EXCLUDED.condition,
        track_membership = EXCLUDED.track_membership, created_at = EXCLUDED.created_at,
        updated_at = EXCLUDED.updated_at, revision = EXCLUDED.revision, deleted_at = EXCLUDED.deleted_at,
        built_revision = CASE WHEN segments.revision = EXCLUDED.revision
          THEN segments.built_revision ELSE EXCLUDED.built_revision END,
        build_cursor = CASE WHEN segments.revision = EXCLUDED.revision
          THEN segments.build_cursor ELSE EXCLUDED.build_cursor END`

  return SegmentStore.SegmentStore.of({
    list: (projectId) => guard(listOf(projectId)),
    get: (projectId, segmentId) =>
      guard(sql<Row>`SELECT ${selected} FROM segments WHERE project_id = ${projectId} AND id = ${segmentId}`).pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toSegment))
      ),
    all: guard(sql<Row>`SELECT ${selected} FROM segments ORDER BY created_at, id`).pipe(
      Effect.map((rows) => rows.map(toSegment))
    ),
    // A transaction-scoped lock per project (two keys: apart from the migrations' one-key lock)
    // orders the decisions of every process; the embedded Postgres serves one session, which a
    // session lock would pin. A project need not have a row to lock.
    update: (projectId, decide) =>
      sql.withTransaction(Effect.gen(function*() {
        yield* sql`SELECT pg_advisory_xact_lock(hashtext('tracklog.segments'), hashtext(${projectId}))`
        const decided = decide(yield* listOf(projectId))
        if (Either.isLeft(decided)) return yield* Effect.fail(decided.left)
        const { answer, put: segments } = decided.right
        if (segments.some((s) => s.projectId !== projectId)) {
          return yield* Effect.dieMessage(
            `SegmentStore.update: a decision of project ${projectId} put another's segment`
          )
        }
        if (segments.length > 0) yield* put(segments)
        return answer
      })).pipe(
        Effect.catchIf(
          (e): e is SqlError.SqlError => e instanceof SqlError.SqlError,
          (e) => SqlErrors.orUnavailable(Effect.fail(e))
        ),
        bounded
      )
  })
}
