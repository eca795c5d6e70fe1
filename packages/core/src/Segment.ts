/**
 * A segment (behaviour §11): a named condition over a project's contacts whose membership follows
 * the log. Its definition is small state of its own, changed by the commands of `SegmentCommand`
 * and kept by a `SegmentStore`; its membership is kept by the segment processor.
 */
import type * as SegmentCondition from "./SegmentCondition.js"

/** A segment's definition, as stored. */
export interface Segment {
  readonly id: string
  readonly projectId: string
  readonly name: string
  /** Made from the first name and frozen: a rename keeps it (decision 0034). */
  readonly slug: string
  /** The condition as sent (unknown keys dropped). */
  readonly condition: SegmentCondition.WireCondition
  readonly trackMembership: boolean
  readonly createdAt: Date
  readonly updatedAt: Date
  /** Moves each time the condition changes: membership is of one revision at a time. */
  readonly revision: number
  /**
   * The revision whose membership is complete (every contact evaluated): 0 before the first. The
   * segment is `live` when it equals `revision`, `building` while the processor catches up.
   */
  readonly builtRevision: number
  /**
   * Where the processor's pass over the contacts for `revision` is: the last contact id it
   * evaluated (ids sort as strings), `""` before the first. Contacts up to it follow the new
   * revision live; the others wait for the pass.
   */
  readonly buildCursor: string
  /**
   * Set when the segment was deleted: it is gone from every route, and the processor records its
   * members' exits (`reason: deleted`), then removes it for good.
   */
  readonly deletedAt?: Date | undefined
}

/** `live` once every contact has been evaluated for the current condition, `building` before. */
export type Status = "building" | "live"

/** The status of a segment. */
export const status = (segment: Segment): Status => segment.builtRevision >= segment.revision ? "live" : "building"

/** Whether the segment is deleted (waiting for its exits to be recorded). */
export const isDeleted = (segment: Segment): boolean => segment.deletedAt !== undefined

/** The names of its transition events (behaviour §11.3). */
export const entryName = (segment: Pick<Segment, "slug">): string => `segment.${segment.slug}.entry`
export const exitName = (segment: Pick<Segment, "slug">): string => `segment.${segment.slug}.exit`

/** Why a transition happened: `data.reason` of its event. */
export type Reason = "changed" | "time" | "definition" | "deleted"
