import { describe, expect, it } from "@effect/vitest"
import * as SegmentSlug from "@tracklog/core/SegmentSlug"
import * as FastCheck from "effect/FastCheck"

const codePoints = (s: string) => [...s].length
const Shape = /^(?:(?:[\p{L}\p{N}]\p{M}*)+(?:-(?:[\p{L}\p{N}]\p{M}*)+)*)?$/u

describe("SegmentSlug.of", () => {
  it("lower-cases, and turns every run of other characters into one -", () => {
    expect(SegmentSlug.of("VIP Customers")).toBe("vip-customers")
    expect(SegmentSlug.of("  Active -- users (30d)  ")).toBe("active-users-30d")
    expect(SegmentSlug.of("a_b.c/d")).toBe("a-b-c-d")
  })

  it("keeps letters of any script, with their accents", () => {
    expect(SegmentSlug.of("Café  au lait!")).toBe("café-au-lait")
    expect(SegmentSlug.of("日本 顧客")).toBe("日本-顧客")
    expect(SegmentSlug.of("Клиенты VIP")).toBe("клиенты-vip")
    expect(SegmentSlug.of("हिन्दी भाषा")).toBe("हिन्दी-भाषा")
    expect(SegmentSlug.of("٣ عملاء")).toBe("٣-عملاء")
  })

  it("is NFC: a decomposed accent gives the same slug as a composed one", () => {
    expect(SegmentSlug.of("Cafe\u0301")).toBe("caf\u00e9")
    expect(SegmentSlug.of("Cafe\u0301")).toBe(SegmentSlug.of("Caf\u00e9"))
  })

  it("drops a combining mark with no letter before it", () => expect(SegmentSlug.of("\u0301abc \u0301")).toBe("abc"))

  it("is empty when the name has no letter or digit", () => {
    expect(SegmentSlug.of("!!!")).toBe("")
    expect(SegmentSlug.of("🎉 🎉")).toBe("")
    expect(SegmentSlug.of("")).toBe("")
  })

  it("is at most 128 code points, cut between characters, with no trailing -", () => {
    expect(SegmentSlug.of("a".repeat(200))).toBe("a".repeat(128))
    expect(SegmentSlug.of(`${"a".repeat(127)} bcd`)).toBe("a".repeat(127))
    expect(SegmentSlug.of("日".repeat(300))).toBe("日".repeat(128))
    // Letters outside the BMP are two UTF-16 units but one code point.
    expect(SegmentSlug.of("𝒜".repeat(130))).toBe("𝒜".repeat(128).toLowerCase())
    // A letter whose marks would not fit is left out whole.
    const accented = `${"a".repeat(127)}e\u0301\u0301`
    expect(SegmentSlug.of(accented)).toBe("a".repeat(127))
  })

  it.prop(
    "any name gives words of letters and digits joined by single -, at most 128 code points, and a slug is its own slug",
    [FastCheck.oneof(FastCheck.string({ unit: "grapheme", maxLength: 160 }), FastCheck.string({ maxLength: 300 }))],
    ([name]) => {
      const slug = SegmentSlug.of(name)
      expect(slug).toMatch(Shape)
      expect(codePoints(slug)).toBeLessThanOrEqual(SegmentSlug.MaxLength)
      expect(SegmentSlug.of(slug)).toBe(slug)
    },
    { fastCheck: { numRuns: 500 } }
  )
})
