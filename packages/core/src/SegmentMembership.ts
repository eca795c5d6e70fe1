/**
 * What a command, or the passing of time, does to one contact's segment memberships (behaviour
 * §11.3): pure, so the processor, a rebuild and the oracle tests all compute the same transitions.
 *
 * A contact is looked at once per command, at the command's end, and only for the segments that
 * read what the command changed (`SegmentRouting`). Before a command at `t`, every window that
 * passed before `t` is applied first, each at its own instant: a transition from time is stamped
 * with the instant its window passed, however late it is processed (decision 0037).
 */
import * as Contact from "./Contact.js"
import type * as ContactEvent from "./ContactEvent.js"
import * as EventFacts from "./EventFacts.js"
import type * as Json from "./Json.js"
import * as Membership from "./Membership.js"
import * as Segment from "./Segment.js"
import * as SegmentCondition from "./SegmentCondition.js"
import * as SegmentEvaluation from "./SegmentEvaluation.js"
import * as SegmentNode from "./SegmentNode.js"
import * as SegmentRouting from "./SegmentRouting.js"

/** A segment ready to evaluate: its definition, its inlined tree and what that reads. */
export interface Compiled {
  readonly segment: Segment.Segment
  readonly node: SegmentNode.Node
  readonly reads: SegmentRouting.Reads
}

/** The segments of every project, compiled once per change of definitions. */
export interface Definitions {
  /** Each project's segments that are not deleted, oldest first. */
  readonly byProject: ReadonlyMap<string, ReadonlyArray<Compiled>>
  /** Each project's recent-times budget per event name (`EventFacts.Keep`). */
  readonly keep: (projectId: string) => EventFacts.Keep
  /** The top-level data keys each project's segments read: all a snapshot keeps of its data. */
  readonly dataKeys: (projectId: string) => ReadonlySet<string>
}

/**
 * Compiles stored segments. A stored condition that no longer decodes (it was valid when stored)
 * is a defect and throws.
 */
export const compile = (segments: ReadonlyArray<Segment.Segment>): Definitions => {
  const projects = new Map<string, Array<Segment.Segment>>()
  for (const segment of segments) {
    if (Segment.isDeleted(segment)) continue
    const list = projects.get(segment.projectId) ?? []
    list.push(segment)
    projects.set(segment.projectId, list)
  }
  const byProject = new Map<string, ReadonlyArray<Compiled>>()
  const keeps = new Map<string, ReadonlyMap<string, number>>()
  const dataKeys = new Map<string, ReadonlySet<string>>()
  for (const [projectId, list] of projects) {
    const nodes = new Map(list.map((s) => [s.id, decodeStored(s)]))
    const compiled = list.map((segment): Compiled => {
      const node = SegmentNode.inline(nodes.get(segment.id)!, (id) => nodes.get(id))
      return { segment, node, reads: SegmentRouting.reads(node) }
    })
    byProject.set(projectId, compiled)
    const reads = SegmentRouting.combine(compiled.map((c) => c.reads))
    keeps.set(projectId, reads.events)
    dataKeys.set(projectId, reads.dataKeys)
  }
  return {
    byProject,
    keep: (projectId) => {
      const counts = keeps.get(projectId)
      return counts === undefined ? EventFacts.keepNone : (name) => counts.get(name) ?? 0
    },
    dataKeys: (projectId) => dataKeys.get(projectId) ?? noKeys
  }
}

const noKeys: ReadonlySet<string> = new Set()

// The contact with only the data keys in `keys`.
const kept = (contact: Contact.Contact, keys: ReadonlySet<string>): Contact.Contact => {
  const data: { [key: string]: Json.Json } = {}
  let all = true
  for (const key in contact.data) {
    if (keys.has(key)) data[key] = contact.data[key]!
    else all = false
  }
  return all ? contact : { ...contact, data }
}

const decodeStored = (segment: Segment.Segment): SegmentNode.Node => {
  const decoded = SegmentCondition.decode(segment.condition)
  if (decoded._tag === "Left") throw new Error(`Stored segment ${segment.id} has an invalid condition`)
  return decoded.right.node
}

/** No definitions. */
export const none: Definitions = compile([])

/**
 * Whether a contact follows the segment's current revision live: the segment is built, or its
 * pass over the contacts (by id) has reached this one. The others wait for the pass.
 */
export const covers = (segment: Segment.Segment, contactId: string): boolean =>
  segment.builtRevision >= segment.revision || contactId <= segment.buildCursor

/** A change of membership. */
export interface Change {
  readonly segment: Segment.Segment
  readonly entered: boolean
  /** ms since the epoch. */
  readonly at: number
  readonly reason: Segment.Reason
  /** A change of membership only, recorded by no event: a segment's silent baseline. */
  readonly silent: boolean
}

/** One contact after a step: its snapshot (`null` once erased) and the changes of membership. */
export interface Step {
  readonly snapshot: Membership.Snapshot | null
  readonly changes: ReadonlyArray<Change>
}

/** What conditions read of a snapshot. */
export const subjectOf = (
  contact: Contact.Contact,
  facts: EventFacts.EventFacts
): SegmentEvaluation.Subject => ({
  email: contact.email,
  subscribed: contact.subscribed,
  createdAt: contact.createdAt.getTime(),
  updatedAt: contact.updatedAt.getTime(),
  data: contact.data,
  facts: (name) => EventFacts.get(facts, name)
})

// A snapshot being changed: fresh copies of its maps.
interface Draft {
  contact: Contact.Contact
  facts: EventFacts.EventFacts
  readonly segments: { [segmentId: string]: number }
  readonly deadlines: { [segmentId: string]: number }
  readonly folded?: ReadonlyArray<string> | undefined
}

const draftOf = (snapshot: Membership.Snapshot): Draft => ({
  contact: snapshot.contact,
  facts: snapshot.facts,
  segments: { ...snapshot.segments },
  deadlines: { ...snapshot.deadlines },
  ...(snapshot.folded === undefined ? {} : { folded: snapshot.folded })
})

const done = (draft: Draft, keys: ReadonlySet<string>): Membership.Snapshot => ({
  contact: kept(draft.contact, keys),
  facts: draft.facts,
  segments: draft.segments,
  deadlines: draft.deadlines,
  due: Membership.dueOf(draft.deadlines),
  ...(draft.folded === undefined ? {} : { folded: draft.folded })
})

// Evaluates one segment for the draft at `t`, records its deadline, and answers the change of
// membership if there is one, stamped `stamp`.
const look = (
  draft: Draft,
  c: Compiled,
  t: number,
  stamp: number,
  reason: Segment.Reason,
  changes: Array<Change>
): void => {
  const id = c.segment.id
  const result = SegmentEvaluation.evaluate(c.node, subjectOf(draft.contact, draft.facts), t)
  if (Number.isFinite(result.boundary)) draft.deadlines[id] = result.boundary
  else delete draft.deadlines[id]
  const was = Object.hasOwn(draft.segments, id)
  if (result.matches === was) return
  if (result.matches) draft.segments[id] = stamp
  else delete draft.segments[id]
  changes.push({ segment: c.segment, entered: result.matches, at: stamp, reason, silent: false })
}

// Applies every window that passed before `upTo` (deadline `d < upTo`), earliest first, each
// evaluated just after its deadline and stamped with it.
const passTime = (draft: Draft, compiled: ReadonlyArray<Compiled>, upTo: number, changes: Array<Change>): void => {
  const byId = new Map(compiled.map((c) => [c.segment.id, c]))
  const contactId = draft.contact.id
  for (;;) {
    let next = Infinity
    for (const id in draft.deadlines) {
      const c = byId.get(id)
      // A deadline of a segment deleted, or not yet followed live, waits (or is dropped).
      if (c === undefined) {
        delete draft.deadlines[id]
        continue
      }
      if (!covers(c.segment, contactId)) continue
      const d = draft.deadlines[id]!
      if (d < next) next = d
    }
    if (!(next < upTo)) return
    for (const id in draft.deadlines) {
      if (draft.deadlines[id] !== next) continue
      const c = byId.get(id)!
      if (!covers(c.segment, contactId)) continue
      look(draft, c, next + 1, next, "time", changes)
      // A boundary can only move forward; one that did not is dropped so the loop ends.
      if (draft.deadlines[id] !== undefined && draft.deadlines[id]! <= next) delete draft.deadlines[id]
    }
  }
}

/**
 * One command's events on a contact (`snapshot` undefined: a contact the processor has not seen):
 * windows that passed before the command first, then the command folded and the segments that
 * read what it changed evaluated at its time. A command that erases the contact ends its snapshot
 * (it leaves every segment with no transition: `contact.erased` says it).
 */
export const command = (
  snapshot: Membership.Snapshot | undefined,
  events: ReadonlyArray<ContactEvent.ContactEvent>,
  compiled: ReadonlyArray<Compiled>,
  keep: EventFacts.Keep,
  keys: ReadonlySet<string>
): Step => {
  const t = events[events.length - 1]!.at.getTime()
  const changes: Array<Change> = []
  const contact = Contact.fold(events, snapshot?.contact ?? null)
  if (contact === null) return { snapshot: null, changes }
  const restarted = events.some((e) => e._tag === "ContactCreated")
  let draft: Draft
  if (snapshot === undefined || restarted) {
    draft = { contact, facts: EventFacts.empty, segments: {}, deadlines: {} }
  } else {
    draft = draftOf(snapshot)
    passTime(draft, compiled, t, changes)
    draft.contact = contact
  }
  draft.facts = EventFacts.fold(events, keep, draft.facts)
  const change = SegmentRouting.changeOf(events)
  const everything = snapshot === undefined || restarted
  for (const c of compiled) {
    if (!covers(c.segment, contact.id)) continue
    if (!everything && !SegmentRouting.affects(c.reads, change)) continue
    look(draft, c, t, t, "changed", changes)
  }
  return { snapshot: done(draft, keys), changes }
}

/**
 * Whether a snapshot's facts keep fewer recent times of an event a condition counts (`reads`) than
 * `keep` asks for (the condition is newer than the facts): they must be folded again from the
 * contact's stream (`refold`) before it can be evaluated exactly.
 */
export const needsRefold = (
  snapshot: Membership.Snapshot,
  keep: EventFacts.Keep,
  reads: SegmentRouting.Reads
): boolean => {
  for (const name of reads.events.keys()) {
    const facts = EventFacts.get(snapshot.facts, name)
    if (facts !== undefined && facts.recent.length < Math.min(facts.count, keep(name))) return true
  }
  return false
}

/** The snapshot with its facts folded again from the contact's whole stream, with today's budget. */
export const refold = (
  snapshot: Membership.Snapshot,
  stream: ReadonlyArray<ContactEvent.ContactEvent>,
  keep: EventFacts.Keep
): Membership.Snapshot => ({ ...snapshot, facts: EventFacts.fold(stream, keep) })

/** Windows that passed before `upTo`, with no command: the due sweep. */
export const time = (
  snapshot: Membership.Snapshot,
  compiled: ReadonlyArray<Compiled>,
  upTo: number,
  keys: ReadonlySet<string>
): Step => {
  const draft = draftOf(snapshot)
  const changes: Array<Change> = []
  passTime(draft, compiled, upTo, changes)
  return { snapshot: done(draft, keys), changes }
}

/**
 * A segment's pass over one contact at `t` (its revision is new or was edited): the first pass of
 * a segment (`builtRevision` 0) is its silent baseline — membership set, nothing recorded (decision
 * 0038); a later one records the difference with `reason: definition`. A member keeps its entry
 * instant when it stays.
 */
export const pass = (snapshot: Membership.Snapshot, c: Compiled, t: number, keys: ReadonlySet<string>): Step => {
  const draft = draftOf(snapshot)
  const changes: Array<Change> = []
  look(draft, c, t, t, "definition", changes)
  if (c.segment.builtRevision > 0) return { snapshot: done(draft, keys), changes }
  const id = c.segment.id
  // A baseline states the membership as it is, changed or not: a rebuild starts from no members.
  const member = Object.hasOwn(draft.segments, id)
  const baseline: Array<Change> = member || changes.length > 0
    ? [{ segment: c.segment, entered: member, at: draft.segments[id] ?? t, reason: "definition", silent: true }]
    : []
  return { snapshot: done(draft, keys), changes: baseline }
}

/** A deleted segment's exit for a member (`reason: deleted`); nothing for a contact not in it. */
export const leave = (
  snapshot: Membership.Snapshot,
  segment: Segment.Segment,
  t: number,
  keys: ReadonlySet<string>
): Step => {
  if (!Object.hasOwn(snapshot.segments, segment.id) && !Object.hasOwn(snapshot.deadlines, segment.id)) {
    return { snapshot, changes: [] }
  }
  const draft = draftOf(snapshot)
  const was = Object.hasOwn(draft.segments, segment.id)
  delete draft.segments[segment.id]
  delete draft.deadlines[segment.id]
  return {
    snapshot: done(draft, keys),
    changes: was ? [{ segment, entered: false, at: t, reason: "deleted", silent: false }] : []
  }
}
