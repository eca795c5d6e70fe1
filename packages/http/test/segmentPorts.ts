/**
 * A small in-memory `SegmentStore` and `MembershipStore` for the route tests, until the stores
 * provide them: Maps, `write` applying a `Membership.Write` as the port says (transitions aside:
 * nothing is appended). `sync` stands in for the segment processor, naively: it folds the whole
 * log again, evaluates every segment for every contact now, writes the difference and moves the
 * processor's checkpoint to the log's head, so `Segments.awaitProcessed` sees it caught up.
 */
import * as Contacts from "@tracklog/core/Contacts"
import * as EventFacts from "@tracklog/core/EventFacts"
import * as EventStore from "@tracklog/core/EventStore"
import * as LogStream from "@tracklog/core/LogStream"
import * as Membership from "@tracklog/core/Membership"
import * as Processor from "@tracklog/core/Processor"
import type * as Segment from "@tracklog/core/Segment"
import * as SegmentCommand from "@tracklog/core/SegmentCommand"
import * as SegmentEvaluation from "@tracklog/core/SegmentEvaluation"
import * as SegmentNode from "@tracklog/core/SegmentNode"
import * as SegmentRouting from "@tracklog/core/SegmentRouting"
import * as SegmentStore from "@tracklog/core/SegmentStore"
import * as Segments from "@tracklog/core/Segments"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/** The two ports over one state, and the stand-in processor. */
export const make = () => {
  // Map order is insertion order: a replaced segment keeps its place, so lists are oldest first.
  const segments = new Map<string, Segment.Segment>()
  const snapshots = new Map<string, Membership.Snapshot>()
  const members = new Map<string, Map<string, number>>()

  const ofProject = (projectId: string) => [...segments.values()].filter((s) => s.projectId === projectId)
  const membersOf = (segmentId: string) => {
    let map = members.get(segmentId)
    if (map === undefined) members.set(segmentId, map = new Map())
    return map
  }

  const segmentStore: SegmentStore.SegmentStore["Type"] = {
    list: (projectId) => Effect.sync(() => ofProject(projectId)),
    get: (projectId, segmentId) =>
      Effect.sync(() => Option.filter(Option.fromNullable(segments.get(segmentId)), (s) => s.projectId === projectId)),
    all: Effect.sync(() => [...segments.values()]),
    // One synchronous step: nothing else runs between the decision and its write.
    update: (projectId, decide) =>
      Effect.suspend(() => {
        const decided = decide(ofProject(projectId))
        if (Either.isLeft(decided)) return Effect.fail(decided.left)
        for (const segment of decided.right.put) segments.set(segment.id, segment)
        return Effect.succeed(decided.right.answer)
      })
  }

  const write = (w: Membership.Write) =>
    Effect.sync(() => {
      for (const snapshot of w.snapshots) snapshots.set(snapshot.contact.id, snapshot)
      for (const contactId of w.removed) {
        snapshots.delete(contactId)
        for (const map of members.values()) map.delete(contactId)
      }
      for (const { at, contactId, segmentId } of w.joined) membersOf(segmentId).set(contactId, at)
      for (const { contactId, segmentId } of w.left) membersOf(segmentId).delete(contactId)
      for (const progress of w.progress) {
        const segment = segments.get(progress.segmentId)
        if (segment === undefined || segment.revision !== progress.revision) continue
        segments.set(segment.id, {
          ...segment,
          buildCursor: progress.buildCursor,
          builtRevision: progress.built ? progress.revision : segment.builtRevision
        })
      }
      for (const segmentId of w.purged) {
        segments.delete(segmentId)
        members.delete(segmentId)
      }
    })

  const membership: Membership.MembershipStore["Type"] = {
    snapshots: (ids) =>
      Effect.sync(() => {
        const out = new Map<string, Membership.Snapshot>()
        for (const id of ids) {
          const snapshot = snapshots.get(id)
          if (snapshot !== undefined) out.set(id, snapshot)
        }
        return out
      }),
    due: (before, limit) =>
      Effect.sync(() =>
        [...snapshots.values()].filter((s) => s.due !== null && s.due <= before).sort((a, b) => a.due! - b.due!)
          .slice(0, limit)
      ),
    page: (projectId, after, limit) =>
      Effect.sync(() =>
        [...snapshots.values()].filter((s) => s.contact.projectId === projectId && s.contact.id > after)
          .sort((a, b) => a.contact.id < b.contact.id ? -1 : 1).slice(0, limit)
      ),
    write,
    members: (segmentId, page) =>
      Effect.sync(() => {
        const rows = [...membersOf(segmentId)].filter(([id]) => page.cursor === undefined || id > page.cursor)
          .sort(([a], [b]) => a < b ? -1 : 1).slice(0, page.limit + 1)
          .map(([id, at]) => ({ contact: snapshots.get(id)!.contact, enteredAt: new Date(at) }))
        return Contacts.page(rows, page.limit, (m) => m.contact.id)
      }),
    count: (segmentId) => Effect.sync(() => membersOf(segmentId).size),
    segmentsOf: (contactId) =>
      Effect.sync(() =>
        [...members].filter(([, map]) => map.has(contactId)).map(([segmentId, map]) => ({
          segmentId,
          enteredAt: new Date(map.get(contactId)!)
        }))
      ),
    rebuild: (segmentId) =>
      Effect.sync(() => {
        for (const segment of segments.values()) {
          if (segmentId !== undefined && segment.id !== segmentId) continue
          members.delete(segment.id)
          segments.set(segment.id, { ...segment, builtRevision: 0, buildCursor: "" })
        }
        if (segmentId === undefined) snapshots.clear()
      })
  }

  /** The naive processor: the whole log folded again, every segment evaluated for every contact now. */
  const sync = Effect.gen(function*() {
    const processors = yield* Processor.ProcessorStore
    const source = yield* LogStream.LogSource
    const contacts = yield* Contacts.Contacts
    const owner = "segment-ports-sync"
    const from = Option.getOrElse(
      yield* processors.claim(Membership.ProcessorName, owner, Duration.minutes(1)),
      () => EventStore.start
    )
    const head = yield* source.head(undefined)
    const streams = new Map<string, { projectId: string; events: Array<EventStore.RecordedEvent> }>()
    for (let after = EventStore.start;;) {
      const batch = yield* source.read(after, 1000, undefined)
      if (batch.events.length === 0) break
      for (const recorded of batch.events) {
        let stream = streams.get(recorded.streamId)
        if (stream === undefined) streams.set(recorded.streamId, stream = { projectId: recorded.projectId, events: [] })
        stream.events.push(recorded)
      }
      after = batch.checkpoint
    }
    const t = yield* Clock.currentTimeMillis
    const w = {
      snapshots: [] as Array<Membership.Snapshot>,
      removed: [] as Array<string>,
      joined: [] as Array<{ segmentId: string; contactId: string; at: number }>,
      left: [] as Array<{ segmentId: string; contactId: string }>,
      progress: [] as Array<Membership.Progress>
    }
    for (const [contactId, stream] of streams) {
      const contact = yield* contacts.findById(stream.projectId, contactId)
      if (Option.isNone(contact)) {
        w.removed.push(contactId)
        continue
      }
      const current = ofProject(stream.projectId)
      const lookup = SegmentCommand.lookupOf(current)
      const nodes = SegmentCommand.visible(current).map((segment) =>
        [segment, SegmentNode.inline(SegmentCommand.nodeOf(segment), lookup)] as const
      )
      // As the processor: only as many recent times as the segments count in a window.
      const keep = SegmentRouting.combine(nodes.map(([, node]) => SegmentRouting.reads(node))).events
      const snapshot: Membership.Snapshot = {
        contact: contact.value,
        facts: EventFacts.fold(stream.events.map((r) => r.event), (name) => keep.get(name) ?? 0),
        keep: Object.fromEntries(keep),
        segments: {},
        deadlines: {},
        due: null
      }
      const inSegments: Record<string, number> = {}
      for (const [segment, node] of nodes) {
        const matches = SegmentEvaluation.evaluate(node, Segments.subjectOf(snapshot), t).matches
        const was = membersOf(segment.id).get(contactId)
        if (matches) inSegments[segment.id] = was ?? t
        if (matches && was === undefined) w.joined.push({ segmentId: segment.id, contactId, at: t })
        if (!matches && was !== undefined) w.left.push({ segmentId: segment.id, contactId })
      }
      w.snapshots.push({ ...snapshot, segments: inSegments })
    }
    for (const segment of segments.values()) {
      w.progress.push({ segmentId: segment.id, revision: segment.revision, buildCursor: "", built: true })
    }
    yield* processors.commit(
      Membership.ProcessorName,
      owner,
      from,
      head,
      write({ ...w, transitions: [], purged: [] })
    )
    yield* processors.release(Membership.ProcessorName, owner)
  })

  const context = Context.make(SegmentStore.SegmentStore, segmentStore).pipe(
    Context.add(Membership.MembershipStore, membership)
  )
  return { segmentStore, membership, sync, layer: Layer.succeedContext(context) }
}
