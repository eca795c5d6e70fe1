import { describe, expect, it } from "@effect/vitest"
import * as Backup from "@tracklog/core/Backup"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as Either from "effect/Either"

const at = new Date("2026-01-02T03:04:05.678Z")
const item = (streamId: string, version: number, event: ContactEvent.ContactEvent, projectId = "p") => ({
  type: "event" as const,
  id: `${streamId}-${version}`,
  streamId,
  projectId,
  version,
  position: "1",
  event: ContactEvent.encode(event)
})
const created = (contactId: string, email: string, projectId = "p") =>
  ContactEvent.ContactCreated.make({ contactId, projectId, email, subscribed: true, at })

describe("Backup.rebuild: the projection an import folds (behaviour §9)", () => {
  it("folds each stream to its contact and its last version", () => {
    const r = Backup.rebuild()
    expect(Either.isRight(r.add(item("a", 1, created("a", "a@x.io"))))).toBe(true)
    expect(Either.isRight(r.add(item("a", 2, ContactEvent.EventTracked.make({ name: "e", data: {}, at }))))).toBe(true)
    const streams = Either.getOrThrow(r.finish())
    expect(streams).toEqual([{
      streamId: "a",
      projectId: "p",
      version: 2,
      contact: expect.objectContaining({ id: "a", email: "a@x.io", version: 2 })
    }])
  })

  it("an event that skips a version is refused; an erasure marker past the last version is not", () => {
    const r = Backup.rebuild()
    r.add(item("a", 1, created("a", "a@x.io")))
    expect(Either.isLeft(r.add(item("a", 3, ContactEvent.EventTracked.make({ name: "e", data: {}, at }))))).toBe(true)
    expect(Either.isRight(r.add(item("a", 7, ContactEvent.ContactErased.make({ contactId: "a", at }))))).toBe(true)
    expect(Either.getOrThrow(r.finish())).toEqual([{ streamId: "a", projectId: "p", version: 7, contact: null }])
  })

  it("two contacts with one email in a project are refused; in two projects they are not", () => {
    const r = Backup.rebuild()
    r.add(item("a", 1, created("a", "same@x.io")))
    r.add(item("b", 1, created("b", "same@x.io", "q"), "q"))
    expect(Either.isRight(r.finish())).toBe(true)
    r.add(item("c", 1, created("c", "same@x.io")))
    expect(Either.isLeft(r.finish())).toBe(true)
  })

  it("an email change frees the old email for another contact", () => {
    const r = Backup.rebuild()
    r.add(item("a", 1, created("a", "old@x.io")))
    r.add(item("a", 2, ContactEvent.ContactEmailChanged.make({ email: "new@x.io", at })))
    r.add(item("b", 1, created("b", "old@x.io")))
    expect(Either.isRight(r.finish())).toBe(true)
  })
})

describe("ContactEvent: what a timeline shows", () => {
  it("visibleTypes are exactly the types visibleName names", () => {
    const samples: ReadonlyArray<ContactEvent.ContactEvent> = [
      created("a", "a@x.io"),
      ContactEvent.SubscriptionChanged.make({ subscribed: false, at }),
      ContactEvent.ContactDataChanged.make({ set: {}, unset: [], at }),
      ContactEvent.ContactEmailChanged.make({ email: "b@x.io", at }),
      ContactEvent.EventTracked.make({ name: "e", data: {}, at }),
      ContactEvent.ContactErased.make({ contactId: "a", at })
    ]
    expect(samples.filter((e) => ContactEvent.visibleName(e) !== undefined).map((e) => e._tag).sort())
      .toEqual([...ContactEvent.visibleTypes].sort())
    expect(samples.map(ContactEvent.visibleName)).toEqual([
      undefined,
      "contact.unsubscribed",
      undefined,
      undefined,
      "e",
      undefined
    ])
  })
})
