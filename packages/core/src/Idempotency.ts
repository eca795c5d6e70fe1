/**
 * `Idempotency-Key` (behaviour §6): a client's key for one request, a fingerprint of its body and the
 * answer it got, stored with the request's events in the same atomic append. A retry with the key
 * gets the stored answer again instead of a second append.
 */
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Digest from "./internal/digest.js"

/** Kept at least this long after first use unless configured otherwise (24 h). */
export const DefaultTtlSeconds = 86_400

/** The longest key, in characters. */
export const MaxKeyLength = 255

/** An answer as the client saw it: status and the exact body text. */
export interface Answer {
  readonly status: number
  readonly body: string
}

/** What is stored for a key, scoped by project. */
export interface Record {
  readonly projectId: string
  readonly key: string
  readonly fingerprint: string
  readonly answer: Answer
  /**
   * The contacts the answer names. Erasing one takes it out of the list; erasing the last removes
   * the record (behaviour §7, decision 0029).
   */
  readonly contactIds: ReadonlyArray<string>
  readonly createdAt: Date
}

/** True while a record made at `createdAt` is kept: made at or after `notBefore` (behaviour §6). */
export const isLive = (record: Pick<Record, "createdAt">, notBefore: Date): boolean =>
  record.createdAt.getTime() >= notBefore.getTime()

/**
 * A record once a contact it names is erased (behaviour §7, decision 0029): without that contact,
 * or `undefined` when it named no other (then the record goes). A record that does not name it is
 * kept as it is.
 */
export const withoutContact = (record: Record, contactId: string): Record | undefined => {
  if (!record.contactIds.includes(contactId)) return record
  const others = record.contactIds.filter((id) => id !== contactId)
  return others.length === 0 ? undefined : { ...record, contactIds: others }
}

/** What a command needs to run idempotently: the key, the body's fingerprint, and how its result reads. */
export interface Request<R> {
  readonly key: string
  readonly fingerprint: string
  /** The answer of a result: stored with the events, and sent. */
  readonly render: (result: R) => Answer
}

/**
 * A command's outcome: done now (with the answer stored, when it ran with a key), or done before
 * (its stored answer, replayed).
 */
export type Outcome<R> =
  | { readonly _tag: "Done"; readonly result: R; readonly answer: Answer | undefined }
  | { readonly _tag: "Replayed"; readonly answer: Answer }

/** The key was used before with a different body: nothing was appended. */
export class IdempotencyKeyReused extends Schema.TaggedError<IdempotencyKeyReused>()("IdempotencyKeyReused", {
  key: Schema.String
}) {}

/** The header value is not a key (behaviour §6). */
export class InvalidIdempotencyKey extends Schema.TaggedError<InvalidIdempotencyKey>()("InvalidIdempotencyKey", {
  message: Schema.String
}) {}

/**
 * The key of a header value: 1–255 visible ASCII characters (`!`…`~`), optionally as a quoted
 * string whose quotes are not part of the key.
 */
export const parseKey = (value: string): Either.Either<string, InvalidIdempotencyKey> => {
  const quoted = value.length >= 2 && value.startsWith('"') && value.endsWith('"')
  const key = quoted ? value.slice(1, -1) : value
  if (key.length === 0 || key.length > MaxKeyLength) {
    return Either.left(
      new InvalidIdempotencyKey({ message: `Idempotency-Key must be 1–${MaxKeyLength} visible ASCII characters` })
    )
  }
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    if (c < 0x21 || c > 0x7e) {
      return Either.left(
        new InvalidIdempotencyKey({ message: "Idempotency-Key may only hold visible ASCII characters (! to ~)" })
      )
    }
  }
  return Either.right(key)
}

/**
 * A JSON value as canonical text: object keys sorted, no whitespace. Two bodies that are the same
 * JSON value (whatever their key order or spacing) have the same canonical text.
 */
export const canonical = (value: unknown): string => {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null"
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`
  const keys = Object.keys(value).sort()
  return `{${
    keys.map((k) => `${JSON.stringify(k)}:${canonical((value as { readonly [k: string]: unknown })[k])}`).join(",")
  }}`
}

/** The fingerprint of a request body: hex SHA-256 of its canonical text. */
export const fingerprint = (body: unknown): Effect.Effect<string> => Digest.sha256Hex(canonical(body))
