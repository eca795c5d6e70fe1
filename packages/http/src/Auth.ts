/**
 * Bearer key authentication (behaviour §1.1): header → key → hash → project grant.
 */
import * as Projects from "@tracklog/core/Projects"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { createHash } from "node:crypto"
import * as ApiError from "./ApiError.js"

/** What a route accepts: any key of the project, or only its secret key. */
export type Requirement = "any" | "secret"

// The scheme name is case-insensitive (RFC 9110 §11.1), and one or more spaces may follow it
// (`credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`, §11.4).
const Bearer = /^Bearer +([^\s]+)$/i

// Hashes of keys seen, bounded. A key rotated or revoked by another process (`pnpm tracklog
// keys …`) must stop working on the next request: a grant is only taken from the cache below by a
// route whose write checks the key in the same statement (docs/decisions/0024-grant-on-append.md);
// every other request looks its hash up in the store (docs/decisions/0015-operating.md).
const MaxCached = 10_000
// Generated keys are 67 characters; longer tokens are hashed but not kept, so the cache holds at
// most MaxCached × ~200 bytes whatever callers send.
const MaxCachedKeyLength = 128

/**
 * The bearer token of an `Authorization` header, or undefined when there is none: the one parser
 * of the header, for authentication and the rate limit alike.
 */
export const keyOf = (header: string | undefined): string | undefined => {
  const match = header === undefined ? null : Bearer.exec(header)
  return match === null ? undefined : match[1]!
}

const hashes = new Map<string, string>()

/** The stored form of a key: hex SHA-256, as `ApiKey.hash`, computed synchronously and cached. */
export const hashOf = (key: string): string => {
  let hash = hashes.get(key)
  if (hash === undefined) {
    hash = createHash("sha256").update(key, "utf8").digest("hex")
    if (key.length > MaxCachedKeyLength) return hash
    if (hashes.size >= MaxCached) hashes.clear()
    hashes.set(key, hash)
  }
  return hash
}

/**
 * A grant taken on trust from this process's cache: the write it leads to checks the key
 * (`EventStore.Append.grantedBy`), and whatever writes nothing checks it with `confirm`.
 */
export interface Trust {
  readonly keyHash: string
  /** Reads the key again: fails `INVALID_API_KEY` (and forgets it) when it is gone. */
  readonly confirm: Effect.Effect<void, ApiError.ApiError>
}

/** A request's grant; `trusted` when it came from the cache, unchecked by the store this time. */
export interface Granted extends Projects.Grant {
  /** The hash of the request's key, to read it again later (an open event stream does). */
  readonly keyHash?: string | undefined
  readonly trusted?: Trust | undefined
}

// Grants found, bounded, for the routes whose write checks the key itself (`authenticateTrusted`).
// Every other route still reads the key on every request.
const MaxGrants = 10_000

/** What authentication needs. */
export type Services = Projects.Projects

/** Builds the authenticator over the `Projects` port. */
export const make = Effect.gen(function*() {
  const projects = yield* Projects.Projects
  const trustedGrants = new Map<string, Granted>()

  const remember = (hash: string, grant: Projects.Grant) => {
    if (trustedGrants.size >= MaxGrants) trustedGrants.clear()
    trustedGrants.set(hash, {
      projectId: grant.projectId,
      kind: grant.kind,
      keyHash: hash,
      trusted: { keyHash: hash, confirm: confirm(hash) }
    })
  }

  const confirm = (hash: string): Effect.Effect<void, ApiError.ApiError> =>
    Effect.matchEffect(projects.findByKeyHash(hash), {
      onFailure: (error) => Effect.fail(ApiError.fromDomain(error)),
      onSuccess: (grant) => {
        if (Option.isSome(grant)) return Effect.void
        trustedGrants.delete(hash)
        return Effect.fail(ApiError.invalidApiKey())
      }
    })

  const lookUp = (hash: string, requirement: Requirement): Effect.Effect<Granted, ApiError.ApiError> =>
    // One step for both outcomes (not `mapError` then `flatMap`): every request comes through here.
    Effect.matchEffect(projects.findByKeyHash(hash), {
      onFailure: (error) => Effect.fail(ApiError.fromDomain(error)),
      onSuccess: (grant) => {
        if (Option.isNone(grant)) {
          trustedGrants.delete(hash)
          return Effect.fail(ApiError.invalidApiKey())
        }
        if (!trustedGrants.has(hash)) remember(hash, grant.value)
        return requirement === "secret" && grant.value.kind !== "secret"
          ? Effect.fail(ApiError.forbidden())
          : Effect.succeed<Granted>({ projectId: grant.value.projectId, kind: grant.value.kind, keyHash: hash })
      }
    })

  /** The grant of the request's key, read from the store, or the error behaviour §1.1 names. */
  const authenticate = (header: string | undefined, requirement: Requirement) => {
    const key = keyOf(header)
    if (key === undefined) return Effect.fail(ApiError.missingAuth())
    return lookUp(hashOf(key), requirement)
  }

  /**
   * The grant of the request's key for a route that accepts any key and whose write checks it:
   * from the cache when this process has seen the key (then `trusted`), else read as `authenticate`.
   */
  const authenticateTrusted = (header: string | undefined): Effect.Effect<Granted, ApiError.ApiError> => {
    const key = keyOf(header)
    if (key === undefined) return Effect.fail(ApiError.missingAuth())
    const hash = hashOf(key)
    const cached = trustedGrants.get(hash)
    return cached !== undefined ? Effect.succeed(cached) : lookUp(hash, "any")
  }

  return { authenticate, authenticateTrusted }
})
