/**
 * Projects and their key hashes (`Projects`, behaviour §1.1, §9) on PostgreSQL. The rules are core's
 * (`Projects.resolveEnsure`, `Projects.rotationConflict`); here they run under one advisory lock, so
 * two processes changing keys at once agree.
 */
import * as Projects from "@tracklog/core/Projects"
import type * as StoreError from "@tracklog/core/StoreError"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Batcher from "./batcher.js"
import type * as Database from "./database.js"
import * as StoreMetrics from "../StoreMetrics.js"

type Kind = "public" | "secret"

/** The `Projects` port of a store. */
export const make = (db: Database.Database) => {
  const { guard, sql } = db
  const lock = () => sql`SELECT pg_advisory_xact_lock(hashtext('tracklog.projects'))`
  const insertKeys = (keys: Projects.ProjectKeys) =>
    sql`INSERT INTO api_keys (hash, project_id, kind) VALUES
      (${keys.publicKeyHash}, ${keys.projectId}, 'public'), (${keys.secretKeyHash}, ${keys.projectId}, 'secret')`

  // A request whose key is not cached looks it up (a revoked key stops at once): the lookups
  // waiting together go as one query, like the track path's reads.
  const findByKeyHash = Batcher.make<string, Option.Option<Projects.Grant>, StoreError.StoreUnavailable>({
    ...db.batching,
    onBatch: StoreMetrics.batchSizeOf("find_by_key_hash"),
    run: (hashes) =>
      db.directGuarded<{ hash: string; project_id: string; kind: Kind }>(
        "SELECT hash, project_id, kind FROM api_keys WHERE hash = ANY ($1::text[])",
        [hashes]
      ).pipe(
        Effect.map((rows) => {
          const found = new Map(rows.map((r) => [r.hash, { projectId: r.project_id, kind: r.kind }]))
          return hashes.map((hash) => Exit.succeed(Option.fromNullable(found.get(hash))))
        })
      )
  })

  return Projects.Projects.of({
    findByKeyHash,
    ensure: (keys) =>
      guard(sql.withTransaction(Effect.gen(function*() {
        yield* lock()
        const rows = yield* sql<{ hash: string; project_id: string; kind: Kind }>`
          SELECT hash, project_id, kind FROM api_keys WHERE hash IN (${keys.publicKeyHash}, ${keys.secretKeyHash})`
        const grant = (hash: string) => {
          const row = rows.find((r) => r.hash === hash)
          return row === undefined ? undefined : { projectId: row.project_id, kind: row.kind }
        }
        const outcome = Projects.resolveEnsure({ public: grant(keys.publicKeyHash), secret: grant(keys.secretKeyHash) })
        if (outcome._tag !== "Create") return outcome
        // The row may be there without keys: made by a suppression's first use of the project's
        // secret (`suppressions.ts`), which it keeps.
        yield* sql`INSERT INTO projects (id) VALUES (${keys.projectId}) ON CONFLICT DO NOTHING`
        yield* insertKeys(keys)
        return { _tag: "Exists" as const, projectId: keys.projectId }
      }))).pipe(
        Effect.flatMap((outcome) =>
          outcome._tag === "Exists" ? Effect.succeed(outcome.projectId) : Effect.fail(outcome)
        )
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
        yield* lock()
        const project = yield* sql`SELECT id FROM projects WHERE id = ${keys.projectId}`
        if (project.length === 0) return new Projects.ProjectNotFound({ projectId: keys.projectId })
        const taken = yield* sql`SELECT hash FROM api_keys WHERE hash IN (${keys.publicKeyHash}, ${keys.secretKeyHash})`
        if (taken.length > 0 || keys.publicKeyHash === keys.secretKeyHash) return Projects.rotationConflict()
        yield* sql`DELETE FROM api_keys WHERE project_id = ${keys.projectId}`
        yield* insertKeys(keys)
        return undefined
      }))).pipe(Effect.flatMap((error) => (error === undefined ? Effect.void : Effect.fail(error)))),
    revoke: (hash) =>
      guard(
        sql<{ project_id: string; kind: Kind }>`DELETE FROM api_keys WHERE hash = ${hash} RETURNING project_id, kind`
      )
        .pipe(
          Effect.flatMap((rows) =>
            rows[0] === undefined
              ? Effect.fail(new Projects.KeyNotFound())
              : Effect.succeed({ projectId: rows[0].project_id, kind: rows[0].kind })
          )
        )
  })
}
