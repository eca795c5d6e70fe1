/**
 * Segments in the memory store (behaviour §11): their definitions (`SegmentStore`) and what the
 * segment processor keeps (`MembershipStore`). Each operation is one synchronous step, so a
 * decision on a project's segments and its write are atomic, and so is a processor step.
 */
import * as Contact from "@tracklog/core/Contact"
import type * as Contacts from "@tracklog/core/Contacts"
import { EventTracked } from "@tracklog/core/ContactEvent"
import * as EventStore from "@tracklog/core/EventStore"
import * as Membership from "@tracklog/core/Membership"
import * as SegmentStore from "@tracklog/core/SegmentStore"
import type * as LogStream from "@tracklog/core/LogStream"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as LogRecord from "./logRecord.js"
import * as SortedIds from "./sortedIds.js"
import * as State from "./state.js"

const byCreation = (state: State.State, projectId: string) =>
  [...state.segments.values()].filter((s) => s.projectId === projectId)

/** The `SegmentStore` of a memory store. */
export const makeSegmentStore = (state: State.State): SegmentStore.SegmentStore["Type"] =>
  SegmentStore.SegmentStore.of({
    list: (projectId) => Effect.sync(() => byCreation(state, projectId)),
    get: (projectId, segmentId) =>
      Effect.sync(() => {
        const segment = state.segments.get(segmentId)
        return segment !== undefined && segment.projectId === projectId ? Option.some(segment) : Option.none()
      }),
    all: Effect.sync(() => [...state.segments.values()]),
    update: (projectId, decide) =>
      Effect.suspend(() => {
        const decided = decide(byCreation(state, projectId))
        if (decided._tag === "Left") return Effect.fail(decided.left)
        for (const segment of decided.right.put) state.segments.set(segment.id, segment)
        return Effect.succeed(decided.right.answer)
      })
  })

// Appends a transition to its contact's stream as one transaction, moving the contact's version.
const appendTransition = (state: State.State, transition: Membership.Transition): void => {
  const contact = state.contacts.get(transition.contactId)
  const stream = state.streams.get(transition.contactId)
  if (contact === undefined || stream === undefined) return
  const event = new EventTracked({ name: transition.name, data: transition.data, at: transition.at }, true)
  state.transactions++
  const text = LogRecord.encode({
    id: transition.eventId,
    streamId: contact.id,
    projectId: contact.projectId,
    version: stream.length + 1,
    transactionId: state.transactions,
    event
  })
  State.write(state, contact.id, contact.projectId, [text])
  state.contacts.set(contact.id, Contact.evolve(contact, event)!)
}

const membersOf = (state: State.State, segmentId: string): Map<string, number> => {
  let members = state.members.get(segmentId)
  if (members === undefined) state.members.set(segmentId, members = new Map())
  return members
}

// Up to `limit` of a project's snapshots after `after`, by contact id, as `f` makes them (`undefined`: left out).
const walk = <A>(
  state: State.State,
  projectId: string,
  after: string,
  limit: number,
  f: (snapshot: Membership.Snapshot) => A | undefined
): Array<A> => {
  const ids = state.byProject.get(projectId) ?? []
  const page: Array<A> = []
  for (let i = SortedIds.firstAbove(ids, after); i < ids.length && page.length < limit; i++) {
    const snapshot = state.snapshots.get(ids[i]!)
    const made = snapshot === undefined ? undefined : f(snapshot)
    if (made !== undefined) page.push(made)
  }
  return page
}

/** The `MembershipStore` of a memory store; `signal` wakes live readers after transitions. */
export const makeMembershipStore = (
  state: State.State,
  signal: LogStream.Signal
): Membership.MembershipStore["Type"] =>
  Membership.MembershipStore.of({
    snapshots: (contactIds) =>
      Effect.sync(() => {
        const found = new Map<string, Membership.Snapshot>()
        for (const id of contactIds) {
          const snapshot = state.snapshots.get(id)
          if (snapshot !== undefined) found.set(id, snapshot)
        }
        return found
      }),
    due: (before, limit) =>
      Effect.sync(() => {
        const due: Array<Membership.Snapshot> = []
        for (const snapshot of state.snapshots.values()) {
          if (snapshot.due !== null && snapshot.due <= before) due.push(snapshot)
        }
        return due.sort((a, b) => a.due! - b.due!).slice(0, limit)
      }),
    page: (projectId, after, limit) =>
      Effect.sync(() =>
        walk(state, projectId, after, limit, (snapshot) => {
          const contact = state.contacts.get(snapshot.contact.id)
          return contact === undefined ? undefined : { ...snapshot, contact, seen: snapshot.contact.version }
        })
      ),
    // In memory the whole snapshot costs nothing more than a narrowed one.
    scan: (projectId, after, limit) => Effect.sync(() => walk(state, projectId, after, limit, (snapshot) => snapshot)),
    write: (write) =>
      Effect.sync(() => {
        for (const snapshot of write.snapshots) {
          // A contact erased meanwhile keeps no snapshot.
          if (state.contacts.has(snapshot.contact.id)) state.snapshots.set(snapshot.contact.id, snapshot)
        }
        for (const id of write.removed) {
          state.snapshots.delete(id)
          for (const members of state.members.values()) members.delete(id)
        }
        for (const { contactId, segmentId } of write.left) state.members.get(segmentId)?.delete(contactId)
        for (const { at, contactId, segmentId } of write.joined) {
          if (state.contacts.has(contactId) && state.segments.has(segmentId)) {
            membersOf(state, segmentId).set(contactId, at)
          }
        }
        for (const transition of write.transitions) appendTransition(state, transition)
        for (const progress of write.progress) {
          const segment = state.segments.get(progress.segmentId)
          if (segment === undefined || segment.revision !== progress.revision) continue
          state.segments.set(segment.id, {
            ...segment,
            buildCursor: progress.buildCursor,
            builtRevision: progress.built ? progress.revision : segment.builtRevision
          })
        }
        for (const id of write.purged) {
          state.segments.delete(id)
          state.members.delete(id)
        }
        if (write.transitions.length > 0) signal.notify()
      }),
    members: (segmentId, page) =>
      Effect.sync((): Contacts.Page<Membership.Member> => {
        const members = state.members.get(segmentId)
        const ids = members === undefined ? [] : [...members.keys()].sort()
        const after = page.cursor ?? ""
        const from = SortedIds.firstAbove(ids, after)
        const data = ids.slice(from, from + page.limit).flatMap((id) => {
          const contact = state.contacts.get(id)
          return contact === undefined ? [] : [{ contact, enteredAt: new Date(members!.get(id)!) }]
        })
        const hasMore = from + page.limit < ids.length
        return hasMore ? { data, hasMore, cursor: ids[from + page.limit - 1]! } : { data, hasMore }
      }),
    count: (segmentId) => Effect.sync(() => state.members.get(segmentId)?.size ?? 0),
    segmentsOf: (contactId) =>
      Effect.sync(() => {
        const found: Array<{ segmentId: string; enteredAt: Date }> = []
        for (const [segmentId, members] of state.members) {
          const at = members.get(contactId)
          if (at !== undefined) found.push({ segmentId, enteredAt: new Date(at) })
        }
        return found
      }),
    rebuild: (segmentId) =>
      Effect.sync(() => {
        for (const segment of state.segments.values()) {
          if (segmentId !== undefined && segment.id !== segmentId) continue
          state.segments.set(segment.id, { ...segment, builtRevision: 0, buildCursor: "" })
          state.members.delete(segment.id)
        }
        if (segmentId !== undefined) return
        state.snapshots.clear()
        const row = state.processors.get(Membership.ProcessorName)
        if (row !== undefined) row.checkpoint = EventStore.start
      })
  })
