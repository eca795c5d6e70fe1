import { describe, expect, it } from "@effect/vitest"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as SegmentCondition from "@tracklog/core/SegmentCondition"
import * as SegmentNode from "@tracklog/core/SegmentNode"
import * as SegmentRouting from "@tracklog/core/SegmentRouting"
import * as Either from "effect/Either"

const at = new Date("2025-06-15T12:00:00.000Z")

const nodeOf = (...filters: ReadonlyArray<Record<string, unknown>>) => {
  const result = SegmentCondition.decode({ logic: "OR", groups: filters.map((f) => ({ filters: [f] })) })
  if (Either.isLeft(result)) throw new Error(result.left.message)
  return result.right.node
}

const readsOf = (...filters: ReadonlyArray<Record<string, unknown>>) => SegmentRouting.reads(nodeOf(...filters))

const change = (events: ReadonlyArray<ContactEvent.ContactEvent>) => SegmentRouting.changeOf(events)
const tracked = (name: string) => ContactEvent.EventTracked.make({ name, data: {}, at })
const dataChanged = (set: Record<string, string>, unset: Array<string> = []) =>
  ContactEvent.ContactDataChanged.make({ set, unset, at })
const flipped = (subscribed: boolean) => ContactEvent.SubscriptionChanged.make({ subscribed, at })
const created = ContactEvent.ContactCreated.make({
  contactId: "c",
  projectId: "p",
  email: "a@b.co",
  subscribed: true,
  at
})

describe("SegmentRouting.reads", () => {
  it("names the attributes, top-level data keys and event names a condition reads", () => {
    const reads = readsOf(
      { field: "email", operator: "notContains", value: "x" },
      { field: "subscribed", operator: "equals", value: true },
      { field: "createdAt", operator: "greaterThan", value: "2025-01-01" },
      { field: "data.address.city", operator: "equals", value: "Paris" },
      { field: "data.plan", operator: "notExists" },
      { field: "event.signup", operator: "notTriggered" }
    )
    expect([...reads.attributes].sort()).toEqual(["createdAt", "email", "subscribed"])
    expect([...reads.dataKeys].sort()).toEqual(["address", "plan"])
    expect([...reads.events]).toEqual([["signup", 0]])
    expect(reads.timed).toBe(false)
  })

  it("keep is the largest windowed count per event name; a count without a window keeps none", () => {
    const reads = readsOf(
      { field: "event.buy", operator: "triggeredAtLeast", value: 3, within: 7, unit: "days" },
      { field: "event.buy", operator: "triggeredFewerThan", value: 5, within: 1, unit: "days" },
      { field: "event.buy", operator: "triggeredWithin", value: 1, unit: "days" },
      { field: "event.view", operator: "triggeredAtLeast", value: 9 }
    )
    expect(reads.events).toEqual(new Map([["buy", 5], ["view", 0]]))
  })

  it("timed is true exactly when a window appears anywhere", () => {
    const timed: ReadonlyArray<Record<string, unknown>> = [
      { field: "createdAt", operator: "within", value: 1, unit: "days" },
      { field: "updatedAt", operator: "olderThan", value: 1, unit: "days" },
      { field: "data.d", operator: "within", value: 1, unit: "days" },
      { field: "data.d", operator: "olderThan", value: 1, unit: "days" },
      { field: "event.e", operator: "triggeredWithin", value: 1, unit: "days" },
      { field: "event.e", operator: "notTriggeredWithin", value: 1, unit: "days" },
      { field: "event.e", operator: "triggeredOlderThan", value: 1, unit: "days" },
      { field: "event.e", operator: "triggeredAtLeast", value: 2, within: 1, unit: "days" }
    ]
    for (const filter of timed) {
      expect(readsOf({ field: "email", operator: "equals", value: "a" }, filter).timed, JSON.stringify(filter)).toBe(
        true
      )
    }
    expect(
      readsOf(
        { field: "event.e", operator: "triggeredAtLeast", value: 2 },
        { field: "createdAt", operator: "equals", value: "2025-01-01" },
        { field: "data.d", operator: "greaterThan", value: "2025-01-01" }
      ).timed
    ).toBe(false)
  })

  it("reads an inlined reference's condition; a reference left in throws", () => {
    const member = nodeOf({ field: "segment.s", operator: "notMemberOfSegment" })
    expect(() => SegmentRouting.reads(member)).toThrow(/inlined/)
    const inlined = SegmentNode.inline(member, () => nodeOf({ field: "data.plan", operator: "exists" }))
    expect([...SegmentRouting.reads(inlined).dataKeys]).toEqual(["plan"])
  })

  it("combine joins what several conditions read, the largest keep winning", () => {
    const all = SegmentRouting.combine([
      readsOf({ field: "event.buy", operator: "triggeredAtLeast", value: 2, within: 1, unit: "days" }),
      readsOf({ field: "event.buy", operator: "triggeredAtLeast", value: 4, within: 1, unit: "days" }),
      readsOf({ field: "email", operator: "equals", value: "a" }, { field: "data.x", operator: "exists" })
    ])
    expect(all.events).toEqual(new Map([["buy", 4]]))
    expect([...all.attributes]).toEqual(["email"])
    expect([...all.dataKeys]).toEqual(["x"])
    expect(all.timed).toBe(true)
  })
})

describe("SegmentRouting.changeOf", () => {
  it("a new contact's command: created, its data keys, its event", () =>
    expect(change([created, dataChanged({ plan: "pro" }), tracked("signup")])).toEqual({
      ...SegmentRouting.unchanged,
      created: true,
      dataKeys: new Set(["plan"]),
      events: new Set(["signup"]),
      stateChanged: true
    }))

  it("a subscription flip records its visible event name and changes the state", () => {
    expect(change([flipped(false), tracked("e")])).toEqual({
      ...SegmentRouting.unchanged,
      subscriptionChanged: true,
      events: new Set(["contact.unsubscribed", "e"]),
      stateChanged: true
    })
    expect(change([flipped(true)]).events).toEqual(new Set(["contact.subscribed"]))
  })

  it("data keys set and unset are both changes", () =>
    expect(change([dataChanged({ a: "1" }, ["b"])]).dataKeys).toEqual(new Set(["a", "b"])))

  it("a tracked event alone does not change the state (updatedAt stays)", () =>
    expect(change([tracked("e")])).toEqual({ ...SegmentRouting.unchanged, events: new Set(["e"]) }))

  it("erasure is erased", () =>
    expect(change([ContactEvent.ContactErased.make({ contactId: "c", at })])).toEqual({
      ...SegmentRouting.unchanged,
      erased: true
    }))

  it("an event of a type it does not know makes the change unknown", () =>
    expect(change([{ _tag: "ContactRenamed", name: "b", at } as unknown as ContactEvent.ContactEvent]))
      .toMatchObject({ unknown: true }))

  it("an email change changes the email and the contact's state", () =>
    expect(change([ContactEvent.ContactEmailChanged.make({ email: "b@c.de", at })]))
      .toMatchObject({ emailChanged: true, stateChanged: true, unknown: false }))
})

describe("SegmentRouting.affects", () => {
  const byEmail = readsOf({ field: "email", operator: "contains", value: "@example" })
  const bySubscription = readsOf({ field: "subscribed", operator: "equals", value: true })
  const byUpdate = readsOf({ field: "updatedAt", operator: "within", value: 1, unit: "days" })
  const byCreation = readsOf({ field: "createdAt", operator: "within", value: 1, unit: "days" })
  const byCity = readsOf({ field: "data.address.city", operator: "equals", value: "Paris" })
  const byBuy = readsOf({ field: "event.buy", operator: "notTriggered" })
  const byResubscribe = readsOf({ field: "event.contact.subscribed", operator: "triggered" })
  const all = [byEmail, bySubscription, byUpdate, byCreation, byCity, byBuy, byResubscribe]
  const affected = (c: SegmentRouting.Change) => all.map((reads) => SegmentRouting.affects(reads, c))

  it("a created contact affects every segment", () =>
    expect(affected(change([created, tracked("x")]))).toEqual(all.map(() => true)))

  it("an erased contact affects every segment (it leaves them)", () =>
    expect(affected(change([ContactEvent.ContactErased.make({ contactId: "c", at })]))).toEqual(all.map(() => true)))

  it("an unknown change affects every segment", () =>
    expect(affected({ ...SegmentRouting.unchanged, unknown: true })).toEqual(all.map(() => true)))

  it("an email change affects what reads the email, and updatedAt", () =>
    expect(affected({ ...SegmentRouting.unchanged, emailChanged: true, stateChanged: true })).toEqual([
      true,
      false,
      true,
      false,
      false,
      false,
      false
    ]))

  it("a subscription flip affects what reads subscribed, updatedAt, or its event", () => {
    expect(affected(change([flipped(true)]))).toEqual([false, true, true, false, false, false, true])
    expect(affected(change([flipped(false)]))).toEqual([false, true, true, false, false, false, false])
  })

  it("a data change affects what reads that top-level key, and updatedAt", () => {
    expect(affected(change([dataChanged({ address: "x" })]))).toEqual([false, false, true, false, true, false, false])
    expect(affected(change([dataChanged({ plan: "x" })]))).toEqual([false, false, true, false, false, false, false])
  })

  it("a tracked event affects only what reads its name", () => {
    expect(affected(change([tracked("buy")]))).toEqual([false, false, false, false, false, true, false])
    expect(affected(change([tracked("view")]))).toEqual(all.map(() => false))
  })

  it("nothing changed affects nothing", () => expect(affected(SegmentRouting.unchanged)).toEqual(all.map(() => false)))
})
