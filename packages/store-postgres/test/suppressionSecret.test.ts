/**
 * A project the database does not hold (no `projects` row: an embedder or a test that uses any
 * project id without `Projects.ensure`) gets its suppression secret on first use, as on every
 * store (issue 28): an erasure with suppression makes its row, and with it the secret, race-free
 * between processes. Before, it died (a 500) for want of a secret. On the server and on the
 * embedded Postgres.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as ApiKey from "@tracklog/core/ApiKey"
import * as Commands from "@tracklog/core/Commands"
import * as Contacts from "@tracklog/core/Contacts"
import * as EraseContact from "@tracklog/core/EraseContact"
import * as Ids from "@tracklog/core/Ids"
import * as Projects from "@tracklog/core/Projects"
import * as Suppressions from "@tracklog/core/Suppressions"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as StorePostgres from "../src/StorePostgres.js"

type Process = Context.Context<
  Commands.Services | Ids.Ids | Contacts.Contacts | Projects.Projects | Suppressions.Suppressions | SqlClient.SqlClient
>

// A whole "process": its own pool, its own caches (the project secrets among them).
const processOn = (db: TestDatabase.Database) =>
  Layer.build(
    Commands.layer.pipe(
      Layer.provideMerge(StorePostgres.layer({ url: db.url, maxConnections: db.maxConnections })),
      Layer.provideMerge(Ids.layer)
    )
  )

const track = (process: Process, projectId: string, email: string, event = "e") =>
  Effect.flatMap(Track.Track, (t) => t.track(projectId, Either.getOrThrow(TrackCommand.decode({ email, event })))).pipe(
    Effect.provide(process)
  )

const erase = (process: Process, projectId: string, contactId: string) =>
  Effect.provide(EraseContact.erase(projectId, { contactId, suppress: true }), process)

const suppressions = (process: Process) => Effect.provide(Suppressions.Suppressions, process)

// The project's row as the database holds it, and the hashes on its list.
const stored = (process: Process, projectId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const projects = yield* sql<{ hmac_secret: string }>`SELECT hmac_secret FROM projects WHERE id = ${projectId}`
    const hashes = yield* sql<{ email_hash: string }>`
      SELECT email_hash FROM suppressions WHERE project_id = ${projectId} ORDER BY email_hash`
    return { secrets: projects.map((p) => p.hmac_secret), hashes: hashes.map((h) => h.email_hash) }
  }).pipe(Effect.provide(process))

const hashesOf = (secret: string, emails: ReadonlyArray<string>) =>
  Effect.map(Effect.forEach(emails, (email) => Suppressions.emailHash(secret, email)), (hashes) => [...hashes].sort())

for (const backend of TestDatabase.backends) {
  describe(`a project's suppression secret on first use: ${backend.name}`, () => {
    it.scopedLive(
      "track, erase with suppress, then the email is suppressed here and in another process; lift works",
      () =>
        Effect.gen(function*() {
          const db = yield* backend.database
          const a = yield* processOn(db)
          const projectId = "never-ensured"
          const email = "first-use@example.com"
          const first = yield* track(a, projectId, email)
          expect((yield* stored(a, projectId)).secrets).toEqual([])

          yield* erase(a, projectId, first.contact)
          // The row was made with its secret, and the hash is keyed with it.
          const { hashes, secrets } = yield* stored(a, projectId)
          expect(secrets).toHaveLength(1)
          expect(secrets[0]).toMatch(/^[0-9a-f]{64}$/)
          expect(hashes).toEqual(yield* hashesOf(secrets[0]!, [email]))
          expect(yield* (yield* suppressions(a)).isSuppressed(projectId, email)).toBe(true)
          expect((yield* Effect.flip(track(a, projectId, email, "again")))._tag).toBe("EmailSuppressed")

          // A process that never saw the project: its first track of the email is a new contact's,
          // checked against the list in the append, with the secret it reads then.
          const b = yield* processOn(db)
          expect((yield* Effect.flip(track(b, projectId, email, "elsewhere")))._tag).toBe("EmailSuppressed")
          expect([...(yield* (yield* suppressions(b)).suppressedAmong(projectId, [email, "other@example.com"]))])
            .toEqual([email])
          const other = yield* track(b, projectId, "other@example.com")
          expect(Option.isNone(
            yield* Effect.provide(Contacts.Contacts, b).pipe(
              Effect.flatMap((contacts) => contacts.findByEmail(projectId, email))
            )
          )).toBe(true)

          yield* (yield* suppressions(b)).lift(projectId, email)
          expect((yield* Effect.flip((yield* suppressions(b)).lift(projectId, email)))._tag).toBe("NotSuppressed")
          const back = yield* track(a, projectId, email, "back")
          expect(back.contact).not.toBe(first.contact)
          expect(back.contact).not.toBe(other.contact)
          // Still one row, still the same secret.
          expect((yield* stored(a, projectId)).secrets).toEqual(secrets)
        }),
      { timeout: 120_000 }
    )

    it.scopedLive(
      "a project made by a suppression can be ensured later and keeps its secret, so its list still holds",
      () =>
        Effect.gen(function*() {
          const db = yield* backend.database
          const a = yield* processOn(db)
          const projectId = "ensured-later"
          const email = "kept@example.com"
          yield* erase(a, projectId, (yield* track(a, projectId, email)).contact)
          const before = yield* stored(a, projectId)
          const keys = {
            projectId,
            publicKeyHash: yield* ApiKey.hash(ApiKey.generate("public")),
            secretKeyHash: yield* ApiKey.hash(ApiKey.generate("secret"))
          }
          const projects = yield* Effect.provide(Projects.Projects, a)
          expect(yield* projects.ensure(keys)).toBe(projectId)
          expect(yield* projects.ensure(keys)).toBe(projectId)
          expect(Option.getOrThrow(yield* projects.findByKeyHash(keys.secretKeyHash)).projectId).toBe(projectId)
          expect(yield* stored(a, projectId)).toEqual(before)
          const b = yield* processOn(db)
          expect((yield* Effect.flip(track(b, projectId, email)))._tag).toBe("EmailSuppressed")
        }),
      { timeout: 120_000 }
    )

    it.scopedLive(
      "two processes suppressing in one new project at once make one row, and key every hash with its secret",
      () =>
        Effect.gen(function*() {
          const db = yield* backend.database
          const [a, b] = yield* Effect.all([processOn(db), processOn(db)], { concurrency: 2 })
          for (let round = 0; round < 10; round++) {
            const projectId = `raced-${round}`
            const emails = [`a-${round}@example.com`, `b-${round}@example.com`]
            const made = yield* Effect.all([track(a, projectId, emails[0]!), track(b, projectId, emails[1]!)])
            yield* Effect.all([erase(a, projectId, made[0].contact), erase(b, projectId, made[1].contact)], {
              concurrency: "unbounded"
            })
            const { hashes, secrets } = yield* stored(a, projectId)
            expect(secrets).toHaveLength(1)
            expect(hashes).toEqual(yield* hashesOf(secrets[0]!, emails))
            for (const [process, email] of [[a, emails[1]!], [b, emails[0]!]] as const) {
              expect((yield* Effect.flip(track(process, projectId, email)))._tag).toBe("EmailSuppressed")
            }
          }
        }),
      { timeout: 120_000 }
    )
  })
}
