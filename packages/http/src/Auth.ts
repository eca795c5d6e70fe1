/**
 * Bearer key authentication (behaviour §1.1): header → key → hash → project grant.
 */
import * as ApiKey from "@tracklog/core/ApiKey"
import * as Projects from "@tracklog/core/Projects"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ApiError from "./ApiError.js"

/** What a route accepts: any key of the project, or only its secret key. */
export type Requirement = "any" | "secret"

const Bearer = /^Bearer ([^\s]+)$/

// Bounded caches: a hash per key seen and the grant of each valid key. Keys never change once
// issued, so a cached grant stays true; unknown keys are not cached.
const MaxCached = 10_000

/** What authentication needs. */
export type Services = Projects.Projects

/** Builds the authenticator over the `Projects` port. */
export const make = Effect.gen(function*() {
  const projects = yield* Projects.Projects
  const grants = new Map<string, Projects.Grant>()

  const lookup = (key: string) =>
    Effect.flatMap(ApiKey.hash(key), (hash) => projects.findByKeyHash(hash)).pipe(
      Effect.mapError(ApiError.fromDomain),
      Effect.tap((grant) =>
        Effect.sync(() => {
          if (Option.isNone(grant)) return
          if (grants.size >= MaxCached) grants.clear()
          grants.set(key, grant.value)
        })
      )
    )

  /** The grant of the request's key, or the error behaviour §1.1 names. */
  const authenticate = (header: string | undefined, requirement: Requirement) => {
    const match = header === undefined ? null : Bearer.exec(header)
    if (match === null) return Effect.fail(ApiError.missingAuth())
    const key = match[1]!
    const cached = grants.get(key)
    const check = (grant: Projects.Grant) =>
      requirement === "secret" && grant.kind !== "secret" ? Effect.fail(ApiError.forbidden()) : Effect.succeed(grant)
    if (cached !== undefined) return check(cached)
    return Effect.flatMap(lookup(key), (grant) =>
      Option.isNone(grant) ? Effect.fail(ApiError.invalidApiKey()) : check(grant.value))
  }

  return { authenticate }
})
