/**
 * Where segment definitions are kept: the port every store implements. A change to a project's
 * segments is decided on all of them at once (a slug must be unique, a referenced segment must
 * exist, references must not loop), so the store runs the decision under a per-project lock and
 * writes its outcome in the same atomic step.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Option from "effect/Option"
import type * as Segment from "./Segment.js"
import type * as StoreError from "./StoreError.js"

/** What a decision writes: segments to store (insert or replace, by id). */
export interface Change<A> {
  readonly put: ReadonlyArray<Segment.Segment>
  /** What the caller gets back. */
  readonly answer: A
}

/** The segment definitions of every project. */
export class SegmentStore extends Context.Tag("@tracklog/core/SegmentStore")<SegmentStore, {
  /** A project's segments, deleted ones included, oldest first. */
  readonly list: (projectId: string) => Effect.Effect<ReadonlyArray<Segment.Segment>, StoreError.StoreUnavailable>
  /** One segment of a project, deleted or not. */
  readonly get: (
    projectId: string,
    segmentId: string
  ) => Effect.Effect<Option.Option<Segment.Segment>, StoreError.StoreUnavailable>
  /** Every project's segments, deleted ones included: what the processor follows. */
  readonly all: Effect.Effect<ReadonlyArray<Segment.Segment>, StoreError.StoreUnavailable>
  /**
   * Runs `decide` on the project's current segments (deleted ones included), no other change to
   * them in between, and writes what it answers; a `Left` writes nothing.
   */
  readonly update: <A, E>(
    projectId: string,
    decide: (current: ReadonlyArray<Segment.Segment>) => Either.Either<Change<A>, E>
  ) => Effect.Effect<A, E | StoreError.StoreUnavailable>
}>() {}
