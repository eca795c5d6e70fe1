/**
 * The segments application service (behaviour §11.2): the segment commands run on the
 * `SegmentStore` (decided by `SegmentCommand` under the store's per-project lock), the reads of
 * segments with their member counts and status, members, a contact's segments, and audiences —
 * a condition evaluated now over every contact of a project, with no segment defined.
 *
 * Membership is kept by the segment processor, which follows the log: the reads that depend on it
 * first wait (a little) for the processor to reach the log's head as it was when asked, so a
 * client that tracked and then asks sees its own write (`awaitProcessed`).
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Contact from "./Contact.js"
import * as Contacts from "./Contacts.js"
import * as EventStore from "./EventStore.js"
import * as Ids from "./Ids.js"
import * as LogStream from "./LogStream.js"
import * as Membership from "./Membership.js"
import * as Processor from "./Processor.js"
import * as Segment from "./Segment.js"
import * as SegmentCommand from "./SegmentCommand.js"
import * as SegmentCondition from "./SegmentCondition.js"
import * as SegmentEvaluation from "./SegmentEvaluation.js"
import * as SegmentMembership from "./SegmentMembership.js"
import * as SegmentNode from "./SegmentNode.js"
import * as SegmentRouting from "./SegmentRouting.js"
import * as SegmentStore from "./SegmentStore.js"
import type * as StoreError from "./StoreError.js"

/** A segment as the routes show it: its definition, how many members it has and its status. */
export interface Summary {
  readonly segment: Segment.Segment
  readonly members: number
  readonly status: Segment.Status
}

/** A segment a contact is in, with when it entered. */
export interface Entered extends Summary {
  readonly enteredAt: Date
}

/** The contacts that match a condition now: a page by contact id, and how many match in all. */
export interface Audience {
  readonly contacts: ReadonlyArray<Contact.Contact>
  /** The id of the page's last contact when more follow: pass it as `cursor`; `null` on the last page. */
  readonly cursor: string | null
  readonly total: number
}

/** The segments service. */
export class Segments extends Context.Tag("@tracklog/core/Segments")<Segments, {
  readonly create: (
    projectId: string,
    command: SegmentCommand.CreateSegment
  ) => Effect.Effect<
    Summary,
    SegmentCommand.InvalidSegment | SegmentCommand.SegmentExists | StoreError.StoreUnavailable
  >
  readonly update: (
    projectId: string,
    command: SegmentCommand.UpdateSegment
  ) => Effect.Effect<
    Summary,
    SegmentCommand.InvalidSegment | SegmentCommand.SegmentNotFound | StoreError.StoreUnavailable
  >
  readonly delete: (
    projectId: string,
    segmentId: string
  ) => Effect.Effect<void, SegmentCommand.SegmentNotFound | SegmentCommand.SegmentInUse | StoreError.StoreUnavailable>
  /** A segment of the project, not deleted. */
  readonly get: (
    projectId: string,
    segmentId: string
  ) => Effect.Effect<Summary, SegmentCommand.SegmentNotFound | StoreError.StoreUnavailable>
  /** The project's segments, oldest first, deleted ones left out. */
  readonly list: (projectId: string) => Effect.Effect<ReadonlyArray<Summary>, StoreError.StoreUnavailable>
  /** A segment's members now, by contact id. */
  readonly members: (
    projectId: string,
    segmentId: string,
    page: Contacts.PageRequest
  ) => Effect.Effect<
    Contacts.Page<Membership.Member>,
    SegmentCommand.SegmentNotFound | StoreError.StoreUnavailable
  >
  /** The project's segments a contact is in now, oldest segment first. */
  readonly segmentsOf: (
    projectId: string,
    contactId: string
  ) => Effect.Effect<ReadonlyArray<Entered>, Contacts.ContactNotFound | StoreError.StoreUnavailable>
  /** The contacts of the project that match `condition` (as sent) now, a page of them by id. */
  readonly query: (
    projectId: string,
    condition: unknown,
    page: Contacts.PageRequest
  ) => Effect.Effect<Audience, SegmentCondition.InvalidCondition | StoreError.StoreUnavailable>
}>() {}

/** How long a read waits for the segment processor at most before it answers anyway. */
export const DefaultMaxWait = Duration.seconds(5)
/** How often the wait looks at the processor's checkpoint. */
export const PollInterval = Duration.millis(20)

/**
 * Waits until the processor `name` has processed the log as far as its head is now, or `maxWait`
 * has passed; never fails (an unreachable store ends the wait: the read after it will say so).
 * A processor that never ran counts as being at the start of the log.
 */
export const awaitProcessed = (
  options: {
    readonly name?: string | undefined
    readonly maxWait?: Duration.DurationInput | undefined
    readonly interval?: Duration.DurationInput | undefined
  } = {}
): Effect.Effect<void, never, Processor.ProcessorStore | LogStream.LogSource> =>
  Effect.gen(function*() {
    const processors = yield* Processor.ProcessorStore
    const source = yield* LogStream.LogSource
    const name = options.name ?? Membership.ProcessorName
    const head = yield* source.head(undefined)
    const behind = Effect.map(
      processors.status(name),
      (status) =>
        EventStore.isAfter(head, Option.match(status, { onNone: () => EventStore.start, onSome: (s) => s.checkpoint }))
    )
    const wait = Effect.gen(function*() {
      while (yield* behind) yield* Effect.sleep(options.interval ?? PollInterval)
    })
    yield* Effect.timeoutOption(wait, options.maxWait ?? DefaultMaxWait)
  }).pipe(Effect.catchAll(() => Effect.void))

/** Snapshots are read this many at a time for an audience. */
export const QueryChunk = 2000

/** What a condition is evaluated against for a contact the processor keeps (`Membership.Snapshot`). */
const subjectOf = (snapshot: Membership.Snapshot): SegmentEvaluation.Subject =>
  SegmentMembership.subjectOf(snapshot.contact, snapshot.facts)

/** Builds the service from the stores' ports; the wait needs `ProcessorStore` and `LogSource`, and is skipped without them. */
export const make = (options: { readonly maxWait?: Duration.DurationInput | undefined } = {}) =>
  Effect.gen(function*() {
    const store = yield* SegmentStore.SegmentStore
    const membership = yield* Membership.MembershipStore
    const ids = yield* Ids.Ids
    const contacts = yield* Contacts.Contacts
    const events = yield* EventStore.EventStore
    const processors = yield* Effect.serviceOption(Processor.ProcessorStore)
    const source = yield* Effect.serviceOption(LogStream.LogSource)

    const processed: Effect.Effect<void> = Option.isSome(processors) && Option.isSome(source)
      ? awaitProcessed({ maxWait: options.maxWait }).pipe(
        Effect.provideService(Processor.ProcessorStore, processors.value),
        Effect.provideService(LogStream.LogSource, source.value)
      )
      : Effect.void

    const summary = (segment: Segment.Segment): Effect.Effect<Summary, StoreError.StoreUnavailable> =>
      Effect.map(membership.count(segment.id), (members) => ({ segment, members, status: Segment.status(segment) }))

    const visible = (projectId: string, segmentId: string) =>
      Effect.flatMap(
        store.get(projectId, segmentId),
        Option.match({
          onNone: () => Effect.fail(new SegmentCommand.SegmentNotFound({ segmentId })),
          onSome: (segment) =>
            Segment.isDeleted(segment)
              ? Effect.fail(new SegmentCommand.SegmentNotFound({ segmentId }))
              : Effect.succeed(segment)
        })
      )

    // A snapshot keeps as many recent times per event name as the live segments count in a window;
    // an audience may count more. For a contact whose kept times fall short,
    // its facts are folded again from its stream, keeping what the audience needs.
    const subjectFor = (reads: SegmentRouting.Reads) => {
      const keep = (name: string) => reads.events.get(name) ?? 0
      const complete = (snapshot: Membership.Snapshot) => !SegmentMembership.needsRefold(snapshot, keep, reads)
      const refold = (snapshot: Membership.Snapshot) =>
        Effect.map(
          events.readStream(snapshot.contact.id),
          (stream) => subjectOf(SegmentMembership.refold(snapshot, stream.map((recorded) => recorded.event), keep))
        )
      return { complete, refold }
    }

    return Segments.of({
      create: (projectId, command) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const context = { projectId, now: new Date(now), id: ids.make(now) }
          const segment = yield* store.update(projectId, (current) => SegmentCommand.create(current, command, context))
          return yield* summary(segment)
        }),
      update: (projectId, command) =>
        Effect.gen(function*() {
          const now = new Date(yield* Clock.currentTimeMillis)
          const segment = yield* store.update(projectId, (current) => SegmentCommand.update(current, command, { now }))
          return yield* summary(segment)
        }),
      delete: (projectId, segmentId) =>
        Effect.gen(function*() {
          const now = new Date(yield* Clock.currentTimeMillis)
          yield* store.update(
            projectId,
            (current) => SegmentCommand.remove(current, { _tag: "DeleteSegment", segmentId }, { now })
          )
        }),
      get: (projectId, segmentId) => Effect.flatMap(visible(projectId, segmentId), summary),
      list: (projectId) =>
        Effect.flatMap(
          store.list(projectId),
          (segments) => Effect.forEach(SegmentCommand.visible(segments), summary, { concurrency: 4 })
        ),
      members: (projectId, segmentId, page) =>
        Effect.gen(function*() {
          yield* visible(projectId, segmentId)
          yield* processed
          return yield* membership.members(segmentId, page)
        }),
      segmentsOf: (projectId, contactId) =>
        Effect.gen(function*() {
          if (Option.isNone(yield* contacts.findById(projectId, contactId))) {
            return yield* Effect.fail(new Contacts.ContactNotFound({ contactId }))
          }
          yield* processed
          const entered = new Map<string, Date>()
          for (const { enteredAt, segmentId } of yield* membership.segmentsOf(contactId)) {
            entered.set(segmentId, enteredAt)
          }
          const segments = SegmentCommand.visible(yield* store.list(projectId)).filter((s) => entered.has(s.id))
          return yield* Effect.forEach(
            segments,
            (segment) => Effect.map(summary(segment), (s): Entered => ({ ...s, enteredAt: entered.get(segment.id)! })),
            { concurrency: 4 }
          )
        }),
      query: (projectId, raw, page) =>
        Effect.gen(function*() {
          const segments = yield* store.list(projectId)
          const condition = yield* decodeAudience(raw, segments)
          yield* processed
          const t = yield* Clock.currentTimeMillis
          const reads = SegmentRouting.reads(condition)
          const subject = subjectFor(reads)
          // The snapshots as stored hold every data key the project's segments read, once no
          // segment is building (its pass brings the keys it reads): when those are all the
          // audience reads, the contacts are not joined in, only the page answered is read whole.
          const kept = SegmentMembership.compile(segments).dataKeys(projectId)
          const stored = segments.every((s) => Segment.isDeleted(s) || Segment.status(s) === "live") &&
            [...reads.dataKeys].every((key) => kept.has(key))
          const narrow: Membership.Narrow = {
            events: [...reads.events.keys()],
            data: reads.dataKeys.size > 0,
            attributes: reads.attributes
          }
          const read = (after: string) =>
            stored
              ? membership.scan(projectId, after, QueryChunk, narrow)
              : membership.page(projectId, after, QueryChunk)
          const cursor = page.cursor ?? ""
          const found: Array<Contact.Contact> = []
          let total = 0
          let more = false
          // The next chunk is read while this one is evaluated.
          let next = yield* Effect.fork(read(""))
          for (;;) {
            const chunk = yield* Fiber.join(next)
            const full = chunk.length === QueryChunk
            if (full) next = yield* Effect.fork(read(chunk[chunk.length - 1]!.contact.id))
            for (const snapshot of chunk) {
              // Only a snapshot that falls short costs a read (and an effect).
              const subjectNow = subject.complete(snapshot) ? subjectOf(snapshot) : yield* subject.refold(snapshot)
              if (!SegmentEvaluation.evaluate(condition, subjectNow, t).matches) continue
              total++
              if (snapshot.contact.id <= cursor) continue
              if (found.length < page.limit) found.push(snapshot.contact)
              else more = true
            }
            if (!full) break
          }
          const answered = stored
            // Asked for together: the database-backed stores answer concurrent lookups in one statement.
            ? yield* Effect.forEach(found, (c) => contacts.findById(projectId, c.id), { concurrency: 256 }).pipe(
              Effect.map((all) => all.flatMap((c) => Option.isSome(c) ? [c.value] : []))
            )
            : found
          return { contacts: answered, cursor: more ? found[found.length - 1]!.id : null, total }
        })
    })
  })

/**
 * An audience's condition, decoded and checked against the project's segments, with every
 * `segment.<id>` reference inlined: membership of a segment is its condition holding now.
 */
export const decodeAudience = (
  raw: unknown,
  segments: ReadonlyArray<Segment.Segment>
): Effect.Effect<SegmentNode.Node, SegmentCondition.InvalidCondition> => {
  const decoded = SegmentCondition.decode(raw, "condition")
  if (Either.isLeft(decoded)) return Effect.fail(decoded.left)
  const lookup = SegmentCommand.lookupOf(segments)
  const issues = SegmentNode.checkReferences(undefined, decoded.right.node, lookup)
  if (issues.length > 0) return Effect.fail(new SegmentCondition.InvalidCondition({ issues }))
  return Effect.succeed(SegmentNode.inline(decoded.right.node, lookup))
}

/** The service over the stores' ports and `Ids`, reads waiting for the processor at most `DefaultMaxWait`. */
export const layer: Layer.Layer<
  Segments,
  never,
  SegmentStore.SegmentStore | Membership.MembershipStore | Ids.Ids | Contacts.Contacts | EventStore.EventStore
> = Layer.effect(Segments, make())

/** As `layer`, with another bound on the wait for the processor. */
export const layerWith = (options: { readonly maxWait?: Duration.DurationInput | undefined }) =>
  Layer.effect(Segments, make(options))
