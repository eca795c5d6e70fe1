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

// The scheme name is case-insensitive (RFC 9110 §11.1).
const Bearer = /^Bearer ([^\s]+)$/i

// Hashes of keys seen, bounded. Grants are not cached: a key rotated or revoked by another
// process (`pnpm tracklog keys …`) must stop working on the next request, so every request
// looks its hash up in the store (docs/decisions/0015-operating.md).
const MaxCached = 10_000
// Generated keys are 67 characters; longer tokens are hashed but not kept, so the cache holds at
// most MaxCached × ~200 bytes whatever callers send.
const MaxCachedKeyLength = 128

/** The bearer token of an `Authorization` header, or undefined when there is none. */
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

/** What authentication needs. */
export type Services = Projects.Projects

/** Builds the authenticator over the `Projects` port. */
export const make = Effect.gen(function*() {
  const projects = yield* Projects.Projects

  /** The grant of the request's key, or the error behaviour §1.1 names. */
  const authenticate = (header: string | undefined, requirement: Requirement) => {
    const key = keyOf(header)
    if (key === undefined) return Effect.fail(ApiError.missingAuth())
    // One step for both outcomes (not `mapError` then `flatMap`): every request comes through here.
    return Effect.matchEffect(projects.findByKeyHash(hashOf(key)), {
      onFailure: (error) => Effect.fail(ApiError.fromDomain(error)),
      onSuccess: (grant) =>
        Option.isNone(grant)
          ? Effect.fail(ApiError.invalidApiKey())
          : requirement === "secret" && grant.value.kind !== "secret"
          ? Effect.fail(ApiError.forbidden())
          : Effect.succeed(grant.value)
    })
  }

  return { authenticate }
})
