import { describe, expect, it } from "@effect/vitest"
import * as Timestamp from "@tracklog/core/Timestamp"
import * as FastCheck from "effect/FastCheck"

describe("Timestamp", () => {
  // Small millisecond values, so that runs revisit the same instant through other Date objects.
  const instants = FastCheck.array(FastCheck.integer({ min: -3, max: 3 }).map((n) => 1_764_183_000_000 + n), {
    maxLength: 30
  })

  it.prop(
    "iso is toISOString, whatever instants came before",
    [instants, FastCheck.date({ noInvalidDate: true })],
    ([millis, far]) => {
      for (const date of [...millis.map((m) => new Date(m)), far, new Date(millis[0] ?? 0)]) {
        expect(Timestamp.iso(date)).toBe(date.toISOString())
      }
    }
  )

  it("an invalid date throws as toISOString does, and the next valid one still reads right", () => {
    const valid = new Date(1_764_183_000_000)
    expect(Timestamp.iso(valid)).toBe(valid.toISOString())
    expect(() => Timestamp.iso(new Date(NaN))).toThrow(RangeError)
    expect(Timestamp.iso(new Date(1_764_183_000_001))).toBe("2025-11-26T18:50:00.001Z")
    expect(Timestamp.iso(valid)).toBe("2025-11-26T18:50:00.000Z")
  })
})

// Years 1–9999, as `toISOString` writes them without a sign.
const readable = FastCheck.integer({
  min: Date.parse("0001-01-01T00:00:00Z"),
  max: Date.parse("9999-12-31T23:59:59.999Z")
})

describe("Timestamp.parse", () => {
  it.prop("reads every toISOString text back to its instant", [readable], ([millis]) => {
    expect(Timestamp.parse(new Date(millis).toISOString())).toBe(millis)
  })

  it.prop("a date-only text is its UTC midnight", [readable], ([millis]) => {
    const text = new Date(millis).toISOString().slice(0, 10)
    expect(Timestamp.parse(text)).toBe(Date.parse(`${text}T00:00:00.000Z`))
    expect(Timestamp.isDate(text)).toBe(true)
  })

  it("an offset moves the instant, with or without a colon; no offset is UTC", () => {
    const utc = Date.UTC(2025, 0, 31, 10, 30)
    expect(Timestamp.parse("2025-01-31T12:30+02:00")).toBe(utc)
    expect(Timestamp.parse("2025-01-31T05:00:00-0530")).toBe(utc)
    expect(Timestamp.parse("2025-01-31T10:30:00")).toBe(utc)
    expect(Timestamp.parse("2025-01-31T10:30:00.1Z")).toBe(utc + 100)
    expect(Timestamp.parse("2025-01-31T10:30:00,123456Z")).toBe(utc + 123)
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
    ) expect(Timestamp.parse(text), text).toBeNaN()
    expect(Timestamp.parse("2024-02-29")).toBe(Date.UTC(2024, 1, 29))
    expect(Timestamp.isDate("2025-01-31T00:00Z")).toBe(false)
  })

  it("year 0000 is a leap year, as in the proleptic Gregorian calendar ISO-8601 uses", () => {
    expect(Timestamp.parse("0000-02-29")).toBe(Date.parse("0000-02-29T00:00:00Z"))
    expect(Timestamp.parse("1900-02-29")).toBeNaN()
  })
})
