/**
 * Segment membership, as the segment processor keeps it (behaviour §11.3): per contact a snapshot
 * of what conditions read (its state and the facts of its events), the segments it is in, and the
 * next instant a time window can move it; per segment its members. The port every store
 * implements. Only the processor writes, through `write`; on PostgreSQL that runs in the
 * transaction of the processor's checkpoint, so each transition is recorded exactly once.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Contact from "./Contact.js"
import type * as Contacts from "./Contacts.js"
import type * as EventFacts from "./EventFacts.js"
import type * as Segment from "./Segment.js"
import type * as SegmentRouting from "./SegmentRouting.js"
import type * as StoreError from "./StoreError.js"

/**
 * What the processor knows of one contact, as of its checkpoint. Plain JSON apart from `contact`'s
 * dates. Its `contact.data` holds only the top-level keys the project's segments read: a contact's
 * data can be large, and nothing else of it is ever evaluated.
 */
export interface Snapshot {
  readonly contact: Contact.Contact
  readonly facts: EventFacts.EventFacts
  /** The segments it is in, each with the instant it entered (ms). */
  readonly segments: { readonly [segmentId: string]: number }
  /** Per segment whose answer a window can change without new input: the last instant (ms) it holds. */
  readonly deadlines: { readonly [segmentId: string]: number }
  /** The earliest of `deadlines`, the instant the contact must be looked at again; `null` for none. */
  readonly due: number | null
  /**
   * The ids of the last transitions the processor folded in as it appended them (a command, a sweep),
   * so that reading them back from the log folds nothing twice. Ids are never reused: one already
   * read back is harmless here, and only the last few are kept.
   */
  readonly folded?: ReadonlyArray<string> | undefined
}

/**
 * A snapshot as `page` reads it: `contact` as the projection holds it now, and `seen`, the stream
 * version the snapshot was folded to. A contact whose version is past it has events the processor
 * has not read yet.
 */
export interface Paged extends Snapshot {
  readonly seen: number
}

/** What of a snapshot `MembershipStore.scan` must return, beyond the contact's own fields. */
export interface Narrow {
  /** The event names whose facts are read; none: no facts. */
  readonly events: ReadonlyArray<string>
  /** Whether the contact's data is read. */
  readonly data: boolean
  /** The contact's own fields read, besides its id. */
  readonly attributes: ReadonlySet<SegmentRouting.Attribute>
}

/** The name the segment processor keeps its checkpoint and lease under. */
export const ProcessorName = "tracklog.segments"

/** The earliest deadline, or `null`. */
export const dueOf = (deadlines: Snapshot["deadlines"]): number | null => {
  let due: number | null = null
  for (const id in deadlines) {
    const at = deadlines[id]!
    if (due === null || at < due) due = at
  }
  return due
}

/** A transition to append to a contact's stream, as a tracked event (behaviour §11.3). */
export interface Transition {
  readonly contactId: string
  readonly projectId: string
  /** `segment.<slug>.entry` or `.exit`. */
  readonly name: string
  readonly data: { readonly segmentId: string; readonly segmentName: string; readonly reason: Segment.Reason }
  /** The instant the membership changed. */
  readonly at: Date
  /** The id of the event to append. */
  readonly eventId: string
}

/** Where a segment's pass over the contacts is (see `Segment.buildCursor`). */
export interface Progress {
  readonly segmentId: string
  /** Written only while the segment is still at this revision (an edit since starts over). */
  readonly revision: number
  readonly buildCursor: string
  /** The pass is complete: `builtRevision` becomes `revision`. */
  readonly built: boolean
}

/** What one processor step writes, all or nothing. */
export interface Write {
  /** Snapshots to store (by contact id). */
  readonly snapshots: ReadonlyArray<Snapshot>
  /** Contacts gone (erased): their snapshot and memberships are removed. */
  readonly removed: ReadonlyArray<string>
  readonly joined: ReadonlyArray<{ readonly segmentId: string; readonly contactId: string; readonly at: number }>
  readonly left: ReadonlyArray<{ readonly segmentId: string; readonly contactId: string }>
  /**
   * Appended to each contact's stream at its next version, as `EventTracked`; the contact's
   * projection moves with them. A contact erased meanwhile gets none.
   */
  readonly transitions: ReadonlyArray<Transition>
  readonly progress: ReadonlyArray<Progress>
  /** Deleted segments whose exits are all recorded: removed for good, with any membership left. */
  readonly purged: ReadonlyArray<string>
}

/** A member, as `GET /segments/:id/contacts` lists it. */
export interface Member {
  readonly contact: Contact.Contact
  readonly enteredAt: Date
}

/** The processor's state and the reads of membership. */
export class MembershipStore extends Context.Tag("@tracklog/core/Membership/MembershipStore")<MembershipStore, {
  /** The snapshots of these contacts that exist. */
  readonly snapshots: (
    contactIds: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyMap<string, Snapshot>, StoreError.StoreUnavailable>
  /** Up to `limit` snapshots with `due ≤ before`, earliest due first. */
  readonly due: (before: number, limit: number) => Effect.Effect<ReadonlyArray<Snapshot>, StoreError.StoreUnavailable>
  /**
   * A project's snapshots with a contact id after `after` (`""`: from the first), by contact id,
   * each with `contact` as the projection holds it now — its whole data, where a stored snapshot
   * keeps only the data keys the project's segments read (`SegmentMembership`).
   */
  readonly page: (
    projectId: string,
    after: string,
    limit: number
  ) => Effect.Effect<ReadonlyArray<Paged>, StoreError.StoreUnavailable>
  /**
   * As `page`, with each snapshot as stored, narrowed to what an audience reads (`Narrow`): its
   * `facts` hold at least the events of `narrow.events`, its `contact.data` at least the data
   * keys the project's segments read when `narrow.data` is set, and of the contact's own fields at
   * least its id and `narrow.attributes`. What is left out may be empty (`{}`, `""`, `false`, the
   * epoch, version 0), as may `segments`, `deadlines` and `due`; a store may return more.
   * Cheaper: an audience evaluates only those, and a whole snapshot is mostly the rest.
   */
  readonly scan: (
    projectId: string,
    after: string,
    limit: number,
    narrow: Narrow
  ) => Effect.Effect<ReadonlyArray<Snapshot>, StoreError.StoreUnavailable>
  /** Writes one step (see `Write`) atomically. */
  readonly write: (write: Write) => Effect.Effect<void, StoreError.StoreUnavailable>
  /** A segment's members now, by contact id, with the contact as the projection holds it. */
  readonly members: (
    segmentId: string,
    page: Contacts.PageRequest
  ) => Effect.Effect<Contacts.Page<Member>, StoreError.StoreUnavailable>
  /** How many members a segment has. */
  readonly count: (segmentId: string) => Effect.Effect<number, StoreError.StoreUnavailable>
  /** The segments a contact is in now, with when it entered each. */
  readonly segmentsOf: (
    contactId: string
  ) => Effect.Effect<
    ReadonlyArray<{ readonly segmentId: string; readonly enteredAt: Date }>,
    StoreError.StoreUnavailable
  >
  /**
   * A rebuild from the log (`pnpm tracklog segments rebuild`): for one segment, its members are
   * forgotten and it goes back to `building` from the first contact (`builtRevision` 0,
   * `buildCursor` ""), so the processor evaluates every contact again as a silent baseline; for
   * every segment (`undefined`), the same for all of them, and every snapshot is forgotten and the
   * processor's checkpoint (`ProcessorName`) goes back to the start of the log, so snapshots are
   * folded again from it. Either way the members come out the same and nothing is recorded twice.
   */
  readonly rebuild: (segmentId: string | undefined) => Effect.Effect<void, StoreError.StoreUnavailable>
}>() {}
