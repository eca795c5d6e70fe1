/**
 * Projects and their keys: the port that turns a bearer key into a project (SPEC §1.1).
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as ApiKey from "./ApiKey.js"
import type * as StoreError from "./StoreError.js"

/** What a key grants: a project, with the key's kind. */
export interface Grant {
  readonly projectId: string
  readonly kind: ApiKey.Kind
}

/** A project with the hashes of its two keys. */
export interface ProjectKeys {
  readonly projectId: string
  readonly publicKeyHash: string
  readonly secretKeyHash: string
}

/** Projects and key hashes. */
export class Projects extends Context.Tag("@tracklog/core/Projects")<Projects, {
  /**
   * The grant of a key, looked up by its hash: the secret itself is never compared, so the
   * lookup time says nothing about how close a guess was.
   */
  readonly findByKeyHash: (hash: string) => Effect.Effect<Option.Option<Grant>, StoreError.StoreUnavailable>
  /**
   * Ensures a project with exactly these keys exists; returns its id. Idempotent: the same pair
   * always names the same project, also when several processes ensure it at once.
   */
  readonly ensure: (keys: ProjectKeys) => Effect.Effect<string, StoreError.StoreUnavailable>
  /** How many projects exist. */
  readonly count: Effect.Effect<number, StoreError.StoreUnavailable>
}>() {}
