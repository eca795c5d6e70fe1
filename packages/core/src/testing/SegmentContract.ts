/**
 * The segment contract (behaviour §11.3), run against every store: the same processor over the
 * store's `SegmentStore`, `MembershipStore` and log must record the same transitions, exactly once,
 * with two instances running, after rebuilds, and equal to the brute-force oracle
 * (`SegmentOracle`). Time moves by a clock the suite shifts: real sleeps, so a database's own
 * timers still run, and instants days apart without waiting for them.
 */
import { expect, layer } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Commands from "../Commands.js"
import * as EraseContact from "../EraseContact.js"
import * as EventStore from "../EventStore.js"
import * as EventFacts from "../EventFacts.js"
import * as Ids from "../Ids.js"
import * as LogStream from "../LogStream.js"
import * as Membership from "../Membership.js"
import * as Processor from "../Processor.js"
import * as Segment from "../Segment.js"
import * as SegmentProcessor from "../SegmentProcessor.js"
import * as Segments from "../Segments.js"
import * as SegmentStore from "../SegmentStore.js"
import type * as StorePorts from "../Store.js"
import * as Track from "../Track.js"
import * as TrackCommand from "../TrackCommand.js"
import * as SegmentOracle from "./SegmentOracle.js"

/** What a store package provides for segments. */
export type Store =
  | StorePorts.Ports
  | LogStream.LogSource
  | Processor.ProcessorStore
  | SegmentStore.SegmentStore
  | Membership.MembershipStore

/** A clock `offset` ms ahead of real time. */
const shifted = (state: { offset: number }): Clock.Clock => {
  const real = Clock.make()
  return {
    ...real,
    unsafeCurrentTimeMillis: () => real.unsafeCurrentTimeMillis() + state.offset,
    unsafeCurrentTimeNanos: () => real.unsafeCurrentTimeNanos() + BigInt(state.offset) * 1_000_000n,
    currentTimeMillis: Effect.sync(() => real.unsafeCurrentTimeMillis() + state.offset),
    currentTimeNanos: Effect.sync(() => real.unsafeCurrentTimeNanos() + BigInt(state.offset) * 1_000_000n),
    sleep: (duration: Duration.Duration) => real.sleep(duration)
  }
}

const Minute = 60_000

/** Runs the segment contract against a store layer. */
export const run = <E>(name: string, store: Layer.Layer<Store, E>) => {
  const time = { offset: 0 }
  const clock = shifted(time)
  const services = Commands.layer.pipe(
    Layer.provideMerge(Ids.layer),
    Layer.provideMerge(store),
    Layer.provideMerge(Layer.setClock(clock))
  )
  return layer(services, { excludeTestServices: true })(`segment contract: ${name}`, (it) => {
    const newProject = Effect.flatMap(Ids.Ids, (ids) => ids.next)

    // The last event a test wrote: `settle` turns until the processor is past it. On PostgreSQL
    // a committed event stays out of sight while an older transaction anywhere on the server is
    // open (another test file's), so "nothing to do" alone does not mean "caught up".
    let written: { readonly contact: string; readonly event: string } | undefined
    const track = (projectId: string, body: TrackCommand.Encoded) =>
      Effect.flatMap(Track.Track, (t) => t.track(projectId, Either.getOrThrow(TrackCommand.decode(body)))).pipe(
        Effect.tap((result) => Effect.sync(() => (written = { contact: result.contact, event: result.event })))
      )
    const pastWritten = (checkpoint: EventStore.Checkpoint) =>
      Effect.gen(function*() {
        if (written === undefined) return true
        const stream = yield* Effect.flatMap(EventStore.EventStore, (s) => s.readStream(written!.contact))
        const event = stream.find((e) => e.id === written!.event)
        return event === undefined || !EventStore.isAfter(event, checkpoint)
      })

    const define = (projectId: string, id: string, slug: string, condition: Segment.Segment["condition"]) =>
      Effect.gen(function*() {
        const at = new Date(clock.unsafeCurrentTimeMillis())
        const store = yield* SegmentStore.SegmentStore
        yield* store.update(projectId, () =>
          Either.right({
            put: [{
              id,
              projectId,
              name: slug,
              slug,
              condition,
              trackMembership: true,
              createdAt: at,
              updatedAt: at,
              revision: 1,
              builtRevision: 0,
              buildCursor: ""
            }],
            answer: undefined
          }))
        return (yield* store.get(projectId, id)).pipe((o) => {
          if (o._tag === "None") throw new Error(`segment ${id} not stored`)
          return o.value
        })
      })

    const edit = (projectId: string, id: string, change: Partial<Segment.Segment>) =>
      Effect.flatMap(
        SegmentStore.SegmentStore,
        (store) =>
          store.update(projectId, (current) =>
            Either.right({ put: [{ ...current.find((s) => s.id === id)!, ...change }], answer: undefined }))
      )

    // The processor's turns until it has nothing to do, as one instance; the lease given back.
    const settle = Effect.gen(function*() {
      const { turn } = yield* SegmentProcessor.make({ dueGrace: 0 })
      const store = yield* Processor.ProcessorStore
      const owner = "contract"
      // Another instance's lease (a test's forked processor) runs out within its ttl.
      let claimed = yield* store.claim(Membership.ProcessorName, owner, Duration.minutes(1))
      while (claimed._tag === "None") {
        yield* Effect.sleep("50 millis")
        claimed = yield* store.claim(Membership.ProcessorName, owner, Duration.minutes(1))
      }
      let checkpoint = claimed._tag === "Some" ? claimed.value : EventStore.start
      // First until the log shows the last written event: a pass run before would miss it.
      if (written !== undefined) {
        const source = yield* LogStream.LogSource
        const stream = yield* Effect.flatMap(EventStore.EventStore, (s) => s.readStream(written!.contact))
        const event = stream.find((e) => e.id === written!.event)
        for (
          let i = 0;
          event !== undefined && i < 500 && EventStore.isAfter(event, yield* source.head(undefined));
          i++
        ) {
          yield* Effect.sleep("20 millis")
        }
      }
      for (let i = 0; i < 1000; i++) {
        const result = yield* turn(Membership.ProcessorName, owner, checkpoint, store)
        checkpoint = result.checkpoint
        if (result.worked) continue
        if (yield* pastWritten(checkpoint)) return yield* store.release(Membership.ProcessorName, owner)
        yield* Effect.sleep("20 millis")
      }
      return yield* Effect.die(new Error("the processor never settled"))
    }).pipe(Effect.withClock(clock))

    // One turn of an instance with these options, holding the lease for it: what it answered.
    const turnOnce = (options: SegmentProcessor.Options) =>
      Effect.gen(function*() {
        const { turn } = yield* SegmentProcessor.make({ dueGrace: 0, passEvery: 0, ...options })
        const store = yield* Processor.ProcessorStore
        const claimed = yield* store.claim(Membership.ProcessorName, "once", Duration.minutes(1))
        const result = yield* turn(Membership.ProcessorName, "once", Option.getOrThrow(claimed), store)
        yield* store.release(Membership.ProcessorName, "once")
        return result
      }).pipe(Effect.withClock(clock))

    const transitions = (contactId: string) =>
      Effect.map(
        Effect.flatMap(EventStore.EventStore, (s) => s.readStream(contactId)),
        SegmentOracle.recorded
      )

    const members = (segmentId: string) =>
      Effect.flatMap(
        Membership.MembershipStore,
        (store) =>
          Effect.map(store.members(segmentId, { limit: 1000 }), (page) => page.data.map((m) => m.contact.email).sort())
      )

    const plan = (value: string): Segment.Segment["condition"] => ({
      logic: "AND",
      groups: [{ filters: [{ field: "data.plan", operator: "equals", value }] }]
    })

    it.effect("a baseline is silent; tracks move a contact in and out, each transition once, at the track's time", () =>
      Effect.gen(function*() {
        const p = yield* newProject
        const before = yield* track(p, { email: "a@x.io", event: "e", data: { plan: "pro" } })
        yield* define(p, `${p}-vip`, "vip", plan("pro"))
        yield* settle
        expect(yield* members(`${p}-vip`)).toEqual(["a@x.io"])
        expect(yield* transitions(before.contact)).toEqual([])
        const entry = yield* track(p, { email: "b@x.io", event: "e", data: { plan: "pro" } })
        yield* settle
        const exit = yield* track(p, { email: "b@x.io", event: "e", data: { plan: "free" } })
        yield* settle
        yield* settle
        expect(yield* transitions(entry.contact)).toEqual([
          `${entry.timestamp.getTime()} segment.vip.entry changed`,
          `${exit.timestamp.getTime()} segment.vip.exit changed`
        ])
        expect(yield* members(`${p}-vip`)).toEqual(["a@x.io"])
      }))

    it.effect("a pass behind the log evaluates a contact as the processor has read it; its newer events enter it after", () =>
      Effect.gen(function*() {
        const p = yield* newProject
        const a = yield* track(p, { email: "a@x.io", event: "e", data: { plan: "free" } })
        yield* track(p, { email: "b@x.io", event: "e", data: { plan: "pro" } })
        yield* settle
        yield* define(p, `${p}-pro`, "pro", plan("pro"))
        // Behind the log: a page of one event a turn, and a pass page every turn all the same.
        yield* track(p, { email: "c@x.io", event: "e" })
        const upgrade = yield* track(p, { email: "a@x.io", event: "e", data: { plan: "pro" } })
        const first = yield* turnOnce({ batchSize: 1 })
        expect(yield* pastWritten(first.checkpoint)).toBe(false)
        const segments = yield* SegmentStore.SegmentStore
        expect(Option.map(yield* segments.get(p, `${p}-pro`), Segment.status)).toEqual(Option.some("live"))
        yield* settle
        expect(yield* members(`${p}-pro`)).toEqual(["a@x.io", "b@x.io"])
        // a was free when the pass read it; its upgrade came after, as a command the segment covered.
        expect(yield* transitions(a.contact)).toEqual([`${upgrade.timestamp.getTime()} segment.pro.entry changed`])
      }).pipe(Effect.withClock(clock)))

    it.effect("a project's segments waiting for their passes are built together, each from its own cursor", () =>
      Effect.gen(function*() {
        const p = yield* newProject
        for (const email of ["a@x.io", "b@x.io", "c@x.io"]) {
          yield* track(p, { email, event: "e", data: { plan: email === "b@x.io" ? "free" : "pro" } })
        }
        yield* settle
        yield* define(p, `${p}-one`, "one", plan("pro"))
        yield* turnOnce({ pageSize: 1 })
        const segments = yield* SegmentStore.SegmentStore
        const one = Option.getOrThrow(yield* segments.get(p, `${p}-one`))
        expect(one.buildCursor).not.toBe("")
        expect(Segment.status(one)).toBe("building")
        yield* define(p, `${p}-two`, "two", plan("free"))
        // One page of every contact: "one" goes on from its cursor, "two" starts from the first.
        yield* turnOnce({ pageSize: 10 })
        for (const id of [`${p}-one`, `${p}-two`]) {
          expect(Option.map(yield* segments.get(p, id), Segment.status)).toEqual(Option.some("live"))
        }
        expect(yield* members(`${p}-one`)).toEqual(["a@x.io", "c@x.io"])
        expect(yield* members(`${p}-two`)).toEqual(["b@x.io"])
      }).pipe(Effect.withClock(clock)))

    it.effect("a window that passes moves a contact out at the instant it passed, with no new event", () =>
      Effect.gen(function*() {
        const p = yield* newProject
        yield* define(p, `${p}-buyers`, "buyers", {
          logic: "AND",
          groups: [{ filters: [{ field: "event.buy", operator: "triggeredWithin", value: 30, unit: "minutes" }] }]
        })
        yield* settle
        const first = yield* track(p, { email: "a@x.io", event: "buy" })
        yield* settle
        time.offset += 10 * Minute
        const second = yield* track(p, { email: "a@x.io", event: "buy" })
        yield* settle
        time.offset += 60 * Minute
        yield* settle
        expect(yield* transitions(first.contact)).toEqual([
          `${first.timestamp.getTime()} segment.buyers.entry changed`,
          `${second.timestamp.getTime() + 30 * Minute} segment.buyers.exit time`
        ])
      }))

    // Settles until the processor has read the whole log, its own transitions included (on a
    // server another test's open transaction can keep them out of sight a moment).
    const throughTheLog = Effect.gen(function*() {
      const source = yield* LogStream.LogSource
      const processors = yield* Processor.ProcessorStore
      for (let i = 0; i < 200; i++) {
        yield* settle
        const head = yield* source.head(undefined)
        const status = yield* processors.status(Membership.ProcessorName)
        if (Option.isSome(status) && !EventStore.isAfter(head, status.value.checkpoint)) return
        yield* Effect.sleep("20 millis")
      }
      return yield* Effect.die(new Error("the processor never read the log through"))
    })

    // What the sweep folds into a snapshot as it appends (decision 0049) must end as the log says:
    // the snapshot's version its stream's length, each event a condition may read counted once.
    const foldedOnce = (contactId: string) =>
      Effect.gen(function*() {
        yield* throughTheLog
        const stream = yield* Effect.flatMap(EventStore.EventStore, (s) => s.readStream(contactId))
        const snapshot = (yield* Effect.flatMap(Membership.MembershipStore, (m) => m.snapshots([contactId])))
          .get(contactId)!
        expect(snapshot.contact.version).toBe(stream.length)
        const counts: Record<string, number> = {}
        for (const e of stream) {
          if (e.event._tag === "EventTracked" && EventFacts.readable(e.event.name)) {
            counts[e.event.name] = (counts[e.event.name] ?? 0) + 1
          }
        }
        const tracked = Object.entries(snapshot.facts).filter(([name]) => !name.startsWith("contact."))
        expect(Object.fromEntries(tracked.map(([name, f]) => [name, f.count]))).toEqual(counts)
      })

    const window = (minutes: number): Segment.Segment["condition"] => ({
      logic: "AND",
      groups: [{ filters: [{ field: "event.buy", operator: "triggeredWithin", value: minutes, unit: "minutes" }] }]
    })

    // A contact in a 30-minute window segment (`buyers`) whose window passed an hour ago, not swept yet.
    const lapsedBuyer = Effect.gen(function*() {
      const p = yield* newProject
      yield* define(p, `${p}-buyers`, "buyers", window(30))
      yield* settle
      const { contact } = yield* track(p, { email: "a@x.io", event: "buy" })
      yield* settle
      time.offset += 60 * Minute
      return { contact, p }
    })

    it.effect("more exits at once than a snapshot keeps folded ids for: each counted once", () =>
      Effect.gen(function*() {
        const p = yield* newProject
        for (let k = 0; k < 20; k++) yield* define(p, `${p}-w${k}`, `w${k}`, window(30))
        yield* settle
        const { contact } = yield* track(p, { email: "many@x.io", event: "buy" })
        yield* settle
        time.offset += 60 * Minute
        yield* settle
        const exits = (yield* transitions(contact)).filter((t) => t.endsWith(".exit time"))
        expect(exits).toHaveLength(20)
        yield* foldedOnce(contact)
      }))

    it.effect("a pass in the turn of a sweep, over a contact with unread events, keeps what the sweep folded", () =>
      Effect.gen(function*() {
        const { contact, p } = yield* lapsedBuyer
        // A new segment waiting for its pass, and an event the next turn will not read (a page
        // of no events): that turn sweeps the exit, then passes over the contact as of before it.
        yield* define(p, `${p}-visitors`, "visitors", {
          logic: "AND",
          groups: [{ filters: [{ field: "event.visit", operator: "triggered" }] }]
        })
        time.offset += 2 * Minute
        yield* track(p, { email: "a@x.io", event: "visit" })
        yield* turnOnce({ batchSize: 0 })
        expect((yield* transitions(contact)).filter((t) => t.includes(".exit"))).toHaveLength(1)
        yield* settle
        expect((yield* transitions(contact)).map((t) => t.split(" ").slice(1).join(" "))).toEqual([
          "segment.buyers.entry changed",
          "segment.buyers.exit time",
          "segment.visitors.entry changed"
        ])
        yield* foldedOnce(contact)
      }))

    it.effect("an instance that fails a turn to a rebuild folds its swept transitions again when it replays the log", () =>
      Effect.gen(function*() {
        const { contact } = yield* lapsedBuyer
        // One instance sweeps the exit (folded into the snapshot, not read back yet) …
        const { turn } = yield* SegmentProcessor.make({ dueGrace: 0 })
        const store = yield* Processor.ProcessorStore
        const claim = Effect.map(
          store.claim(Membership.ProcessorName, "replaying", Duration.minutes(1)),
          Option.getOrThrow
        )
        const swept = yield* turn(Membership.ProcessorName, "replaying", yield* claim, store)
        expect((yield* transitions(contact)).filter((t) => t.includes(".exit"))).toHaveLength(1)
        // … a rebuild moves the checkpoint back under it: its next turn fails, and it replays the
        // log from the start with the snapshots forgotten.
        yield* Effect.flatMap(Membership.MembershipStore, (m) => m.rebuild(undefined))
        const failed = yield* Effect.either(turn(Membership.ProcessorName, "replaying", swept.checkpoint, store))
        expect(failed._tag).toBe("Left")
        let checkpoint = yield* claim
        for (let i = 0; i < 1000; i++) {
          const result = yield* turn(Membership.ProcessorName, "replaying", checkpoint, store)
          checkpoint = result.checkpoint
          if (!result.worked) break
        }
        yield* store.release(Membership.ProcessorName, "replaying")
        yield* foldedOnce(contact)
      }).pipe(Effect.withClock(clock)))

    it.effect("an edit records the difference (reason definition); a deletion its exits (reason deleted), then it is gone", () =>
      Effect.gen(function*() {
        const p = yield* newProject
        const pro = yield* track(p, { email: "pro@x.io", event: "e", data: { plan: "pro" } })
        const free = yield* track(p, { email: "free@x.io", event: "e", data: { plan: "free" } })
        const id = `${p}-plan`
        yield* define(p, id, "plan", plan("pro"))
        yield* settle
        yield* edit(p, id, { condition: plan("free"), revision: 2 })
        yield* settle
        expect(yield* members(id)).toEqual(["free@x.io"])
        expect((yield* transitions(pro.contact)).map((t) => t.split(" ").slice(1).join(" "))).toEqual([
          "segment.plan.exit definition"
        ])
        yield* edit(p, id, { deletedAt: new Date(clock.unsafeCurrentTimeMillis()) })
        yield* settle
        expect((yield* transitions(free.contact)).map((t) => t.split(" ").slice(1).join(" "))).toEqual([
          "segment.plan.entry definition",
          "segment.plan.exit deleted"
        ])
        const segments = yield* SegmentStore.SegmentStore
        expect((yield* segments.get(p, id))._tag).toBe("None")
        expect(yield* members(id)).toEqual([])
      }))

    it.effect("an erased contact leaves every segment with no exit event", () =>
      Effect.gen(function*() {
        const p = yield* newProject
        yield* define(p, `${p}-any`, "any", {
          logic: "AND",
          groups: [{ filters: [{ field: "event.e", operator: "triggered" }] }]
        })
        yield* settle
        const a = yield* track(p, { email: "a@x.io", event: "e" })
        yield* settle
        expect(yield* members(`${p}-any`)).toEqual(["a@x.io"])
        yield* EraseContact.erase(p, { contactId: a.contact, suppress: false })
        yield* settle
        expect(yield* members(`${p}-any`)).toEqual([])
        const events = yield* EventStore.EventStore
        expect((yield* events.readStream(a.contact)).map((e) => e.event._tag)).toEqual(["ContactErased"])
      }))

    it.effect("a rebuild, of one segment or of all, gives the same members and records nothing new", () =>
      Effect.gen(function*() {
        const p = yield* newProject
        yield* define(p, `${p}-recent`, "recent", {
          logic: "AND",
          groups: [{ filters: [{ field: "event.buy", operator: "triggeredWithin", value: 1, unit: "days" }] }]
        })
        yield* define(p, `${p}-pro`, "pro", plan("pro"))
        yield* settle
        for (let i = 0; i < 6; i++) {
          time.offset += 6 * 60 * Minute
          yield* track(p, {
            email: `c${i % 3}@x.io`,
            event: i % 2 === 0 ? "buy" : "view",
            data: { plan: i % 4 === 0 ? "pro" : "free" }
          })
          yield* settle
        }
        const before = [yield* members(`${p}-recent`), yield* members(`${p}-pro`)]
        const events = yield* EventStore.EventStore
        const size = (yield* events.readAll(EventStore.start, 1_000_000)).events.length
        const store = yield* Membership.MembershipStore
        yield* store.rebuild(`${p}-recent`)
        yield* settle
        expect([yield* members(`${p}-recent`), yield* members(`${p}-pro`)]).toEqual(before)
        yield* store.rebuild(undefined)
        yield* settle
        expect([yield* members(`${p}-recent`), yield* members(`${p}-pro`)]).toEqual(before)
        expect((yield* events.readAll(EventStore.start, 1_000_000)).events.length).toBe(size)
        expect(before[1]!.length).toBeGreaterThan(0)
      }))

    it.effect("two instances running at once, one stopped half way: each transition once, equal to the oracle's", () =>
      Effect.gen(function*() {
        const p = yield* newProject
        const segment = yield* define(p, `${p}-positive`, "positive", {
          logic: "AND",
          groups: [{ filters: [{ field: "data.n", operator: "greaterThan", value: 0 }] }]
        })
        yield* settle
        const options = { leaseTtl: Duration.seconds(1), idle: Duration.millis(20) }
        const a = yield* Effect.fork(Effect.withClock(SegmentProcessor.run({ ...options, instanceId: "a" }), clock))
        const b = yield* Effect.fork(Effect.withClock(SegmentProcessor.run({ ...options, instanceId: "b" }), clock))
        const contacts = new Set<string>()
        for (let i = 0; i < 60; i++) {
          const result = yield* track(p, { email: `c${i % 6}@x.io`, event: "e", data: { n: Math.floor(i / 6) % 2 } })
          contacts.add(result.contact)
          // The active instance may be either: stop one, the other takes over at the checkpoint.
          if (i === 30) yield* Fiber.interrupt(a)
        }
        yield* Effect.sleep("300 millis")
        yield* Fiber.interrupt(b)
        yield* settle
        const events = yield* EventStore.EventStore
        let total = 0
        for (const c of contacts) {
          const stream = yield* events.readStream(c)
          const recorded = SegmentOracle.recorded(stream)
          expect(SegmentOracle.alternates(stream)).toBe(true)
          expect(recorded).toEqual(SegmentOracle.expected(stream, [segment], Infinity))
          total += recorded.length
        }
        expect(total).toBeGreaterThan(20)
      }))

    it.effect("an audience answers the contacts the oracle finds, from the snapshots or from the projection", () =>
      Effect.gen(function*() {
        const p = yield* newProject
        const defined = SegmentOracle.segments(p, [1, 2, 3, 4, 5, 6], new Date(clock.unsafeCurrentTimeMillis()))
        const store = yield* SegmentStore.SegmentStore
        yield* store.update(p, () => Either.right({ put: defined, answer: undefined }))
        const emails = ["ann@x.io", "bob@x.io", "cy@x.io", "dee@y.io", "al@y.io"]
        const contacts = new Set<string>()
        for (let i = 0; i < 14; i++) {
          time.offset += (i % 3) * 25 * Minute
          const body = SegmentOracle.body({
            wait: 0,
            email: emails[(i * 3) % emails.length]!,
            event: i % 3 === 0 ? "visit" : "buy",
            plan: i % 4 === 0 ? undefined : i % 4 === 1 ? "pro" : "free",
            score: i % 5 === 0 ? undefined : i,
            subscribed: i % 6 === 2 ? false : i % 6 === 4 ? true : undefined
          })
          const extra = i % 2 === 0 ? { other: `o${i % 4}` } : {}
          contacts.add((yield* track(p, { ...body, data: { ...body.data, ...extra } })).contact)
        }
        time.offset += 40 * Minute
        yield* settle
        const at = clock.unsafeCurrentTimeMillis()
        const day = new Date(at).toISOString().slice(0, 10)
        const f = (field: string, operator: string, value?: unknown, unit?: string) => ({
          field,
          operator,
          ...(value === undefined ? {} : { value }),
          ...(unit === undefined ? {} : { unit })
        })
        const all = (...filters: Array<ReturnType<typeof f>>) => ({ logic: "AND", groups: [{ filters }] })
        // The pool's conditions read only what the segments keep (answered from the snapshots);
        // the rest read a data key no segment reads, count more times than the segments keep, or
        // read the contact's own fields (answered from the projection, or narrowed snapshots).
        const conditions: Array<unknown> = [
          ...SegmentOracle.pool(`${p}-s0`),
          all(f(`segment.${p}-s2`, "memberOfSegment"), f("email", "contains", "y.io")),
          all(f("data.other", "equals", "o2")),
          all(f("data.other", "exists"), f("event.buy", "triggeredAtLeast", 3)),
          all({ ...f("event.buy", "triggeredAtLeast", 4), within: 5, unit: "hours" } as never),
          all(f("subscribed", "equals", false)),
          all(f("createdAt", "equals", day), f("updatedAt", "within", 1, "hours")),
          {
            logic: "OR",
            groups: [{ filters: [f("email", "equals", "cy@x.io")] }, { filters: [f("data.plan", "equals", "pro")] }]
          }
        ]
        const audiences = yield* Segments.make({ maxWait: 0 })
        const events = yield* EventStore.EventStore
        const streams = new Map<string, ReadonlyArray<EventStore.RecordedEvent>>()
        for (const id of contacts) streams.set(id, yield* events.readStream(id))
        let answered = 0
        for (const condition of conditions) {
          const expected = [...streams].filter(([, stream]) =>
            SegmentOracle.matches(stream, condition as Segment.Segment["condition"], defined, at)
          ).map(([id]) => id).sort()
          const found: Array<string> = []
          let cursor: string | undefined = undefined
          for (;;) {
            const page: Segments.Audience = yield* audiences.query(p, condition, { limit: 2, cursor })
            expect(page.total).toBe(expected.length)
            found.push(...page.contacts.map((c) => c.id))
            if (page.cursor === null) break
            cursor = page.cursor
          }
          expect(found).toEqual(expected)
          answered += found.length
        }
        // The conditions are not all empty, nor all everything.
        expect(answered).toBeGreaterThan(0)
        expect(answered).toBeLessThan(conditions.length * contacts.size)
      }).pipe(Effect.withClock(clock)))

    it.effect("random tracks over random times: the transitions equal the oracle's", () =>
      Effect.gen(function*() {
        const services = yield* Effect.context<Store | Commands.Services | Ids.Ids>()
        yield* Effect.promise(() =>
          FastCheck.assert(
            FastCheck.asyncProperty(SegmentOracle.scenario, (scenario) =>
              Effect.runPromise(
                Effect.gen(function*() {
                  const p = yield* newProject
                  const segments = SegmentOracle.segments(p, scenario.picked, new Date(clock.unsafeCurrentTimeMillis()))
                  const store = yield* SegmentStore.SegmentStore
                  yield* store.update(p, () => Either.right({ put: segments, answer: undefined }))
                  yield* settle
                  const contacts = new Set<string>()
                  for (const step of scenario.steps) {
                    time.offset += step.wait
                    contacts.add((yield* track(p, SegmentOracle.body(step))).contact)
                    yield* settle
                  }
                  time.offset += 6 * 60 * Minute
                  yield* settle
                  const end = clock.unsafeCurrentTimeMillis()
                  const events = yield* EventStore.EventStore
                  for (const id of contacts) {
                    const stream = yield* events.readStream(id)
                    expect(SegmentOracle.recorded(stream)).toEqual(SegmentOracle.expected(stream, segments, end))
                    // The snapshot has folded the whole stream once, transitions included.
                    yield* foldedOnce(id)
                  }
                }).pipe(Effect.provide(services))
              )),
            { numRuns: 8 }
          )
        )
      }), 120_000)
  })
}
