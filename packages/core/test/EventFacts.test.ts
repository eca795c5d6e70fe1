import { describe, expect, it } from "@effect/vitest"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as EventFacts from "@tracklog/core/EventFacts"
import * as FastCheck from "effect/FastCheck"

const T = Date.parse("2025-06-15T12:00:00.000Z")
const tracked = (name: string, at: number) => ContactEvent.EventTracked.make({ name, data: {}, at: new Date(at) })
const created = (at: number) =>
  ContactEvent.ContactCreated.make({
    contactId: "c",
    projectId: "p",
    email: "a@b.co",
    subscribed: true,
    at: new Date(at)
  })

describe("EventFacts.record", () => {
  it("the first event sets count, first and last time", () =>
    expect(EventFacts.get(EventFacts.record(EventFacts.empty, "buy", T, 0), "buy")).toEqual({
      count: 1,
      firstAt: T,
      lastAt: T,
      recent: []
    }))

  it("later events add to the count and move lastAt; firstAt stays", () => {
    let facts = EventFacts.empty
    for (const at of [T, T + 5, T + 9]) facts = EventFacts.record(facts, "buy", at, 0)
    expect(EventFacts.get(facts, "buy")).toEqual({ count: 3, firstAt: T, lastAt: T + 9, recent: [] })
  })

  it("recent keeps the latest `keep` times, newest last", () => {
    let facts = EventFacts.empty
    for (const at of [T, T + 1, T + 2, T + 3]) facts = EventFacts.record(facts, "buy", at, 2)
    expect(EventFacts.get(facts, "buy")!.recent).toEqual([T + 2, T + 3])
  })

  it("a time out of order lands in its place, or is dropped when older than every kept one", () => {
    let facts = EventFacts.empty
    for (const at of [T, T + 10, T + 5]) facts = EventFacts.record(facts, "buy", at, 3)
    expect(EventFacts.get(facts, "buy")).toEqual({ count: 3, firstAt: T, lastAt: T + 10, recent: [T, T + 5, T + 10] })
    facts = EventFacts.record(facts, "buy", T - 1, 3)
    expect(EventFacts.get(facts, "buy")).toEqual({
      count: 4,
      firstAt: T - 1,
      lastAt: T + 10,
      recent: [T, T + 5, T + 10]
    })
  })

  it("names are kept apart, and the facts given are not changed", () => {
    const one = EventFacts.record(EventFacts.empty, "a", T, 1)
    const two = EventFacts.record(one, "b", T + 1, 1)
    expect(EventFacts.get(one, "b")).toBeUndefined()
    expect(EventFacts.get(two, "a")).toEqual(EventFacts.get(one, "a"))
    expect(EventFacts.get(two, "b")!.count).toBe(1)
  })

  it("an event may be named __proto__ or constructor: own keys, through JSON and back", () => {
    let facts = EventFacts.record(EventFacts.empty, "__proto__", T, 1)
    facts = EventFacts.record(facts, "constructor", T, 0)
    expect(Object.getPrototypeOf(facts)).toBe(Object.prototype)
    expect(EventFacts.get(facts, "__proto__")!.count).toBe(1)
    expect(EventFacts.get(EventFacts.empty, "constructor")).toBeUndefined()
    const stored = JSON.parse(JSON.stringify(facts)) as EventFacts.EventFacts
    expect(EventFacts.get(stored, "__proto__")).toEqual(EventFacts.get(facts, "__proto__"))
    expect(stored).toEqual(facts)
  })
})

describe("EventFacts.fold", () => {
  it("records tracked events and subscription flips under their visible names", () => {
    const facts = EventFacts.fold([
      created(T),
      tracked("signup", T),
      ContactEvent.ContactDataChanged.make({ set: { plan: "pro" }, unset: [], at: new Date(T + 1) }),
      ContactEvent.SubscriptionChanged.make({ subscribed: false, at: new Date(T + 2) }),
      ContactEvent.SubscriptionChanged.make({ subscribed: true, at: new Date(T + 3) }),
      tracked("signup", T + 4)
    ])
    expect(Object.keys(facts).sort()).toEqual(["contact.subscribed", "contact.unsubscribed", "signup"])
    expect(EventFacts.get(facts, "signup")).toMatchObject({ count: 2, firstAt: T, lastAt: T + 4 })
    expect(EventFacts.get(facts, "contact.unsubscribed")).toMatchObject({ count: 1, lastAt: T + 2 })
    expect(EventFacts.get(facts, "contact.subscribed")).toMatchObject({ count: 1, lastAt: T + 3 })
  })

  it("keeps no facts for the system's own events, which no condition may read", () => {
    // As the segment processor appends them: built with validation off.
    const system = (name: string, at: number) =>
      new ContactEvent.EventTracked({ name, data: {}, at: new Date(at) }, true)
    const facts = EventFacts.fold([
      created(T),
      system("segment.vip.entry", T),
      system("segment.vip.exit", T + 1),
      system("email.opened", T + 2),
      tracked("segment.vip", T + 3),
      tracked("segment.vip.started", T + 4)
    ])
    expect(Object.keys(facts).sort()).toEqual(["segment.vip", "segment.vip.started"])
    expect(["segment.vip.entry", "segment.vip.exit", "email.opened"].filter(EventFacts.readable)).toEqual([])
  })

  it("keeps recent times per name as `keep` says", () => {
    const facts = EventFacts.fold(
      [tracked("a", T), tracked("b", T), tracked("a", T + 1), tracked("b", T + 1), tracked("a", T + 2)],
      (name) => (name === "a" ? 2 : 0)
    )
    expect(EventFacts.get(facts, "a")!.recent).toEqual([T + 1, T + 2])
    expect(EventFacts.get(facts, "b")!.recent).toEqual([])
  })

  it("goes on from the facts given, without changing them", () => {
    const before = EventFacts.fold([tracked("a", T)])
    const after = EventFacts.fold([tracked("a", T + 1)], EventFacts.keepNone, before)
    expect(EventFacts.get(before, "a")!.count).toBe(1)
    expect(EventFacts.get(after, "a")).toMatchObject({ count: 2, firstAt: T, lastAt: T + 1 })
  })

  it("erasure and creation start over", () => {
    const before = EventFacts.fold([tracked("a", T)])
    expect(
      EventFacts.fold([ContactEvent.ContactErased.make({ contactId: "c", at: new Date(T + 1) })], undefined, before)
    )
      .toEqual({})
    expect(EventFacts.fold([created(T + 2), tracked("b", T + 2)], undefined, before)).toEqual({
      b: { count: 1, firstAt: T + 2, lastAt: T + 2, recent: [] }
    })
  })

  it("events with no visible name give back the same facts", () => {
    const facts = EventFacts.fold([tracked("a", T)])
    expect(
      EventFacts.fold(
        [ContactEvent.ContactDataChanged.make({ set: {}, unset: ["x"], at: new Date(T) })],
        undefined,
        facts
      )
    ).toBe(facts)
  })

  it.prop(
    "the facts are the count, min, max and latest `keep` times of the events, whatever their order",
    [
      FastCheck.array(FastCheck.tuple(FastCheck.constantFrom("a", "b"), FastCheck.integer({ min: 0, max: 50 })), {
        maxLength: 30
      }),
      FastCheck.integer({ min: 0, max: 5 })
    ],
    ([events, keep]) => {
      const facts = EventFacts.fold(events.map(([name, dt]) => tracked(name, T + dt)), () => keep)
      for (const name of ["a", "b"]) {
        const times = events.filter(([n]) => n === name).map(([, dt]) => T + dt)
        if (times.length === 0) {
          expect(EventFacts.get(facts, name)).toBeUndefined()
          continue
        }
        const sorted = [...times].sort((x, y) => x - y)
        // The latest `keep` times in time order: a time dropped once never comes back, so an
        // older time arriving after the window filled is not among them.
        const expected: Array<number> = []
        for (const at of times) {
          expected.push(at)
          expected.sort((x, y) => x - y)
          if (expected.length > keep) expected.shift()
        }
        expect(EventFacts.get(facts, name)).toEqual({
          count: times.length,
          firstAt: sorted[0],
          lastAt: sorted[sorted.length - 1],
          recent: expected
        })
        // In time order, that is exactly the latest `keep` times of all.
        const inOrder = EventFacts.fold(sorted.map((at) => tracked(name, at)), () => keep)
        expect(EventFacts.get(inOrder, name)!.recent).toEqual(keep === 0 ? [] : sorted.slice(-keep))
      }
    }
  )
})
