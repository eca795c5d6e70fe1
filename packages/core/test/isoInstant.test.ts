import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as IsoInstant from "../src/internal/isoInstant.js"

const instants = FastCheck.integer({
  min: Date.parse("0001-01-01T00:00:00Z"),
  max: Date.parse("9999-12-31T23:59:59.999Z")
})

describe("isoInstant.parse", () => {
  it.prop("reads every toISOString text back to its instant", [instants], ([millis]) => {
    expect(IsoInstant.parse(new Date(millis).toISOString())).toBe(millis)
  })

  it.prop("a date-only text is its UTC midnight", [instants], ([millis]) => {
    const text = new Date(millis).toISOString().slice(0, 10)
    expect(IsoInstant.parse(text)).toBe(Date.parse(`${text}T00:00:00.000Z`))
    expect(IsoInstant.isDate(text)).toBe(true)
  })

  it("an offset moves the instant, with or without a colon; no offset is UTC", () => {
    const utc = Date.UTC(2025, 0, 31, 10, 30)
    expect(IsoInstant.parse("2025-01-31T12:30+02:00")).toBe(utc)
    expect(IsoInstant.parse("2025-01-31T05:00:00-0530")).toBe(utc)
    expect(IsoInstant.parse("2025-01-31T10:30:00")).toBe(utc)
    expect(IsoInstant.parse("2025-01-31T10:30:00.1Z")).toBe(utc + 100)
    expect(IsoInstant.parse("2025-01-31T10:30:00,123456Z")).toBe(utc + 123)
  })

  it("anything else is not an instant", () => {
    for (
      const text of [
        "",
        "2025",
        "2025-1-31",
        "2025-02-29",
        "2024-13-01",
        "2025-01-00",
        "2025-01-31T",
        "2025-01-31T24:00Z",
        "2025-01-31T10:60Z",
        "2025-01-31T10:30:60Z",
        "2025-01-31T10:30:00.Z",
        "2025-01-31T10:30:00ZZ",
        "2025-01-31T10:30+2",
        "2025-01-31 10:30Z",
        "31/01/2025",
        "Fri, 31 Jan 2025 10:30:00 GMT"
      ]
    ) expect(IsoInstant.parse(text), text).toBeNaN()
    expect(IsoInstant.parse("2024-02-29")).toBe(Date.UTC(2024, 1, 29))
    expect(IsoInstant.isDate("2025-01-31T00:00Z")).toBe(false)
  })
})
