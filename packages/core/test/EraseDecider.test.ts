import { describe, expect, it } from "@effect/vitest"
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as EraseDecider from "@tracklog/core/EraseDecider"
import * as Either from "effect/Either"

const projectId = "0190a000-0000-7000-8000-000000000001"
const contactId = "0190a000-0000-7000-8000-000000000002"
const now = new Date("2026-01-02T03:04:05.678Z")
const earlier = new Date("2025-12-31T00:00:00.000Z")
const created = ContactEvent.ContactCreated.make({
  contactId,
  projectId,
  email: "ada@example.com",
  subscribed: true,
  at: earlier
})
const tracked = ContactEvent.EventTracked.make({ name: "e", data: { secret: "value" }, at: earlier })

const given = (events: ReadonlyArray<ContactEvent.ContactEvent>) => ({
  when: (command: EraseDecider.EraseContact, context: EraseDecider.Context = { projectId, now }) =>
    EraseDecider.decide(command, Contact.fold(events), context)
})

describe("decide: erasure (behaviour §7)", () => {
  it("an existing contact is erased with one marker that carries only its id and the time", () => {
    const decided = given([created, tracked]).when({ contactId, suppress: false })
    expect(decided).toEqual(Either.right([ContactEvent.ContactErased.make({ contactId, at: now })]))
    expect(Object.keys(ContactEvent.encode(Either.getOrThrow(decided)[0]!)).sort()).toEqual(["_tag", "at", "contactId"])
  })

  it("suppress does not change the events: the list is the store's, not the log's", () =>
    expect(given([created]).when({ contactId, suppress: true })).toEqual(
      given([created]).when({ contactId, suppress: false })
    ))

  it("no contact → ContactNotFound", () => {
    const decided = given([]).when({ contactId, suppress: false })
    expect(Either.isLeft(decided) && decided.left._tag).toBe("ContactNotFound")
  })

  it("an already erased contact → ContactNotFound", () => {
    const decided = given([created, tracked, ContactEvent.ContactErased.make({ contactId, at: earlier })]).when({
      contactId,
      suppress: false
    })
    expect(Either.isLeft(decided) && decided.left).toMatchObject({ _tag: "ContactNotFound", contactId })
  })

  it("another project's contact → ContactNotFound", () => {
    const decided = given([created]).when({ contactId, suppress: false }, {
      projectId: "0190a000-0000-7000-8000-000000000009",
      now
    })
    expect(Either.isLeft(decided) && decided.left._tag).toBe("ContactNotFound")
  })

  it("a state of another contact → ContactNotFound", () => {
    const decided = given([created]).when({ contactId: "0190a000-0000-7000-8000-000000000003", suppress: false })
    expect(Either.isLeft(decided) && decided.left._tag).toBe("ContactNotFound")
  })
})
