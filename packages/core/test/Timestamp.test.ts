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
