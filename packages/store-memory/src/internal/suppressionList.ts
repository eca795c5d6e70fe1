/**
 * The memory store's suppression list (behaviour §7): per project, the hashes of its suppressed
 * emails and the secret they are keyed with; the `Suppressions` port.
 */
import * as Suppressions from "@tracklog/core/Suppressions"
import * as Effect from "effect/Effect"
import type * as State from "./state.js"

/**
 * A project's secret. A project gets it on first use, also one the store does not hold (made
 * without `Projects.ensure`: embedders and tests may pass any project id), as in every store
 * (issue 28): its list then works as any other's.
 */
export const secretOf = (state: State.State, projectId: string): string => {
  let secret = state.secrets.get(projectId)
  if (secret === undefined) {
    secret = Suppressions.newSecret()
    state.secrets.set(projectId, secret)
  }
  return secret
}

/** The stored form of an email of the project: its keyed hash. */
export const hashOf = (state: State.State, projectId: string, email: string): Effect.Effect<string> =>
  Effect.flatMap(Effect.sync(() => secretOf(state, projectId)), (secret) => Suppressions.emailHash(secret, email))

/**
 * Whether the project's list has entries. Only then is an email worth hashing to look it up:
 * Web Crypto's HMAC costs ~100 µs, a track without it a few.
 */
export const hasEntries = (state: State.State, projectId: string): boolean => {
  const hashes = state.suppressed.get(projectId)
  return hashes !== undefined && hashes.size > 0
}

/** Whether the hash is on the project's list. */
export const includes = (state: State.State, projectId: string, hash: string): boolean =>
  state.suppressed.get(projectId)?.has(hash) === true

/** Puts a hash on the project's list. */
export const add = (state: State.State, projectId: string, hash: string): void => {
  const hashes = state.suppressed.get(projectId)
  if (hashes === undefined) state.suppressed.set(projectId, new Set([hash]))
  else hashes.add(hash)
}

/** The `Suppressions` port of a memory store. */
export const make = (state: State.State): Suppressions.Suppressions["Type"] =>
  Suppressions.Suppressions.of({
    isSuppressed: (projectId, email) =>
      Effect.suspend(() =>
        hasEntries(state, projectId)
          ? Effect.map(hashOf(state, projectId, email), (hash) => includes(state, projectId, hash))
          : Effect.succeed(false)
      ),
    suppressedAmong: (projectId, emails) =>
      Effect.suspend(() => {
        if (!hasEntries(state, projectId)) return Effect.succeed(new Set<string>())
        const distinct = [...new Set(emails)]
        return Effect.map(
          Effect.forEach(distinct, (email) => hashOf(state, projectId, email)),
          (hashed) => new Set(distinct.filter((_, i) => includes(state, projectId, hashed[i]!)))
        )
      }),
    lift: (projectId, email) =>
      Effect.flatMap(
        hashOf(state, projectId, email),
        (hash) =>
          state.suppressed.get(projectId)?.delete(hash) === true
            ? Effect.void
            : Effect.fail(new Suppressions.NotSuppressed())
      )
  })
