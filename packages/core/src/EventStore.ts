/**
 * The append-only log of contact events (behaviour §4): the port every store implements.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Contact from "./Contact.js"
import type * as ContactEvent from "./ContactEvent.js"
import type * as Idempotency from "./Idempotency.js"
import type * as Projects from "./Projects.js"
import type * as StoreError from "./StoreError.js"
import type * as Suppressions from "./Suppressions.js"

/** An event to append, with the id it will be known by. */
export interface NewEvent {
  readonly id: string
  readonly event: ContactEvent.ContactEvent
}

/** An event as stored in the log. */
export interface RecordedEvent {
  readonly id: string
  readonly streamId: string
  /** The project of the stream's contact: a project's log is a range of the log, not a join. */
  readonly projectId: string
  /** 1, 2, 3… within the stream, no gaps. */
  readonly version: number
  /** The writing transaction; commit order is only guaranteed below the oldest running one. */
  readonly transactionId: bigint
  /** Unique across the log, increasing within a transaction. */
  readonly position: bigint
  readonly event: ContactEvent.ContactEvent
}

/** Where a catch-up reader is: the last event it has seen, ordered by (transactionId, position). */
export interface Checkpoint {
  readonly transactionId: bigint
  readonly position: bigint
}

/** The checkpoint before the first event. */
export const start: Checkpoint = { transactionId: 0n, position: 0n }

/**
 * The payload bytes a processor's page holds at most (4 MiB): hundreds of ordinary events, a few
 * of those that carry hundreds of KB of data.
 */
export const PageBytes = 4 * 1024 * 1024

/** True when `event` comes after `checkpoint` in log order. */
export const isAfter = (event: Checkpoint, checkpoint: Checkpoint): boolean =>
  event.transactionId > checkpoint.transactionId ||
  (event.transactionId === checkpoint.transactionId && event.position > checkpoint.position)

/**
 * What an append writes beside its events: the change they make to the contact projection, in
 * the same atomic step.
 */
export type Projection =
  /**
   * The contact after the events (the caller folds it: it holds the state, and the version check
   * makes it exact). A stream that starts claims the contact's email in its project; a stream
   * whose email changed (`ContactEmailChanged`) moves its claim. A claim on an email another
   * contact holds is refused (`ConcurrencyConflict`, reason `email`).
   */
  | { readonly _tag: "Upsert"; readonly contact: Contact.Contact }
  /**
   * The stream ends (behaviour §7): the contact's row, every earlier event of its stream and the
   * idempotency records of its tracks are removed (one that names other contacts too stays,
   * without this one: decision 0029), its email goes on the suppression list when `suppress`, and
   * the events (the `ContactErased` marker) take the stream's next versions. A contact not in
   * `projectId` is a `ConcurrencyConflict`, and nothing is written.
   */
  | { readonly _tag: "Erase"; readonly projectId: string; readonly suppress: boolean }

/** The project of a projection's contact. */
export const projectOf = (projection: Projection): string =>
  projection._tag === "Upsert" ? projection.contact.projectId : projection.projectId

/** What one append asks for. */
export interface Append {
  readonly streamId: string
  /** The stream version the events were decided on; 0 for a new stream. */
  readonly expectedVersion: number
  readonly events: ReadonlyArray<NewEvent>
  /** What the events change in the contact projection, written in the same atomic step. */
  readonly projection: Projection
  /**
   * The hash of the API key the append is made under, when it must still grant the contact's
   * project as the append commits: otherwise nothing is written and the append fails with
   * `Projects.GrantRevoked`. It lets a caller take a key it checked before on trust, and still
   * refuse a key revoked since (behaviour §9) without a read of its own. Only `append` checks it.
   */
  readonly grantedBy?: string | undefined
}

// A contact as a store hands it back; checked no further (it comes from the store itself).
const StoredContact = Schema.declare(
  (u: unknown): u is Contact.Contact => typeof u === "object" && u !== null,
  { identifier: "Contact" }
)

/**
 * The stream moved on since it was read, or its contact's email was taken by another stream:
 * nothing was written, and the command should be decided again on fresh state.
 */
export class ConcurrencyConflict extends Schema.TaggedError<ConcurrencyConflict>()("ConcurrencyConflict", {
  streamId: Schema.String,
  expectedVersion: Schema.Number,
  reason: Schema.Literal("version", "email", "idempotency"),
  /**
   * With reason `email`, the contact that holds the email, as the store saw it when it refused,
   * if it could tell: the fresh state to decide on, without a read. A store may leave it out (a
   * holder committed while the append ran is not visible to it).
   */
  holder: Schema.optional(StoredContact)
}) {}

/**
 * Appends to several streams as one atomic step, with an optional idempotency record (behaviour §6,
 * §8): every stream moves and the record is stored, or nothing is written and the whole is a
 * `ConcurrencyConflict` (reason `idempotency` when the key was stored meanwhile) or, when a stream
 * that starts has a suppressed email, `Suppressions.EmailSuppressed`.
 */
export interface AppendAll {
  /** At most one append per stream. */
  readonly appends: ReadonlyArray<Append>
  readonly idempotency?: Idempotency.Record | undefined
}

/** A page of the whole log, after a checkpoint. */
export interface Batch {
  readonly events: ReadonlyArray<RecordedEvent>
  /** Where to resume; equal to the input when nothing new is visible yet. */
  readonly checkpoint: Checkpoint
  /**
   * The page may have stopped at its `maxBytes` rather than at the end of what is visible: a short
   * page is then no sign that the reader has caught up.
   */
  readonly cut?: boolean | undefined
}

/** The log. */
export class EventStore extends Context.Tag("@tracklog/core/EventStore")<EventStore, {
  /**
   * Appends atomically: every event and the projection, or nothing. A stream that starts is
   * written only if its contact's email is not on its project's suppression list (behaviour §7),
   * checked in the same step as the write: otherwise it fails with `Suppressions.EmailSuppressed`.
   * An email that has a contact is not refused for it but held (`ConcurrencyConflict.holder`): the
   * list is about creating a contact, and a first track then needs no read before it
   * (docs/decisions/0026-first-track-without-a-read.md).
   */
  readonly append: (
    input: Append
  ) => Effect.Effect<
    void,
    ConcurrencyConflict | Projects.GrantRevoked | Suppressions.EmailSuppressed | StoreError.StoreUnavailable
  >
  /** Several streams and an idempotency record, all or nothing (see `AppendAll`). */
  readonly appendAll: (
    input: AppendAll
  ) => Effect.Effect<void, ConcurrencyConflict | Suppressions.EmailSuppressed | StoreError.StoreUnavailable>
  /**
   * The record stored for a project's key, if one made after `notBefore` is; an older one has
   * expired and is removed.
   */
  readonly findIdempotency: (
    projectId: string,
    key: string,
    notBefore: Date
  ) => Effect.Effect<Option.Option<Idempotency.Record>, StoreError.StoreUnavailable>
  /** Removes records made before `before`; answers how many. Never blocks appends. */
  readonly expireIdempotency: (before: Date) => Effect.Effect<number, StoreError.StoreUnavailable>
  /** One stream, from version 1. */
  readonly readStream: (
    streamId: string
  ) => Effect.Effect<ReadonlyArray<RecordedEvent>, StoreError.StoreUnavailable>
  /**
   * Up to `limit` events after the checkpoint, in (transactionId, position) order. Only events of
   * transactions that can no longer be overtaken are returned, so a reader never skips one.
   * With `maxBytes`, the page also stops before the event that would take its payloads past it
   * (never before the first): a page of large events stays small. A store that holds its log in
   * memory anyway may ignore it.
   */
  readonly readAll: (
    after: Checkpoint,
    limit: number,
    maxBytes?: number
  ) => Effect.Effect<Batch, StoreError.StoreUnavailable>
}>() {}
