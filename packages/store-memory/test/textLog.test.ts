import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as TextLog from "../src/internal/textLog.js"

describe("TextLog", () => {
  it.prop("reads back every JSON text as appended, across chunks", [
    FastCheck.array(
      FastCheck.oneof(FastCheck.fullUnicodeString(), FastCheck.string({ unit: "binary" }), FastCheck.json()),
      { maxLength: 200 }
    ),
    FastCheck.integer({ min: 1, max: 400 })
  ], ([values, repeat]) => {
    // Repeated so that the texts fill several 1 MiB chunks; lone surrogates arrive escaped, as
    // JSON.stringify writes them.
    const texts = Array.from(
      { length: repeat },
      (_, i) => values.map((v) => JSON.stringify([i, v.repeat(1 + (i % 50))]))
    ).flat()
    const log = TextLog.make()
    for (const text of texts) log.append(text)
    expect(log.size()).toBe(texts.length)
    texts.forEach((text, i) => expect(log.get(i)).toBe(text))
  }, { fastCheck: { numRuns: 30 } })

  it("a text larger than a chunk gets a chunk of its own, between ordinary ones", () => {
    const log = TextLog.make()
    const large = JSON.stringify("é€𝄞".repeat(400_000))
    for (const text of ["[1]", large, "[2]", large, "[3]"]) log.append(text)
    expect([0, 1, 2, 3, 4].map(log.get)).toEqual(["[1]", large, "[2]", large, "[3]"])
  })

  it("texts that start or end with a byte order mark keep it", () => {
    const log = TextLog.make()
    for (const text of ["\ufeff[1]", "\ufeff", "[2]\ufeff"]) log.append(text)
    expect([0, 1, 2].map(log.get)).toEqual(["\ufeff[1]", "\ufeff", "[2]\ufeff"])
  })

  it("an index it does not hold is a RangeError", () => {
    const log = TextLog.make()
    log.append("a")
    for (const index of [-1, 1, 0.5, NaN]) expect(() => log.get(index)).toThrow(RangeError)
  })

  it("overwrite replaces a text and zeroes every byte it held, leaving its neighbours as they were", () => {
    const log = TextLog.make()
    const secret = JSON.stringify({ email: "secret-marker-7f3a@example.com", data: "é€𝄞 secret" })
    for (const text of ["[1]", secret, "[3]"]) log.append(text)
    log.overwrite(1, "{}")
    expect([0, 1, 2].map(log.get)).toEqual(["[1]", "{}", "[3]"])
    const held = log.buffers().map((b) => Buffer.from(b).toString("latin1")).join("")
    expect(held).not.toContain("secret-marker-7f3a")
    expect(held).not.toContain("secret")
    expect(held).toContain("[1]{}")
    expect(held).toMatch(/\[1\]\{\}\0{40,}\[3\]/)
    expect(() => log.overwrite(1, "a text longer than the two bytes left")).toThrow(RangeError)
    expect(log.get(1)).toBe("{}")
  })
})
