/**
 * A contact as it was (behaviour §5.2): `Contact.asOf` folds the stream's events up to an instant,
 * and `Contacts.findAt` reads the stream from the log to do it.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as Contacts from "@tracklog/core/Contacts"
import * as EventStore from "@tracklog/core/EventStore"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"

const projectId = "0190a000-0000-7000-8000-000000000001"
const otherProject = "0190a000-0000-7000-8000-000000000009"
const contactId = "0190a000-0000-7000-8000-000000000002"
const t = (minute: number) => new Date(Date.UTC(2026, 0, 1, 12, minute))

const created = ContactEvent.ContactCreated.make({
  contactId,
  projectId,
  email: "ada@example.com",
  subscribed: true,
  at: t(0)
})
const unsubscribed = ContactEvent.SubscriptionChanged.make({ subscribed: false, at: t(10) })
const dataChanged = ContactEvent.ContactDataChanged.make({ set: { plan: "pro" }, unset: [], at: t(20) })
const erased = ContactEvent.ContactErased.make({ contactId, at: t(30) })

const recorded = (events: ReadonlyArray<ContactEvent.ContactEvent>, project = projectId) =>
  events.map((event, i): EventStore.RecordedEvent => ({
    id: `0190a000-0000-7000-8000-00000000010${i}`,
    streamId: contactId,
    projectId: project,
    version: i + 1,
    position: BigInt(i + 1),
    transactionId: 1n,
    event
  }))

describe("Contact.asOf", () => {
  const stream = recorded([created, unsubscribed, dataChanged])

  it("folds the events with a time up to and including `at`", () => {
    expect(Contact.asOf(stream, projectId, t(10))).toEqual(Contact.fold([created, unsubscribed]))
    expect(Contact.asOf(stream, projectId, t(15))).toMatchObject({ subscribed: false, data: {}, version: 2 })
  })

  it.prop(
    "at or after the last event it is the contact folded from all of them",
    [FastCheck.integer({ min: 20, max: 10_000 })],
    ([minute]) => {
      expect(Contact.asOf(stream, projectId, t(minute))).toEqual(Contact.fold([created, unsubscribed, dataChanged]))
    }
  )

  it("before the contact existed, none", () => expect(Contact.asOf(stream, projectId, t(-1))).toBeNull())

  it("another project's stream is none, whatever the time", () =>
    expect(Contact.asOf(recorded([created], otherProject), projectId, t(60))).toBeNull())

  it("an empty stream is none", () => expect(Contact.asOf([], projectId, t(60))).toBeNull())

  it("after its erasure, none; before it, the contact", () => {
    const erasedStream = recorded([created, erased])
    expect(Contact.asOf(erasedStream, projectId, t(30))).toBeNull()
    expect(Contact.asOf(erasedStream, projectId, t(29))).toMatchObject({ id: contactId })
  })

  it("each event by its own time: one stamped earlier than the one before it still counts", () => {
    const skewed = recorded([created, ContactEvent.SubscriptionChanged.make({ subscribed: false, at: t(5) }), {
      ...dataChanged,
      at: t(3)
    } as ContactEvent.ContactEvent])
    expect(Contact.asOf(skewed, projectId, t(4))).toMatchObject({ subscribed: true, data: { plan: "pro" } })
  })
})

describe("Contacts.findAt", () => {
  const store = (streams: Record<string, ReadonlyArray<EventStore.RecordedEvent>>) =>
    EventStore.EventStore.of(
      {
        readStream: (id: string) => Effect.succeed(streams[id] ?? [])
      } as unknown as EventStore.EventStore["Type"]
    )

  it.effect("reads the stream from the log and folds it up to `at`", () =>
    Effect.gen(function*() {
      const log = store({ [contactId]: recorded([created, unsubscribed]) })
      const at = (project: string, minute: number) =>
        Contacts.findAt(project, contactId, t(minute)).pipe(Effect.provideService(EventStore.EventStore, log))
      expect(yield* at(projectId, 5)).toEqual(Option.some(Contact.fold([created])))
      expect(yield* at(projectId, -5)).toEqual(Option.none())
      expect(yield* at(otherProject, 5)).toEqual(Option.none())
      expect(
        yield* Contacts.findAt(projectId, "0190a000-0000-7000-8000-00000000000f", t(5)).pipe(
          Effect.provideService(EventStore.EventStore, log)
        )
      ).toEqual(Option.none())
    }))
})
