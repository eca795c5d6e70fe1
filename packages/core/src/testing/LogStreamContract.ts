/**
 * The live-log part of the store contract (behaviour §5.3): the catch-up-then-live stream and durable
 * processors, run by every store package against its own Layer, next to `StoreContract.run`.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as EventStore from "../EventStore.js"
import * as Ids from "../Ids.js"
import * as LogStream from "../LogStream.js"
import * as Processor from "../Processor.js"
import * as Commands from "../Commands.js"
import type * as StorePorts from "../Store.js"
import * as StoreContract from "./StoreContract.js"

/** What a store package provides for live reads. */
export type Store = StorePorts.Ports | LogStream.LogSource | Processor.ProcessorStore

const newProject = Effect.flatten(Effect.map(Ids.Ids, (ids) => ids.next))

// Takes `n` items, failing the test rather than hanging when they never come.
const take = <A, E, R>(stream: Stream.Stream<A, E, R>, n: number) =>
  Stream.runCollect(Stream.take(stream, n)).pipe(
    Effect.map(Chunk.toReadonlyArray),
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`fewer than ${n} items within 10 s`) })
  )

// Waits until a reader can see `n` events of the project. On PostgreSQL a committed event stays
// held back while an older transaction anywhere on the server is open (another test file's, say):
// the stream then rightly says CaughtUp before it.
const visible = (projectId: string, n: number) =>
  Effect.flatMap(LogStream.LogSource, (source) =>
    Effect.orDie(source.read(EventStore.start, n, projectId)).pipe(
      Effect.repeat({ until: (batch) => batch.events.length >= n, schedule: Schedule.spaced("20 millis") }),
      Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`${n} events not visible within 10 s`) })
    ))

const eventIds = (items: ReadonlyArray<LogStream.Item>) =>
  items.flatMap((i) => (i._tag === "Event" ? [i.event.id] : []))

/** Runs the live-log contract against a store layer. */
export const run = <E>(name: string, store: Layer.Layer<Store, E>) =>
  layer(Commands.layer.pipe(Layer.provideMerge(Ids.layer), Layer.provideMerge(store)), {
    excludeTestServices: true
  })(`live log contract: ${name}`, (it) => {
    describe("LogStream", () => {
      it.effect("catches up on a project's log, says so, then delivers new events live, in order, once", () =>
        Effect.gen(function*() {
          const projectId = yield* newProject
          const a = yield* StoreContract.createContact(projectId, "live-a@example.com", [StoreContract.tracked("one")])
          yield* visible(projectId, 2)
          const items = yield* Stream.toPull(LogStream.items({ projectId, batchSize: 1 }))
          const pullN = (n: number) =>
            Effect.gen(function*() {
              const got: Array<LogStream.Item> = []
              while (got.length < n) got.push(...Chunk.toReadonlyArray(yield* Effect.orDie(items)))
              return got
            }).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("no items") }))
          const caughtUp = yield* pullN(3)
          expect(caughtUp.map((i) => i._tag)).toEqual(["Event", "Event", "CaughtUp"])
          expect(eventIds(caughtUp)).toEqual(
            (yield* (yield* EventStore.EventStore).readStream(a.contactId)).map((r) => r.id)
          )
          const b = yield* StoreContract.createContact(projectId, "live-b@example.com", [StoreContract.tracked("two")])
          const live = yield* pullN(2)
          const stored = yield* (yield* EventStore.EventStore).readStream(b.contactId)
          expect(eventIds(live)).toEqual(stored.map((r) => r.id))
        }).pipe(Effect.scoped))

      it.effect("another project's events never appear, and the whole log holds both", () =>
        Effect.gen(function*() {
          const mine = yield* newProject
          const other = yield* newProject
          yield* StoreContract.createContact(other, "other-1@example.com")
          const a = yield* StoreContract.createContact(mine, "mine-1@example.com")
          yield* StoreContract.createContact(other, "other-2@example.com")
          const b = yield* StoreContract.createContact(mine, "mine-2@example.com")
          const got = yield* take(LogStream.events({ projectId: mine }), 2)
          expect(got.map((e) => e.streamId)).toEqual([a.contactId, b.contactId])
          expect(got.every((e) => e.projectId === mine)).toBe(true)
          const whole = yield* StoreContract.readAllUntil(EventStore.start, (events) =>
            events.some((e) => e.streamId === b.contactId))
          const streams = new Set(whole.events.map((e) =>
            e.projectId
          ))
          expect(streams.has(mine) && streams.has(other)).toBe(true)
        }))

      it.effect("resumes strictly after a checkpoint, and from the head sees only later events", () =>
        Effect.gen(function*() {
          const projectId = yield* newProject
          yield* StoreContract.createContact(projectId, "r1@example.com", [
            StoreContract.tracked("a"),
            StoreContract.tracked("b")
          ])
          const all = yield* take(LogStream.events({ projectId }), 3)
          const rest = yield* take(LogStream.events({ projectId, after: LogStream.checkpointOf(all[0]!) }), 2)
          expect(rest.map((e) => e.id)).toEqual(all.slice(1).map((e) => e.id))
          const source = yield* LogStream.LogSource
          // The head is where "from now" starts: level with what is visible.
          let head = yield* source.head(projectId)
          for (let i = 0; i < 100 && head.position !== all[2]!.position; i++) {
            yield* Effect.sleep("20 millis")
            head = yield* source.head(projectId)
          }
          expect(head).toEqual(LogStream.checkpointOf(all[2]!))
          const fiber = yield* Effect.fork(take(LogStream.events({ projectId, after: head }), 1))
          const later = yield* StoreContract.createContact(projectId, "r2@example.com")
          const [next] = yield* Fiber.join(fiber)
          expect(next!.streamId).toBe(later.contactId)
          expect(yield* source.lag(head, projectId)).toEqual({ events: 1, oldestAt: Option.some(next!.event.at) })
          expect((yield* source.lag(LogStream.checkpointOf(next!), projectId)).events).toBe(0)
        }))

      it("a cursor round-trips its log's epoch and its checkpoint, a legacy one has no epoch, and nothing else is a cursor", () => {
        const checkpoint = { transactionId: 123456789n, position: 42n }
        const epoch = "0123456789abcdef"
        const cursor = LogStream.encodeCursor(epoch, checkpoint)
        expect(cursor).toBe("0123456789abcdef.21i3v9-16")
        expect(LogStream.decodeCursor(cursor)).toEqual(Option.some({ epoch, checkpoint }))
        // As versions before epochs wrote them.
        expect(LogStream.decodeCursor("21i3v9-16")).toEqual(Option.some({ epoch: undefined, checkpoint }))
        for (
          const bad of [
            "",
            "0",
            "abc",
            "1-",
            "-1",
            "01-2",
            "1-2-3",
            "Z-1",
            "1.2",
            "zzzzzzzzzzzzz-1",
            " 1-2",
            `${epoch}.`,
            `${epoch}-1-2`,
            `${epoch}.01-2`,
            `${epoch}.1-2.3`,
            `${epoch.toUpperCase()}.1-2`,
            `${epoch.slice(1)}.1-2`,
            `${epoch}0.1-2`,
            `.1-2`,
            `${epoch}.1-2\n`,
            `${epoch}.zzzzzzzzzzzzz-1`
          ]
        ) {
          expect(LogStream.decodeCursor(bad), bad).toEqual(Option.none())
        }
      })

      it.effect("the log has an epoch of its own: its cursors are of it; another log's, or a legacy one here, are not", () =>
        Effect.gen(function*() {
          const source = yield* LogStream.LogSource
          const { identity } = source
          expect(identity.epoch).toMatch(/^[0-9a-f]{16}$/)
          // Every contract store is made new: it never handed out a cursor without its epoch.
          expect(identity.legacyCursors).toBe(false)
          const projectId = yield* newProject
          yield* StoreContract.createContact(projectId, "epoch@example.com")
          const [event] = yield* take(LogStream.events({ projectId }), 1)
          const cursorOf = (epoch: string) =>
            Option.getOrThrow(LogStream.decodeCursor(LogStream.encodeCursor(epoch, LogStream.checkpointOf(event!))))
          expect(LogStream.belongsTo(cursorOf(identity.epoch), identity)).toBe(true)
          const other = LogStream.newEpoch()
          expect(other).not.toBe(identity.epoch)
          expect(LogStream.belongsTo(cursorOf(other), identity)).toBe(false)
          const legacy = Option.getOrThrow(
            LogStream.decodeCursor(`${event!.transactionId.toString(36)}-${event!.position.toString(36)}`)
          )
          expect(LogStream.belongsTo(legacy, identity)).toBe(false)
          expect(LogStream.belongsTo(legacy, { ...identity, legacyCursors: true })).toBe(true)
          // The same for every reader of the store, however often asked.
          expect((yield* LogStream.LogSource).identity).toEqual(identity)
        }))
    })

    describe("Processor", () => {
      it.effect("handles every event once, in order, and a restart resumes from its stored checkpoint", () =>
        Effect.gen(function*() {
          const projectId = yield* newProject
          const name = `counter-${projectId}`
          const seen: Array<string> = []
          const processor = Processor.run({
            name,
            projectId,
            batchSize: 2,
            handle: (events) => Effect.sync(() => seen.push(...events.map((e) => e.id)))
          })
          yield* StoreContract.createContact(projectId, "p1@example.com", [
            StoreContract.tracked("a"),
            StoreContract.tracked("b")
          ])
          const first = yield* Effect.fork(processor)
          yield* waitFor(() => seen.length >= 3)
          // Its checkpoint committed after the handler: give it the moment to.
          yield* Effect.sleep("100 millis")
          yield* Fiber.interrupt(first)
          const c = yield* StoreContract.createContact(projectId, "p2@example.com")
          const lag = yield* Processor.lag(name, projectId)
          expect(lag.events).toBe(1)
          const second = yield* Effect.fork(processor)
          yield* waitFor(() => seen.length >= 4)
          yield* Effect.sleep("100 millis")
          yield* Fiber.interrupt(second)
          const log = yield* take(LogStream.events({ projectId }), 4)
          expect(seen).toEqual(log.map((e) => e.id))
          expect(seen[3]).toBe((yield* (yield* EventStore.EventStore).readStream(c.contactId))[0]!.id)
          expect((yield* Processor.lag(name, projectId)).events).toBe(0)
        }))

      it.effect("of three instances of one processor, exactly one is active at every sample", () =>
        Effect.gen(function*() {
          const projectId = yield* newProject
          const name = `single-${projectId}`
          const active = new Set<number>()
          let overlaps = 0
          let samples = 0
          const instance = (n: number) =>
            Processor.run({
              name,
              projectId,
              leaseTtl: "1 second",
              handle: () => Effect.void,
              onActive: (on) => {
                if (on) active.add(n)
                else active.delete(n)
                if (active.size > 1) overlaps++
              }
            })
          const fibers = [
            yield* Effect.fork(instance(0)),
            yield* Effect.fork(instance(1)),
            yield* Effect.fork(instance(2))
          ]
          yield* waitFor(() => active.size === 1)
          for (let round = 0; round < 2; round++) {
            for (let i = 0; i < 10; i++) {
              samples++
              expect(active.size).toBe(1)
              yield* Effect.sleep("20 millis")
            }
            // The active one goes away: another takes over.
            const holder = [...active][0]!
            yield* Fiber.interrupt(fibers[holder]!)
            yield* waitFor(() => active.size === 1 && !active.has(holder))
          }
          expect(overlaps).toBe(0)
          expect(samples).toBe(20)
          yield* Effect.forEach(fibers, Fiber.interrupt)
        }))

      it.effect("while it is not wanted, a processor moves its checkpoint to the head without reading or handling; once wanted, it handles what is appended after", () =>
        Effect.gen(function*() {
          const projectId = yield* newProject
          const name = `idle-${projectId}`
          const source = yield* LogStream.LogSource
          const store = yield* Processor.ProcessorStore
          let reads = 0
          let wanted = false
          const seen: Array<string> = []
          const counted = LogStream.LogSource.of({
            ...source,
            read: (...args) => Effect.suspend(() => (reads++, source.read(...args)))
          })
          const at = (checkpoint: EventStore.Checkpoint) =>
            waitForEffect(Effect.map(
              Effect.orDie(store.status(name)),
              (status) => Option.isSome(status) && !EventStore.isAfter(checkpoint, status.value.checkpoint)
            ))
          yield* StoreContract.createContact(projectId, "idle1@example.com", [StoreContract.tracked("before")])
          yield* visible(projectId, 2)
          const running = yield* Effect.fork(
            Processor.run({
              name,
              projectId,
              handle: (events) => Effect.sync(() => seen.push(...events.map((e) => e.id))),
              wanted: Effect.sync(() => wanted)
            }).pipe(Effect.provideService(LogStream.LogSource, counted))
          )
          yield* at(yield* Effect.orDie(source.head(projectId)))
          const passed = yield* StoreContract.createContact(projectId, "idle2@example.com")
          yield* visible(projectId, 3)
          yield* at(yield* Effect.orDie(source.head(projectId)))
          expect(seen).toEqual([])
          expect(reads).toBe(0)
          wanted = true
          const after = yield* StoreContract.createContact(projectId, "idle3@example.com", [
            StoreContract.tracked("after")
          ])
          yield* waitFor(() => seen.length >= 2)
          yield* Effect.sleep("100 millis")
          yield* Fiber.interrupt(running)
          const events = yield* Effect.orDie((yield* EventStore.EventStore).readStream(after.contactId))
          expect(seen).toEqual(events.map((e) => e.id))
          expect(seen).not.toContain(
            (yield* Effect.orDie((yield* EventStore.EventStore).readStream(passed.contactId)))[0]!.id
          )
          expect(reads).toBeGreaterThan(0)
        }))

      it.effect("a handler that keeps failing is retried, then the processor stops and says where and why; what follows a commit runs after each committed batch only", () =>
        Effect.gen(function*() {
          const projectId = yield* newProject
          const name = `failing-${projectId}`
          const a = yield* StoreContract.createContact(projectId, "f1@example.com")
          const b = yield* StoreContract.createContact(projectId, "f2@example.com")
          const bId = (yield* (yield* EventStore.EventStore).readStream(b.contactId))[0]!.id
          const store = yield* Processor.ProcessorStore
          let calls = 0
          // `committed` runs once per committed batch, and only then: the checkpoint is stored by then.
          const committed: Array<Option.Option<EventStore.Checkpoint>> = []
          const error = yield* Effect.flip(Processor.run({
            name,
            projectId,
            batchSize: 1,
            retries: 2,
            retryBase: "5 millis",
            handle: (events) => {
              calls++
              return events[0]!.streamId === b.contactId ? Effect.fail(new Error("boom")) : Effect.void
            },
            committed: Effect.orDie(store.status(name)).pipe(
              Effect.map((status) => committed.push(Option.map(status, (s) => s.checkpoint)))
            )
          }))
          expect(error).toMatchObject({ _tag: "ProcessorFailed", name, eventId: bId, attempts: 3 })
          expect(error.reason).toContain("boom")
          expect(calls).toBe(4)
          const status = yield* store.status(name)
          const first = (yield* (yield* EventStore.EventStore).readStream(a.contactId))[0]!
          expect(Option.map(status, (s) => s.checkpoint)).toEqual(Option.some(LogStream.checkpointOf(first)))
          expect(committed).toEqual([Option.some(LogStream.checkpointOf(first))])
        }))
    })
  })

const waitFor = (done: () => boolean) => waitForEffect(Effect.sync(done))

const waitForEffect = (done: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    const deadline = Date.now() + Duration.toMillis("10 seconds")
    while (!(yield* done)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error("condition not met within 10 s"))
      yield* Effect.sleep("10 millis")
    }
  })
