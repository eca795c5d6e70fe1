/**
 * The segment processor (behaviour §11.3): one active instance per store, under the lease of
 * `Membership.ProcessorName`, follows the log and keeps every segment's membership. Each turn:
 *
 * 1. the next page of the log, grouped into commands (a stream's run of events in one
 *    transaction), each applied to its contact (`SegmentMembership.command`);
 * 2. the contacts whose window passed (`MembershipStore.due`), up to a little before now;
 * 3. a page of a segment's pass over the contacts (new, edited, rebuilt or deleted), each contact
 *    evaluated as the processor has read it (one with newer events in the log as it was at the
 *    checkpoint: those events come as a command after the pass), every turn once the log is read
 *    to its end, and every `passEvery` while it is not.
 *
 * Each is written with `MembershipStore.write` inside `ProcessorStore.commit`: on PostgreSQL the
 * membership, the transitions and the checkpoint are one transaction, so a transition is recorded
 * exactly once whatever stops the process, and a second process only takes over at the checkpoint.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Contact from "./Contact.js"
import * as ContactEvent from "./ContactEvent.js"
import * as EventFacts from "./EventFacts.js"
import * as EventStore from "./EventStore.js"
import * as Ids from "./Ids.js"
import * as LogStream from "./LogStream.js"
import * as Membership from "./Membership.js"
import * as Processor from "./Processor.js"
import * as Segment from "./Segment.js"
import * as SegmentMembership from "./SegmentMembership.js"
import * as SegmentRouting from "./SegmentRouting.js"
import * as SegmentStore from "./SegmentStore.js"

/** Tuning; the defaults suit a server. */
export interface Options {
  /** Log events per turn, at most (default 500). */
  readonly batchSize?: number | undefined
  /**
   * Their payload bytes per turn, at most (default `EventStore.PageBytes`): a turn holds its
   * events in memory, and an event may carry hundreds of KB of data.
   */
  readonly maxBytes?: number | undefined
  /** Contacts per due sweep and per pass page (default 500). */
  readonly pageSize?: number | undefined
  /** Due sweeps of `pageSize` contacts written at once, each in its own transaction (default 2). */
  readonly sweeps?: number | undefined
  /**
   * How far behind now the due sweep stays (default 1 s): an event committed late carries the
   * time it was decided at, and must be seen before a window that passed after it is applied.
   */
  readonly dueGrace?: Duration.DurationInput | undefined
  /** While the log is read behind its end, a pass page at most this often (default 200 ms). */
  readonly passEvery?: Duration.DurationInput | undefined
  /** How long an idle instance waits for news at most (default 100 ms). */
  readonly idle?: Duration.DurationInput | undefined
  readonly leaseTtl?: Duration.DurationInput | undefined
  readonly instanceId?: string | undefined
}

// How many folded transition ids a snapshot keeps: they are read back within a turn or two.
const Folded = 16

type Requirements =
  | EventStore.EventStore
  | Processor.ProcessorStore
  | SegmentStore.SegmentStore
  | Membership.MembershipStore
  | LogStream.LogSource
  | Ids.Ids

// What one turn collects to write.
interface Batch {
  readonly snapshots: Map<string, Membership.Snapshot | null>
  readonly joined: Map<string, { segmentId: string; contactId: string; at: number } | null>
  readonly transitions: Array<Membership.Transition>
  /** The ids of the transitions folded into their snapshots (`Snapshot.folded`). */
  readonly folded: Array<string>
}

const newBatch = (): Batch => ({ snapshots: new Map(), joined: new Map(), transitions: [], folded: [] })

/** The steps of one instance, over its services; `turn` answers whether it found work. */
export const make = (options: Options = {}) =>
  Effect.gen(function*() {
    const events = yield* EventStore.EventStore
    const segments = yield* SegmentStore.SegmentStore
    const membership = yield* Membership.MembershipStore
    const ids = yield* Ids.Ids
    const batchSize = options.batchSize ?? 500
    const maxBytes = options.maxBytes ?? EventStore.PageBytes
    const pageSize = options.pageSize ?? 500
    const sweeps = Math.max(1, options.sweeps ?? 2)
    const grace = Duration.toMillis(Duration.decode(options.dueGrace ?? Duration.seconds(1)))
    // Where each deleted segment's exits are: a restart goes over its members again, harmlessly.
    const deleting = new Map<string, string>()
    // The definitions compiled once per change of the segments, not once per turn: compiling
    // decodes every condition again.
    let cache: { readonly key: string; readonly definitions: SegmentMembership.Definitions } | undefined
    const compiled = (all: ReadonlyArray<Segment.Segment>): SegmentMembership.Definitions => {
      const key = all.map((s) =>
        `${s.id} ${s.revision} ${s.builtRevision} ${s.buildCursor} ${s.updatedAt.getTime()} ${
          s.deletedAt?.getTime() ?? ""
        } ${s.trackMembership} ${JSON.stringify(s.name)}`
      ).join("\n")
      if (cache?.key !== key) cache = { key, definitions: SegmentMembership.compile(all) }
      return cache.definitions
    }
    const passEvery = Duration.toMillis(Duration.decode(options.passEvery ?? Duration.millis(200)))
    let lastPass = -Infinity

    // `folding`: the step's transitions are folded into the snapshot it stores, as reading them
    // back would, when that is all reading them back would do (no segment of the project reads
    // their names), and their ids kept in it (`Snapshot.folded`): reading them back is then
    // skipped, and costs no second write.
    const record = (
      batch: Batch,
      contactId: string,
      step: SegmentMembership.Step,
      folding?: SegmentMembership.Definitions
    ) => {
      const stepped = step.snapshot
      if (stepped === null) return void batch.snapshots.set(contactId, null)
      const snapshot = pruned(stepped)
      batch.snapshots.set(contactId, snapshot)
      const first = batch.transitions.length
      for (const change of step.changes) {
        const segment = change.segment
        batch.joined.set(
          `${segment.id}\u0000${contactId}`,
          change.entered ? { segmentId: segment.id, contactId, at: change.at } : null
        )
        if (change.silent || !segment.trackMembership) continue
        batch.transitions.push({
          contactId,
          projectId: snapshot.contact.projectId,
          name: change.entered ? Segment.entryName(segment) : Segment.exitName(segment),
          data: { segmentId: segment.id, segmentName: segment.name, reason: change.reason },
          at: new Date(change.at),
          eventId: ids.make(change.at)
        })
      }
      const mine = batch.transitions.slice(first)
      if (folding === undefined || mine.length === 0) return
      // Every id kept, or none folded: a transition folded in whose id is not kept would be folded
      // again when read back.
      const mineIds = mine.map((t) => t.eventId)
      const folded = [...(snapshot.folded ?? []), ...mineIds]
      if (folded.length > Folded) return
      const projectId = snapshot.contact.projectId
      const appended = mine.map((t) => new ContactEvent.EventTracked({ name: t.name, data: t.data, at: t.at }, true))
      const change = SegmentRouting.changeOf(appended)
      const compiled = folding.byProject.get(projectId) ?? []
      if (compiled.some((c) => SegmentRouting.affects(c.reads, change))) return
      batch.folded.push(...mineIds)
      batch.snapshots.set(contactId, {
        ...snapshot,
        contact: Contact.fold(appended, snapshot.contact)!,
        facts: EventFacts.fold(appended, folding.keep(projectId), snapshot.facts),
        folded
      })
    }

    // The ids of transitions this process has folded into snapshots it committed, not read back
    // yet: reading them back skips them without loading their snapshots. And those it has read
    // back since (committed): a snapshot written again drops them. Both lost with the process (a
    // snapshot may then keep a few ids already read back: harmless, ids are never reused, but
    // they take room), and forgotten when a turn does not go on from where the last one ended.
    const foldedHere = new Set<string>()
    const readBack = new Set<string>()
    // Where the last turn ended, once it ended well: a turn that starts anywhere else (another
    // instance had the lease, a rebuild moved the checkpoint back, the last turn failed) forgets both.
    let finishedAt: EventStore.Checkpoint | undefined
    const remember = (set: Set<string>, ids: ReadonlyArray<string>) => {
      if (set.size + ids.length > 100_000) set.clear()
      for (const id of ids) set.add(id)
    }
    const pruned = (snapshot: Membership.Snapshot): Membership.Snapshot => {
      if (snapshot.folded === undefined) return snapshot
      const folded = snapshot.folded.filter((id) => !readBack.has(id))
      if (folded.length === snapshot.folded.length) return snapshot
      const { folded: _, ...rest } = snapshot
      return folded.length === 0 ? rest : { ...rest, folded }
    }

    const writeOf = (
      batch: Batch,
      extra: Partial<Pick<Membership.Write, "progress" | "purged">> = {}
    ): Membership.Write => {
      const snapshots: Array<Membership.Snapshot> = []
      const removed: Array<string> = []
      for (const [id, snapshot] of batch.snapshots) {
        if (snapshot === null) removed.push(id)
        else snapshots.push(snapshot)
      }
      const joined: Array<{ segmentId: string; contactId: string; at: number }> = []
      const left: Array<{ segmentId: string; contactId: string }> = []
      for (const [key, entry] of batch.joined) {
        if (entry !== null) joined.push(entry)
        else {
          const [segmentId, contactId] = key.split("\u0000") as [string, string]
          left.push({ segmentId, contactId })
        }
      }
      return {
        snapshots,
        removed,
        joined,
        left,
        transitions: batch.transitions,
        progress: extra.progress ?? [],
        purged: extra.purged ?? []
      }
    }

    // 1. A page of the log: each command applied to its contact, in log order.
    const applyLog = (page: ReadonlyArray<EventStore.RecordedEvent>, definitions: SegmentMembership.Definitions) =>
      Effect.gen(function*() {
        const known = yield* membership.snapshots([
          ...new Set(page.flatMap((e) => foldedHere.has(e.id) ? [] : [e.streamId]))
        ])
        const batch = newBatch()
        const skipped: Array<string> = []
        const current = (id: string) => batch.snapshots.has(id) ? batch.snapshots.get(id) ?? undefined : known.get(id)
        let i = 0
        while (i < page.length) {
          const first = page[i]!
          let j = i + 1
          while (
            j < page.length && page[j]!.streamId === first.streamId && page[j]!.transactionId === first.transactionId
          ) j++
          // Transitions folded in as they were appended (by id: a stream's events can reach the
          // log out of version order, so no version says what a snapshot holds): nothing to do.
          const command = page.slice(i, j)
          const folded = current(first.streamId)?.folded ?? []
          if (command.every((e) => foldedHere.has(e.id) || folded.includes(e.id))) {
            for (const e of command) skipped.push(e.id)
            i = j
            continue
          }
          const commandEvents = command.map((e) => e.event)
          const compiled = definitions.byProject.get(first.projectId) ?? []
          const step = SegmentMembership.command(
            current(first.streamId),
            commandEvents,
            compiled,
            definitions.keep(first.projectId),
            definitions.dataKeys(first.projectId)
          )
          record(batch, first.streamId, step, definitions)
          i = j
        }
        yield* membership.write(writeOf(batch))
        return { skipped, folded: batch.folded }
      })

    // 2. Windows that passed before `upTo`, for the snapshots found due.
    const sweep = (due: ReadonlyArray<Membership.Snapshot>, upTo: number, definitions: SegmentMembership.Definitions) =>
      Effect.gen(function*() {
        const batch = newBatch()
        for (const snapshot of due) {
          const compiled = definitions.byProject.get(snapshot.contact.projectId) ?? []
          const keys = definitions.dataKeys(snapshot.contact.projectId)
          record(batch, snapshot.contact.id, SegmentMembership.time(snapshot, compiled, upTo, keys), definitions)
        }
        yield* membership.write(writeOf(batch))
        // A snapshot whose deadline waits for a pass stays due: not work done, or the sweep would spin.
        return {
          worked: [...batch.snapshots.values()].some((s, k) => s?.due !== due[k]!.due),
          folded: batch.folded
        }
      })

    // 3. A page of a pass: a deleted segment's exits, or an evaluation of the contacts for the
    // segments being built, each as the processor has read it up to `at`. Read and worked out
    // here, outside the transaction (the streams a contact needs read side by side); the write
    // to commit comes back, with what to do once it is committed. `undefined`: nothing to do.
    const passPage = (
      all: ReadonlyArray<Segment.Segment>,
      definitions: SegmentMembership.Definitions,
      at: EventStore.Checkpoint
    ) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const gone = all.find((s) => Segment.isDeleted(s))
        if (gone !== undefined) {
          const after = deleting.get(gone.id) ?? ""
          const page = yield* membership.page(gone.projectId, after, pageSize)
          const batch = newBatch()
          const keys = definitions.dataKeys(gone.projectId)
          for (const snapshot of page) {
            record(batch, snapshot.contact.id, SegmentMembership.leave(snapshot, gone, now, keys))
          }
          const finished = page.length < pageSize
          return {
            write: writeOf(batch, { purged: finished ? [gone.id] : [] }),
            committed: () => {
              if (finished) deleting.delete(gone.id)
              else deleting.set(gone.id, page[page.length - 1]!.contact.id)
            }
          }
        }
        // Every segment of one project that waits for its pass, in one page of its contacts from
        // the least advanced one's cursor: a project's new segments are built together. A
        // definition younger than the grace waits: an event decided before it may still be on its
        // way into the log, and a pass must not finish without it.
        const ready = all.filter((s) => Segment.status(s) === "building" && s.updatedAt.getTime() <= now - grace)
        if (ready.length === 0) return undefined
        const projectId = ready[0]!.projectId
        const compiled = definitions.byProject.get(projectId) ?? []
        const building = compiled.filter((c) => ready.some((s) => s.id === c.segment.id))
        if (building.length === 0) return undefined
        const from = building.reduce(
          (least, c) => c.segment.buildCursor < least ? c.segment.buildCursor : least,
          "\uffff"
        )
        const page = yield* membership.page(projectId, from, pageSize)
        const keep = definitions.keep(projectId)
        // The page's contacts come as the projection holds them, whole: a pass may read a data
        // key the snapshots did not keep until now.
        const keys = definitions.dataKeys(projectId)
        // Per contact: the segments it waits for, whether its stream is past `at` (evaluated as it
        // was at `at`, as its facts are: those events are a command still to come, which the
        // segment will then cover), and whether its facts keep fewer recent times than a segment
        // counts (folded again).
        const looks = page.map((stored) => {
          const due = building.filter((c) => stored.contact.id > c.segment.buildCursor)
          const unread = stored.contact.version !== stored.seen
          const short = due.some((c) => SegmentMembership.needsRefold(stored, keep, c.reads))
          return { stored, due, unread, short }
        })
        const streams = new Map(
          yield* Effect.forEach(
            looks.filter((look) => look.unread || look.short),
            // Up to `at`, and the transitions the snapshot has folded in already (appended after
            // `at`): the snapshot holds them, and reading them back will skip them.
            ({ stored }) =>
              Effect.map(events.readStream(stored.contact.id), (stream) =>
                [
                  stored.contact.id,
                  stream.flatMap((e) =>
                    EventStore.isAfter(e, at) && !(stored.folded?.includes(e.id) ?? false) ? [] : [e.event]
                  )
                ] as const),
            { concurrency: 8 }
          )
        )
        const batch = newBatch()
        for (const { due, short, stored, unread } of looks) {
          let snapshot: Membership.Snapshot = stored
          const stream = streams.get(stored.contact.id)
          if (stream !== undefined) {
            if (unread) {
              const contact = Contact.fold(stream)
              if (contact === null) continue
              snapshot = { ...snapshot, contact }
            }
            if (short) snapshot = SegmentMembership.refold(snapshot, stream, keep)
          }
          for (const c of due) {
            const step = SegmentMembership.pass(snapshot, c, now, keys)
            record(batch, snapshot.contact.id, step)
            if (step.snapshot !== null) snapshot = step.snapshot
          }
        }
        const finished = page.length < pageSize
        const last = page[page.length - 1]?.contact.id ?? from
        const progress = building.flatMap((c): Array<Membership.Progress> =>
          finished || c.segment.buildCursor < last
            ? [{
              segmentId: c.segment.id,
              revision: c.segment.revision,
              buildCursor: finished ? c.segment.buildCursor : last,
              built: finished
            }]
            : []
        )
        return { write: writeOf(batch, { progress }), committed: () => {} }
      })

    /** One turn from `checkpoint`: the checkpoint after it and whether there was work. */
    const turn = (
      name: string,
      owner: string,
      checkpoint: EventStore.Checkpoint,
      store: Processor.ProcessorStore["Type"]
    ) =>
      Effect.gen(function*() {
        if (
          finishedAt === undefined || EventStore.isAfter(finishedAt, checkpoint) ||
          EventStore.isAfter(checkpoint, finishedAt)
        ) {
          foldedHere.clear()
          readBack.clear()
        }
        finishedAt = undefined
        const all = yield* segments.all
        const definitions = compiled(all)
        const page = yield* events.readAll(checkpoint, batchSize, maxBytes)
        let at = checkpoint
        if (page.events.length > 0) {
          const { folded, skipped } = yield* store.commit(
            name,
            owner,
            at,
            page.checkpoint,
            applyLog(page.events, definitions)
          )
          for (const id of skipped) foldedHere.delete(id)
          remember(readBack, skipped)
          remember(foldedHere, folded)
          at = page.checkpoint
        }
        // A short page read all there was, unless it stopped at its bytes.
        const caughtUp = page.events.length < batchSize && page.cut !== true
        const now = yield* Clock.currentTimeMillis
        // Behind the log, no window past its last event read can be applied yet.
        const lastRead = page.events.at(-1)?.event.at.getTime() ?? now
        const upTo = (caughtUp ? now : Math.min(now, lastRead)) - grace
        // Read first, so an idle turn opens no transaction: only the lease holder writes, and the
        // commit checks the lease.
        const due = yield* membership.due(upTo - 1, pageSize * sweeps)
        // Halves of distinct contacts, each its own transaction: one is worked out here while the
        // other is written, and the two writes run side by side (a drain was the processor and the
        // database taking turns).
        const half = Math.ceil(due.length / sweeps)
        const slices = Array.from({ length: sweeps }, (_, k) => due.slice(k * half, (k + 1) * half))
        const swept = due.length > 0 && (yield* Effect.forEach(
          slices.filter((slice) => slice.length > 0),
          (slice) =>
            Effect.map(store.commit(name, owner, at, at, sweep(slice, upTo, definitions)), ({ folded, worked }) => {
              remember(foldedHere, folded)
              return worked
            }),
          { concurrency: sweeps }
        )).some((worked) => worked)
        // Behind the log, a pass still moves on, a page every `passEvery` at most: a segment
        // created under steady load goes live while the load goes on.
        const pending = all.some((s) => Segment.isDeleted(s) || Segment.status(s) === "building")
        const passNow = pending && (caughtUp || now - lastPass >= passEvery)
        const pass = passNow ? yield* passPage(all, definitions, at) : undefined
        const passed = pass !== undefined &&
          (yield* Effect.as(store.commit(name, owner, at, at, membership.write(pass.write)), true))
        if (pass !== undefined) pass.committed()
        if (passNow) lastPass = now
        finishedAt = at
        return { checkpoint: at, worked: page.events.length > 0 || swept || passed }
      })

    return { turn }
  })

/**
 * Runs one instance until interrupted: standby until it holds the lease, then turns, resting
 * while there is nothing to do; back to standby if the lease is lost or the store is unreachable.
 */
export const run = (options: Options = {}): Effect.Effect<never, never, Requirements> =>
  Effect.gen(function*() {
    const { turn } = yield* make(options)
    const store = yield* Processor.ProcessorStore
    const source = yield* LogStream.LogSource
    const name = Membership.ProcessorName
    const owner = options.instanceId ?? Ids.uuidv7(Date.now(), globalThis.crypto.getRandomValues(new Uint8Array(10)))
    const ttl = Duration.decode(options.leaseTtl ?? Duration.seconds(5))
    const beat = Duration.divide(ttl, 4).pipe(Option.getOrElse(() => Duration.seconds(1)))
    const idle = Duration.decode(options.idle ?? Duration.millis(100))

    const acquire: Effect.Effect<EventStore.Checkpoint> = store.claim(name, owner, ttl).pipe(
      Effect.orElseSucceed(() => Option.none<EventStore.Checkpoint>()),
      Effect.flatMap(Option.match({
        onSome: Effect.succeed,
        onNone: () => Effect.zipRight(Effect.sleep(beat), Effect.suspend(() => acquire))
      }))
    )
    const heartbeat = store.claim(name, owner, ttl).pipe(
      Effect.flatMap((granted) => Option.isSome(granted) ? Effect.void : Effect.fail("lost" as const)),
      Effect.catchTag("StoreUnavailable", () => Effect.void),
      Effect.repeat(Schedule.spaced(beat))
    )

    const active = Effect.gen(function*() {
      let checkpoint = yield* acquire
      const beating = yield* Effect.fork(heartbeat)
      const loop = Effect.gen(function*() {
        for (;;) {
          const seen = source.signal.version()
          const result = yield* turn(name, owner, checkpoint, store)
          checkpoint = result.checkpoint
          if (!result.worked) yield* Effect.race(source.signal.await(seen), Effect.sleep(idle))
        }
      })
      return yield* Effect.raceFirst(loop, Fiber.join(beating)).pipe(
        Effect.ensuring(Fiber.interrupt(beating)),
        Effect.ensuring(Effect.ignore(store.release(name, owner)))
      )
    })

    return yield* active.pipe(
      Effect.catchAllCause((cause) =>
        Effect.logDebug("segment processor: back to standby", cause).pipe(Effect.zipRight(Effect.sleep(beat)))
      ),
      Effect.forever
    )
  })

/** The processor, run for as long as the layer is: what a server starts beside its routes. */
export const layer = (options: Options = {}): Layer.Layer<never, never, Requirements> =>
  Layer.scopedDiscard(Effect.forkScoped(run(options)))

/**
 * `layer` where the context can run it (a store with a live log: `LogSource` and
 * `ProcessorStore`), nothing elsewhere (a store a test wraps down to `Store.Ports`).
 */
export const layerWhereLive = (
  options: Options = {}
): Layer.Layer<never, never, Exclude<Requirements, LogStream.LogSource | Processor.ProcessorStore>> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const source = yield* Effect.serviceOption(LogStream.LogSource)
    const processors = yield* Effect.serviceOption(Processor.ProcessorStore)
    if (Option.isNone(source) || Option.isNone(processors)) return Layer.empty
    return layer(options).pipe(
      Layer.provide(Layer.succeed(LogStream.LogSource, source.value)),
      Layer.provide(Layer.succeed(Processor.ProcessorStore, processors.value))
    )
  }))
