/**
 * The write path of the log (`EventStore.append`, `appendAll`, behaviour §4, §6, §7): group commit
 * (docs/decisions/0007-group-commit.md): every append waiting while a batch is in flight goes into
 * the next one, as one statement (`appendStatement.ts`) — one round trip, one commit — that still
 * decides each append on its own. Several streams at once, and an email change, go in a
 * transaction of their own; an erasure is `erase.ts`.
 */
import type * as SqlError from "@effect/sql/SqlError"
import * as Contact from "@tracklog/core/Contact"
import * as EventStore from "@tracklog/core/EventStore"
import type * as Idempotency from "@tracklog/core/Idempotency"
import type * as LogStream from "@tracklog/core/LogStream"
import * as Projects from "@tracklog/core/Projects"
import type * as StoreError from "@tracklog/core/StoreError"
import * as Suppressions from "@tracklog/core/Suppressions"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Batcher from "./batcher.js"
import * as AppendStatement from "./appendStatement.js"
import * as ContactRow from "./contactRow.js"
import * as IdempotencyRecords from "./idempotency.js"
import type * as Database from "./database.js"
import type * as Erase from "./erase.js"
import * as SqlErrors from "./sqlError.js"
import * as StoreMetrics from "../StoreMetrics.js"

type AppendError = EventStore.ConcurrencyConflict | StoreError.StoreUnavailable
type GrantedAppendError = AppendError | Projects.GrantRevoked | Suppressions.EmailSuppressed

// An email change moves the contact's claim; the unique index decides a race for the email, and
// its violation would fail a whole group commit: such appends go alone, in their own transaction.
const changesEmail = (input: EventStore.Append) => input.events.some((e) => e.event._tag === "ContactEmailChanged")

/** The appends of a store. */
export const make = (options: {
  readonly db: Database.Database
  /** Notified after each commit: this process's live readers wake at once (decision 0010). */
  readonly signal: LogStream.Signal
  readonly erase: (input: EventStore.Append, projection: Erase.Erase) => Effect.Effect<void, AppendError>
  /** A new contact's email hash under its project's secret; none for a project without a row. */
  readonly newContactHash: (
    projectId: string,
    email: string
  ) => Effect.Effect<string | undefined, StoreError.StoreUnavailable>
  /** `newContactHash` for many emails of a project: its secret read once, then a plain function. */
  readonly newContactHasher: (
    projectId: string
  ) => Effect.Effect<(email: string) => string | undefined, StoreError.StoreUnavailable>
  /** Stores a record in the caller's transaction (`idempotency.ts`). */
  readonly insertRecord: (record: Idempotency.Record) => Effect.Effect<void, SqlError.SqlError>
}) => {
  const { db, signal } = options
  const { bounded, direct, sql } = db

  const appendBatch = (batch: ReadonlyArray<AppendStatement.Encoded>) => {
    const { text, values } = AppendStatement.query(batch)
    return direct<AppendStatement.Row>(text, values).pipe(
      Effect.map((answered) => {
        const outcomes = new Map<string, AppendStatement.Row>()
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
                    ? ContactRow.fromJson(row.holder)
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

  const batched = Batcher.make<AppendStatement.Encoded, void, GrantedAppendError>({
    ...db.batching,
    run: appendBatch,
    onBatch: StoreMetrics.batchSizeOf("append"),
    // One statement cannot move a stream twice, nor claim one email for two new contacts.
    keyOf: ({ input, key }) => {
      const contact = AppendStatement.upserted(input)
      return key === undefined
        ? [input.streamId, Contact.emailKey(contact.projectId, contact.email)]
        : [input.streamId, Contact.emailKey(contact.projectId, contact.email), key.id]
    }
  })

  // A new contact carries its email's hash, checked against the suppression list in the
  // statement. Any other append goes straight to the batch: no step for a hash it does not need.
  const hashFor = (input: EventStore.Append) => {
    const contact = AppendStatement.upserted(input)
    return input.expectedVersion === 0
      ? options.newContactHash(contact.projectId, contact.email)
      : Effect.succeed(undefined)
  }

  // A batch's appends encoded at once: each project's hasher once (a batch has one project),
  // then no Effect per append (decision 0046).
  const encodeAll = (appends: ReadonlyArray<EventStore.Append>) => {
    const projects = new Set<string>()
    for (const a of appends) if (a.expectedVersion === 0) projects.add(AppendStatement.upserted(a).projectId)
    return Effect.map(
      Effect.forEach(projects, (p) => Effect.map(options.newContactHasher(p), (hasher) => [p, hasher] as const)),
      (hashers) => {
        const byProject = new Map(hashers)
        return appends.map((a) => {
          if (a.expectedVersion !== 0) return AppendStatement.encode(a)
          const contact = AppendStatement.upserted(a)
          return AppendStatement.encode(a, undefined, undefined, byProject.get(contact.projectId)!(contact.email))
        })
      }
    )
  }

  // Several streams at once cannot share a group commit, which decides each append on its own.
  // They go as one statement of their own that writes all of them or none (one round trip, one
  // commit, prepared: decision 0046). When it writes none, the same statement runs again in a
  // transaction of its own, answering each append's outcome, to tell a suppressed email or a
  // taken one from a lost race (and a conflict on the way is answered as such).
  const appendTogether = (
    input: EventStore.AppendAll
  ): Effect.Effect<void, AppendError | Suppressions.EmailSuppressed> =>
    input.appends.length === 0 || input.appends.some(changesEmail)
      ? appendInTransaction(input)
      : encodeAll(input.appends).pipe(
        Effect.flatMap((encoded) => {
          const record = input.idempotency
          // The record travels with the first append, whose stream it then guards (`blocked`).
          const all = record === undefined ? encoded : [
            { ...encoded[0]!, key: IdempotencyRecords.encodeRecord(record, encoded[0]!.input.streamId) },
            ...encoded.slice(1)
          ]
          const { text, values } = AppendStatement.query(all, true)
          return direct(text, values)
        }),
        Effect.asVoid,
        Effect.catchTag(
          "SqlError",
          (e): Effect.Effect<void, AppendError | Suppressions.EmailSuppressed> =>
            SqlErrors.isGuardTripped(e) || SqlErrors.isIdempotencyTaken(e) || SqlErrors.isRetryable(e)
              ? appendInTransaction(input)
              : SqlErrors.orUnavailable(Effect.fail(e))
        )
      )

  const appendInTransaction = (
    input: EventStore.AppendAll
  ): Effect.Effect<void, AppendError | Suppressions.EmailSuppressed> => {
    const conflict = (reason: "version" | "email" | "idempotency") =>
      new EventStore.ConcurrencyConflict({
        streamId: input.appends[0]?.streamId ?? "",
        expectedVersion: input.appends[0]?.expectedVersion ?? 0,
        reason
      })
    const record = input.idempotency
    return encodeAll(input.appends)
      .pipe(Effect.flatMap((encoded) =>
        sql.withTransaction(Effect.gen(function*() {
          if (encoded.length > 0) {
            const { text, values } = AppendStatement.query(encoded)
            const answered = yield* sql.unsafe<AppendStatement.Row>(text, values)
            if (answered.some((row) => row.outcome === "suppressed")) return yield* new Suppressions.EmailSuppressed()
            if (answered.filter((row) => row.outcome === "written").length !== encoded.length) {
              return yield* conflict(answered.some((row) => row.outcome === "held") ? "email" : "version")
            }
          }
          if (record !== undefined) yield* options.insertRecord(record)
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

  // Committed: this process's live readers wake at once (docs/decisions/0010-log-wake-up.md).
  const notify = () => signal.notify()

  const append = (input: EventStore.Append): Effect.Effect<void, GrantedAppendError> => {
    // The marker is in the log: live readers wake for it as for any append.
    if (input.projection._tag === "Erase") return Effect.tap(options.erase(input, input.projection), notify)
    if (changesEmail(input)) return Effect.tap(appendTogether({ appends: [input] }), notify)
    // Encoded by its caller, before it joins a batch: an append that cannot be encoded (a BigInt
    // in its data) fails alone, and its batch goes on without it.
    const send = (emailHash: string | undefined) =>
      Effect.flatMap(Effect.sync(() => AppendStatement.encode(input, undefined, input.grantedBy, emailHash)), batched)
    return Effect.tap(input.expectedVersion === 0 ? Effect.flatMap(hashFor(input), send) : send(undefined), notify)
  }

  const appendAll = (
    input: EventStore.AppendAll
  ): Effect.Effect<void, AppendError | Suppressions.EmailSuppressed> =>
    (input.appends.length === 1 && !changesEmail(input.appends[0]!)
      ? Effect.flatMap(
        hashFor(input.appends[0]!),
        (hash) => batched(AppendStatement.encode(input.appends[0]!, input.idempotency, undefined, hash))
      ).pipe(
        // Made under no key: never refused for one.
        Effect.catchTag("GrantRevoked", (e) => Effect.die(e))
      )
      : appendTogether(input)).pipe(Effect.tap(notify))

  return { append, appendAll }
}
