import { describe, expect, it } from "@effect/vitest"
import * as Ids from "@tracklog/core/Ids"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"

// RFC 9562 §5.7, as plainly as possible: the model the fast formatter must match.
const reference = (millis: number, random: Uint8Array) => {
  const bytes = [
    ...BigInt(millis).toString(16).padStart(12, "0").match(/../g)!.map((h) => parseInt(h, 16)),
    ...random.slice(0, 10)
  ]
  bytes[6] = 0x70 | (bytes[6]! & 0x0f)
  bytes[8] = 0x80 | (bytes[8]! & 0x3f)
  const hex = bytes.map((b) => b.toString(16).padStart(2, "0")).join("")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

describe("Ids", () => {
  it.prop("uuidv7 writes the time, the version, the variant and the random bits where RFC 9562 puts them", [
    FastCheck.integer({ min: 0, max: 2 ** 48 - 1 }),
    FastCheck.uint8Array({ minLength: 10, maxLength: 10 })
  ], ([millis, random]) => {
    const id = Ids.uuidv7(millis, random)
    expect(id).toBe(reference(millis, random))
    expect(Ids.isUuid(id)).toBe(true)
    expect(id[14]).toBe("7")
    expect("89ab").toContain(id[19])
  })

  it("ids sort by the time they were made", () => {
    const random = new Uint8Array(10).fill(0xff)
    const zero = new Uint8Array(10)
    const times = [0, 1, 255, 256, 1_700_000_000_000, 1_700_000_000_001, 2 ** 48 - 1]
    const ids = times.map((t, i) => Ids.uuidv7(t, i % 2 ? random : zero))
    expect([...ids].sort()).toEqual(ids)
  })

  it.effect("the default layer makes distinct ids", () =>
    Effect.gen(function*() {
      const ids = yield* Ids.Ids
      const made = new Set(Array.from({ length: 5000 }, () => ids.make(1_700_000_000_000)))
      expect(made.size).toBe(5000)
      for (const id of made) expect(Ids.isUuid(id)).toBe(true)
    }).pipe(Effect.provide(Ids.layer)))
})
