import { describe, expect, it } from "@effect/vitest"
import * as CommandHandler from "@tracklog/core/CommandHandler"
import * as Commands from "@tracklog/core/Commands"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as Contacts from "@tracklog/core/Contacts"
import type * as Decider from "@tracklog/core/Decider"
import * as EventStore from "@tracklog/core/EventStore"
import * as Idempotency from "@tracklog/core/Idempotency"
import * as Ids from "@tracklog/core/Ids"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as DeciderSpecification from "@tracklog/core/testing/DeciderSpecification"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"

const handlerWith = (options: CommandHandler.Options) =>
  Commands.layerWith(options).pipe(Layer.provideMerge(StoreMemory.layer), Layer.provideMerge(Ids.layer))

const command = (body: TrackCommand.Encoded) => Either.getOrThrow(TrackCommand.decode(body))

describe("CommandHandler: the contact cache is bounded by bytes (issue 15)", () => {
  it.effect("big contacts never hold more than the budget; small ones are all kept", () =>
    Effect.gen(function*() {
      const track = yield* Track.Track
      const handler = yield* CommandHandler.CommandHandler
      const budget = 300 * 1024
      const big = "x".repeat(50 * 1024)
      for (let i = 0; i < 50; i++) {
        yield* track.track("p", command({ email: `big${i}@example.com`, event: "e", data: { big } }))
        expect(handler.cacheStats().bytes).toBeLessThanOrEqual(budget)
      }
      // About six 50 KB contacts fit in 300 KiB, not fifty.
      expect(handler.cacheStats().entries).toBeGreaterThan(0)
      expect(handler.cacheStats().entries).toBeLessThanOrEqual(6)
      // A contact bigger than the whole budget is not kept at all.
      yield* track.track(
        "p",
        command({ email: "huge@example.com", event: "e", data: { huge: "y".repeat(400 * 1024) } })
      )
      expect(handler.cacheStats().bytes).toBeLessThanOrEqual(budget)
      for (let i = 0; i < 100; i++) yield* track.track("q", command({ email: `small${i}@example.com`, event: "e" }))
      expect(handler.cacheStats().entries).toBeGreaterThanOrEqual(100)
    }).pipe(Effect.provide(handlerWith({ cacheBytes: 300 * 1024 }))))

  it.effect("the entry bound still holds", () =>
    Effect.gen(function*() {
      const track = yield* Track.Track
      const handler = yield* CommandHandler.CommandHandler
      for (let i = 0; i < 30; i++) yield* track.track("p", command({ email: `n${i}@example.com`, event: "e" }))
      expect(handler.cacheStats().entries).toBe(8)
    }).pipe(Effect.provide(handlerWith({ cacheEntries: 8 }))))
})

// A decider that is not the track decider: a counter that refuses to go below zero.
type CounterEvent = { readonly _tag: "Added"; readonly n: number }
const counter: Decider.Decider<number, CounterEvent, number, { readonly max: number }, "below zero"> = {
  initialState: 0,
  evolve: (state, event) => state + event.n,
  decide: (n, state, context) =>
    state + n < 0
      ? Either.left("below zero" as const)
      : Either.right([{ _tag: "Added", n: Math.min(n, context.max - state) }])
}

describe("DeciderSpecification.for works for any decider", () => {
  const spec = DeciderSpecification.for(counter, { max: 10 })
  it("given/when/then", () => spec.given([{ _tag: "Added", n: 3 }]).when(4).then([{ _tag: "Added", n: 4 }]))
  it("thenState folds the given and decided events", () => spec.given([{ _tag: "Added", n: 8 }]).when(5).thenState(10))
  it("thenRefuses", () => spec.given([]).when(-1).thenRefuses((refusal) => refusal === "below zero"))
  it("the track decider too", () =>
    DeciderSpecification.for(Track.decider, DeciderSpecification.context).given([]).when(
      command({ email: "a@b.co", event: "e" })
    ).then([
      ContactEvent.ContactCreated.make({
        contactId: DeciderSpecification.context.contactId,
        projectId: DeciderSpecification.context.projectId,
        email: "a@b.co",
        subscribed: true,
        at: DeciderSpecification.context.now
      }),
      ContactEvent.EventTracked.make({ name: "e", data: {}, at: DeciderSpecification.context.now })
    ]))
})

describe("Idempotency", () => {
  it("parseKey: 1–255 visible ASCII, optionally quoted", () => {
    expect(Idempotency.parseKey("abc")).toEqual(Either.right("abc"))
    expect(Idempotency.parseKey('"abc"')).toEqual(Either.right("abc"))
    expect(Idempotency.parseKey("!~")).toEqual(Either.right("!~"))
    expect(Idempotency.parseKey("k".repeat(255))).toEqual(Either.right("k".repeat(255)))
    for (const bad of ["", '""', "a b", "k".repeat(256), "é", "a\u0000", "a\u007f"])
      expect(Either.isLeft(Idempotency.parseKey(bad)), bad).toBe(true)
  })

  it("canonical text ignores key order and spacing, not values", () => {
    expect(Idempotency.canonical(JSON.parse(`{"b": [1, {"y":2,"x":1}], "a": "s"}`))).toBe(
      `{"a":"s","b":[1,{"x":1,"y":2}]}`
    )
    expect(Idempotency.canonical({ a: 1 })).not.toBe(Idempotency.canonical({ a: "1" }))
    expect(Idempotency.canonical({ a: [1, 2] })).not.toBe(Idempotency.canonical({ a: [2, 1] }))
  })
})

describe("CommandHandler: a first track reads nothing (issue 14)", () => {
  // A track service on its own handler (its own cache) over the shared store, counting the contact
  // reads it makes; `strip` takes the holder out of the store's email conflicts.
  const trackCounting = (reads: { n: number }, strip = false) =>
    Effect.gen(function*() {
      const contacts = yield* Contacts.Contacts
      const store = yield* EventStore.EventStore
      const stripped = EventStore.EventStore.of({
        ...store,
        append: (input) =>
          Effect.mapError(
            store.append(input),
            (e) =>
              e._tag === "ConcurrencyConflict"
                ? new EventStore.ConcurrencyConflict({ ...e, holder: undefined })
                : e
          )
      })
      const counted = Contacts.Contacts.of({
        ...contacts,
        findByEmail: (projectId, email) =>
          Effect.suspend(() => {
            reads.n++
            return contacts.findByEmail(projectId, email)
          })
      })
      const handler = yield* CommandHandler.make().pipe(
        Effect.provideService(EventStore.EventStore, strip ? stripped : store),
        Effect.provideService(Contacts.Contacts, counted)
      )
      return yield* Track.make.pipe(Effect.provideService(CommandHandler.CommandHandler, handler))
    })
  const store = Layer.merge(StoreMemory.layer, Ids.layer)

  it.live("a new email is created without a read; a handler that never saw a contact gets it from the store's conflict", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const reads = { n: 0 }
      const one = yield* trackCounting(reads)
      const two = yield* trackCounting(reads)
      const first = yield* one.track("p", command({ email: "first@example.com", event: "a", data: { n: 1 } }))
      expect(reads.n).toBe(0)
      const again = yield* two.track("p", command({ email: "first@example.com", event: "b", data: { m: 2 } }))
      expect(again.contact).toBe(first.contact)
      expect(reads.n).toBe(0)
      const events = yield* store.readStream(first.contact)
      expect(events.map((r) => r.event._tag)).toEqual([
        "ContactCreated",
        "ContactDataChanged",
        "EventTracked",
        "ContactDataChanged",
        "EventTracked"
      ])
      // The second track was decided on the stored contact: its data merged into the first's.
      const contacts = yield* Contacts.Contacts
      const stored = yield* contacts.findByEmail("p", "first@example.com")
      expect(stored._tag === "Some" && stored.value.data).toEqual({ n: 1, m: 2 })
      expect(stored._tag === "Some" && stored.value.version).toBe(5)
    }).pipe(Effect.provide(store)))

  it.live("a store that gives no holder: the handler reads the contact and goes on", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const reads = { n: 0 }
      const one = yield* trackCounting(reads, true)
      const two = yield* trackCounting(reads, true)
      const first = yield* one.track("p", command({ email: "plain@example.com", event: "a" }))
      expect(reads.n).toBe(0)
      const again = yield* two.track("p", command({ email: "plain@example.com", event: "b" }))
      expect(again.contact).toBe(first.contact)
      expect(reads.n).toBe(1)
      expect(yield* store.readStream(first.contact)).toHaveLength(3)
    }).pipe(Effect.provide(store)))
})
