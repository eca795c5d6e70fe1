/**
 * Projects and their keys: the port that turns a bearer key into a project (behaviour §1.1).
 */
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as ApiKey from "./ApiKey.js"
import type * as StoreError from "./StoreError.js"

/** What a key grants: a project, with the key's kind. */
export interface Grant {
  readonly projectId: string
  readonly kind: ApiKey.Kind
}

/** The outcome of `ensure`, from what the store already holds under the pair's two hashes. */
export const resolveEnsure = (
  existing: { readonly public: Grant | undefined; readonly secret: Grant | undefined }
): { readonly _tag: "Create" } | { readonly _tag: "Exists"; readonly projectId: string } | ProjectKeysConflict => {
  const { public: pk, secret: sk } = existing
  if (pk === undefined && sk === undefined) return { _tag: "Create" }
  if (
    pk !== undefined && sk !== undefined && pk.projectId === sk.projectId && pk.kind === "public" &&
    sk.kind === "secret"
  ) {
    return { _tag: "Exists", projectId: pk.projectId }
  }
  return new ProjectKeysConflict({
    message:
      "A configured key pair half matches an existing project: each key must be new, or both must be that project's keys"
  })
}

/** A project with the hashes of its two keys. */
export interface ProjectKeys {
  readonly projectId: string
  readonly publicKeyHash: string
  readonly secretKeyHash: string
}

/** One of the keys already belongs to another project, or to this one with another partner key. */
export class ProjectKeysConflict extends Schema.TaggedError<ProjectKeysConflict>()("ProjectKeysConflict", {
  message: Schema.String
}) {}

/** What `rotate` refuses: a hash of the new pair belongs to a project already, or the two are one. */
export const rotationConflict = () =>
  new ProjectKeysConflict({ message: "A new key of the rotation is already in use" })

/** A project as `list` shows it: never its keys, only how many of each kind it has. */
export interface Summary {
  readonly projectId: string
  readonly createdAt: Date | undefined
  readonly publicKeys: number
  readonly secretKeys: number
}

/** No project has this id. */
export class ProjectNotFound extends Schema.TaggedError<ProjectNotFound>()("ProjectNotFound", {
  projectId: Schema.String
}) {}

/**
 * The key a write was made under no longer grants the project (revoked or rotated since it was
 * checked): nothing was written (behaviour §9).
 */
export class GrantRevoked extends Schema.TaggedError<GrantRevoked>()("GrantRevoked", {}) {}

/** No project has a key with this hash. */
export class KeyNotFound extends Schema.TaggedError<KeyNotFound>()("KeyNotFound", {}) {}

/** Projects and key hashes. */
export class Projects extends Context.Tag("@tracklog/core/Projects")<Projects, {
  /**
   * The grant of a key, looked up by its hash: the secret itself is never compared, so the
   * lookup time says nothing about how close a guess was.
   */
  readonly findByKeyHash: (hash: string) => Effect.Effect<Option.Option<Grant>, StoreError.StoreUnavailable>
  /**
   * Ensures a project with exactly these keys exists; returns its id. Idempotent: the same pair
   * always names the same project, also when several processes ensure it at once. A pair that
   * half matches an existing project is a `ProjectKeysConflict`, never a silent merge.
   */
  readonly ensure: (keys: ProjectKeys) => Effect.Effect<string, StoreError.StoreUnavailable | ProjectKeysConflict>
  /** How many projects exist. */
  readonly count: Effect.Effect<number, StoreError.StoreUnavailable>
  /** Every project, oldest first. */
  readonly list: Effect.Effect<ReadonlyArray<Summary>, StoreError.StoreUnavailable>
  /**
   * Replaces all keys of a project by this new pair, atomically: from the commit on, the old
   * keys grant nothing. A hash that already belongs to a project is a `ProjectKeysConflict`.
   */
  readonly rotate: (
    keys: ProjectKeys
  ) => Effect.Effect<void, StoreError.StoreUnavailable | ProjectNotFound | ProjectKeysConflict>
  /** Deletes one key by its hash; returns what it granted. */
  readonly revoke: (hash: string) => Effect.Effect<Grant, StoreError.StoreUnavailable | KeyNotFound>
}>() {}
