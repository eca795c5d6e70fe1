/**
 * Projects and their key hashes in the memory store (behaviour §1.1, §9): the `Projects` port.
 */
import type * as ApiKey from "@tracklog/core/ApiKey"
import * as Projects from "@tracklog/core/Projects"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as State from "./state.js"
import * as SuppressionList from "./suppressionList.js"

// The pair's two grants, replacing none: the caller checked that both hashes are free.
const grantPair = (state: State.State, keys: Projects.ProjectKeys) => {
  state.grants.set(keys.publicKeyHash, { projectId: keys.projectId, kind: "public" })
  state.grants.set(keys.secretKeyHash, { projectId: keys.projectId, kind: "secret" })
}

const keysOf = (state: State.State, projectId: string): Record<ApiKey.Kind, number> => {
  const counts = { public: 0, secret: 0 }
  for (const grant of state.grants.values()) if (grant.projectId === projectId) counts[grant.kind]++
  return counts
}

/** The `Projects` port of a memory store. */
export const make = (state: State.State): Projects.Projects["Type"] =>
  Projects.Projects.of({
    findByKeyHash: (hash) => Effect.sync(() => Option.fromNullable(state.grants.get(hash))),
    ensure: (keys) =>
      Effect.suspend(() => {
        const outcome = Projects.resolveEnsure({
          public: state.grants.get(keys.publicKeyHash),
          secret: state.grants.get(keys.secretKeyHash)
        })
        if (outcome._tag === "Exists") return Effect.succeed(outcome.projectId)
        if (outcome._tag !== "Create") return Effect.fail(outcome)
        state.projects.add(keys.projectId)
        // A project used by id before it was ensured keeps the secret it got then: a new one
        // would no longer match its suppressed hashes, and their emails would be tracked again.
        SuppressionList.secretOf(state, keys.projectId)
        state.projectCreated.set(keys.projectId, new Date())
        grantPair(state, keys)
        return Effect.succeed(keys.projectId)
      }),
    count: Effect.sync(() => state.projects.size),
    list: Effect.sync(() =>
      [...state.projects].map((projectId) => {
        const counts = keysOf(state, projectId)
        return {
          projectId,
          createdAt: state.projectCreated.get(projectId),
          publicKeys: counts.public,
          secretKeys: counts.secret
        }
      })
    ),
    // In one step: the old keys and the new ones are never valid together, nor both gone.
    rotate: (keys) =>
      Effect.suspend((): Effect.Effect<void, Projects.ProjectNotFound | Projects.ProjectKeysConflict> => {
        if (!state.projects.has(keys.projectId)) {
          return Effect.fail(new Projects.ProjectNotFound({ projectId: keys.projectId }))
        }
        if (
          state.grants.has(keys.publicKeyHash) || state.grants.has(keys.secretKeyHash) ||
          keys.publicKeyHash === keys.secretKeyHash
        ) return Effect.fail(Projects.rotationConflict())
        for (const [hash, grant] of state.grants) if (grant.projectId === keys.projectId) state.grants.delete(hash)
        grantPair(state, keys)
        return Effect.void
      }),
    revoke: (hash) =>
      Effect.suspend(() => {
        const grant = state.grants.get(hash)
        if (grant === undefined) return Effect.fail(new Projects.KeyNotFound())
        state.grants.delete(hash)
        return Effect.succeed(grant)
      })
  })
