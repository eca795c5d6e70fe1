/**
 * The suppression list (behaviour §7): emails a project must never track again, kept only as a keyed
 * hash — HMAC-SHA-256 under a secret of the project — never in clear. The port every store
 * implements; the store holds each project's secret.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Digest from "./internal/digest.js"
import type * as StoreError from "./StoreError.js"

/** A track was refused, storing nothing: its email is suppressed in the project and has no contact. */
export class EmailSuppressed extends Schema.TaggedError<EmailSuppressed>()("EmailSuppressed", {}) {}

/** Lifting a suppression that is not there. */
export class NotSuppressed extends Schema.TaggedError<NotSuppressed>()("NotSuppressed", {}) {}

/** The suppression list. Emails are canonical (trimmed, lowercased) when they get here. */
export class Suppressions extends Context.Tag("@tracklog/core/Suppressions")<Suppressions, {
  /** One indexed lookup of the email's hash; asked only before a contact is created. */
  readonly isSuppressed: (projectId: string, email: string) => Effect.Effect<boolean, StoreError.StoreUnavailable>
  /** Which of these emails are suppressed, in one call (a batch's). */
  readonly suppressedAmong: (
    projectId: string,
    emails: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlySet<string>, StoreError.StoreUnavailable>
  /** Removes the email from the list, so it may be tracked again. */
  readonly lift: (projectId: string, email: string) => Effect.Effect<void, NotSuppressed | StoreError.StoreUnavailable>
}>() {}

/** A new project secret: 32 random bytes, hex. */
export const newSecret = (): string => Digest.hex(crypto.getRandomValues(new Uint8Array(32)))

/**
 * The stored form of a suppressed email: hex HMAC-SHA-256 of the canonical email under the
 * project's secret. Keyed, so a leaked table cannot be checked against a list of known emails
 * without the secret too, and one project's hashes say nothing about another's.
 */
export const emailHash = (secret: string, email: string): Effect.Effect<string> =>
  Effect.promise(async () =>
    Digest.hex(new Uint8Array(await crypto.subtle.sign("HMAC", await keyOf(secret), encoder.encode(email))))
  )

const encoder = new TextEncoder()
// Imported keys by secret: one import per project, not per hash. Bounded, as secrets are per project.
type Key = Awaited<ReturnType<typeof crypto.subtle.importKey>>
const keys = new Map<string, Promise<Key>>()
const MaxKeys = 10_000

const keyOf = (secret: string): Promise<Key> => {
  let key = keys.get(secret)
  if (key === undefined) {
    if (keys.size >= MaxKeys) keys.delete(keys.keys().next().value!)
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
    keys.set(secret, key)
  }
  return key
}
