/** Segments and snapshots for the segment store tests. */
import type * as Contact from "@tracklog/core/Contact"
import type * as Membership from "@tracklog/core/Membership"
import type * as Segment from "@tracklog/core/Segment"
import * as SegmentStore from "@tracklog/core/SegmentStore"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"

/** A segment of `projectId` with slug `slug`, made now. */
export const segmentOf = (
  projectId: string,
  id: string,
  slug: string,
  over: Partial<Segment.Segment> = {}
): Segment.Segment => {
  const at = new Date()
  return {
    id,
    projectId,
    name: slug.toUpperCase(),
    slug,
    condition: { logic: "AND", groups: [{ filters: [{ field: "data.plan", operator: "equals", value: "pro" }] }] },
    trackMembership: true,
    createdAt: at,
    updatedAt: at,
    revision: 1,
    builtRevision: 0,
    buildCursor: "",
    ...over
  }
}

/** A create as the decider would decide it: refused when the slug is taken by a live segment. */
export const create = (segment: Segment.Segment) =>
  Effect.flatMap(
    SegmentStore.SegmentStore,
    (store) =>
      store.update(segment.projectId, (current) =>
        current.some((s) =>
            s.slug === segment.slug && s.deletedAt === undefined
          )
          ? Either.left("taken" as const)
          : Either.right({ put: [segment], answer: segment.id }))
  )

// Spread, not written in the literal: a snapshot field the processor adds or drops changes no test.
const empty = { facts: {}, segments: {}, deadlines: {}, due: null }

/** A snapshot of `contact`, empty but for `over`. */
export const snapshotOf = (contact: Contact.Contact, over: Partial<Membership.Snapshot> = {}): Membership.Snapshot => ({
  ...empty,
  contact,
  ...over
})

/** A write with nothing in it but `over`. */
export const writeOf = (over: Partial<Membership.Write>): Membership.Write => ({
  snapshots: [],
  removed: [],
  joined: [],
  left: [],
  transitions: [],
  progress: [],
  purged: [],
  ...over
})
