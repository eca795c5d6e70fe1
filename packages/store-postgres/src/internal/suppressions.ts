/**
 * The suppression list (behaviour §7) on PostgreSQL: each project's secret, the keyed hashes of its
 * suppressed emails, and the checks. A project gets its secret with its `projects` row (a column
 * default, migration 0005); a project the database does not hold gets its row, hence its secret,
 * when a suppression first needs it (`suppressWithin`), as every store gives a project its secret on
 * first use. A project without a row has nothing on its list, so a check needs no secret for it.
 */
import type * as SqlError from "@effect/sql/SqlError"
import type * as StoreError from "@tracklog/core/StoreError"
import * as Suppressions from "@tracklog/core/Suppressions"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Batcher from "./batcher.js"
import type * as Database from "./database.js"
import * as EmailHash from "./emailHash.js"

// The batched check of hashes: one index probe per key whatever the statistics, as the contact lookup.
const Listed = `
  SELECT s.project_id, s.email_hash
  FROM json_to_recordset($1::json) AS k(project_id text, email_hash text)
  CROSS JOIN LATERAL (
    SELECT project_id, email_hash FROM suppressions
    WHERE project_id = k.project_id AND email_hash = k.email_hash LIMIT 1
  ) s`

/** The suppression list of a store, and what its other ports need of it. */
export const make = (db: Database.Database) => {
  const { guard, sql } = db

  // A project's secret never changes once committed: read once per process, and answered at once
  // after that (every new contact's check asks for it). Only committed secrets are kept: one read
  // in a transaction that may still roll back (a row made there) is not.
  const secrets = new Map<string, string>()
  const committedSecret = (projectId: string): Effect.Effect<Option.Option<string>, StoreError.StoreUnavailable> =>
    guard(sql<{ hmac_secret: string }>`SELECT hmac_secret FROM projects WHERE id = ${projectId}`).pipe(
      Effect.map((rows) => {
        const secret = rows[0]?.hmac_secret
        if (secret !== undefined) secrets.set(projectId, secret)
        return Option.fromNullable(secret)
      })
    )
  const secretOf = (projectId: string) => {
    const known = secrets.get(projectId)
    return known !== undefined ? Effect.succeedSome(known) : committedSecret(projectId)
  }
  // `None` for a project the database does not hold: nothing of it is suppressed.
  const hashOf = (projectId: string, email: string) =>
    Effect.map(secretOf(projectId), Option.map((secret) => EmailHash.emailHash(secret, email)))

  // The track path asks only when a retry found no contact (a first track is checked in its
  // append); batched like its other read. A batch asks for all its emails in one query.
  const listed = (batch: ReadonlyArray<{ readonly projectId: string; readonly hash: string }>) =>
    db.directGuarded<{ project_id: string; email_hash: string }>(Listed, [
      JSON.stringify(batch.map((k) => ({ project_id: k.projectId, email_hash: k.hash })))
    ]).pipe(
      Effect.map((rows) => {
        const found = new Set(rows.map((row) => `${row.project_id}\u0000${row.email_hash}`))
        return batch.map((k) => found.has(`${k.projectId}\u0000${k.hash}`))
      })
    )
  const isListed = Batcher.make<
    { readonly projectId: string; readonly hash: string },
    boolean,
    StoreError.StoreUnavailable
  >({
    ...db.batching,
    run: (batch) => Effect.map(listed(batch), (found) => found.map(Exit.succeed))
  })

  const port = Suppressions.Suppressions.of({
    isSuppressed: (projectId, email) =>
      Effect.flatMap(
        hashOf(projectId, email),
        Option.match({
          onNone: () => Effect.succeed(false),
          onSome: (hash) => isListed({ projectId, hash })
        })
      ),
    suppressedAmong: (projectId, emails) =>
      Effect.flatMap(
        secretOf(projectId),
        Option.match({
          onNone: () => Effect.succeed(new Set<string>()),
          onSome: (secret) => {
            const distinct = [...new Set(emails)]
            if (distinct.length === 0) return Effect.succeed(new Set<string>())
            return Effect.map(
              listed(distinct.map((email) => ({ projectId, hash: EmailHash.emailHash(secret, email) }))),
              (found) => new Set(distinct.filter((_, i) => found[i]))
            )
          }
        })
      ),
    lift: (projectId, email) =>
      Effect.flatMap(
        hashOf(projectId, email),
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

  return {
    port,
    /**
     * The hash a new contact's append carries, checked against the list in the group commit
     * (docs/decisions/0026-first-track-without-a-read.md); none for a project without a row.
     */
    newContactHash: (projectId: string, email: string) => Effect.map(hashOf(projectId, email), Option.getOrUndefined),
    /** The same for many emails of one project: its secret once, then a plain function. */
    newContactHasher: (projectId: string) =>
      Effect.map(
        secretOf(projectId),
        (secret): (email: string) => string | undefined =>
          Option.isNone(secret) ? () => undefined : (email) => EmailHash.emailHash(secret.value, email)
      ),
    /**
     * Puts the email on its project's list, in the caller's transaction (an erasure's). A project
     * the database does not hold gets its row first, with its secret: `ON CONFLICT DO NOTHING`
     * waits for a transaction making the same row, and the read after it, a statement of its own,
     * sees the row that won, so two processes never key one project's hashes with two secrets.
     */
    suppressWithin: (projectId: string, email: string): Effect.Effect<void, SqlError.SqlError> =>
      Effect.gen(function*() {
        let secret = secrets.get(projectId)
        if (secret === undefined) {
          yield* sql`INSERT INTO projects (id) VALUES (${projectId}) ON CONFLICT DO NOTHING`
          const rows = yield* sql<{ hmac_secret: string }>`SELECT hmac_secret FROM projects WHERE id = ${projectId}`
          secret = rows[0]!.hmac_secret
        }
        yield* sql`INSERT INTO suppressions (project_id, email_hash)
          VALUES (${projectId}, ${EmailHash.emailHash(secret, email)}) ON CONFLICT DO NOTHING`
      })
  }
}
