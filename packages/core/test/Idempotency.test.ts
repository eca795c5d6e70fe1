import { describe, expect, it } from "@effect/vitest"
import * as Idempotency from "@tracklog/core/Idempotency"

const record: Idempotency.Record = {
  projectId: "p",
  key: "k",
  fingerprint: "f",
  answer: { status: 200, body: "{}" },
  contactIds: ["a", "b"],
  createdAt: new Date("2026-01-02T00:00:00.000Z")
}

describe("Idempotency rules both stores apply", () => {
  it("a record is kept from notBefore on, inclusive (behaviour §6)", () => {
    expect(Idempotency.isLive(record, new Date("2026-01-02T00:00:00.000Z"))).toBe(true)
    expect(Idempotency.isLive(record, new Date("2026-01-01T23:59:59.999Z"))).toBe(true)
    expect(Idempotency.isLive(record, new Date("2026-01-02T00:00:00.001Z"))).toBe(false)
  })

  it("erasing a contact a record names takes it out; erasing the last removes the record (decision 0029)", () => {
    const once = Idempotency.withoutContact(record, "a")
    expect(once).toEqual({ ...record, contactIds: ["b"] })
    expect(Idempotency.withoutContact(once!, "b")).toBeUndefined()
  })

  it("a record that does not name the contact is kept as it is", () =>
    expect(Idempotency.withoutContact(record, "c")).toBe(record))
})
