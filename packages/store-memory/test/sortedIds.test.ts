import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as SortedIds from "../src/internal/sortedIds.js"

// Short ids from a small alphabet, so that inserts land before, between and after one another.
const ids = FastCheck.uniqueArray(
  FastCheck.string({ unit: FastCheck.constantFrom("0", "1", "a", "f"), maxLength: 4 }),
  {
    maxLength: 60
  }
)

describe("SortedIds", () => {
  it.prop("insert keeps the array sorted, whatever the order ids come in", [ids], ([input]) => {
    const sorted: Array<string> = []
    for (const id of input) SortedIds.insert(sorted, id)
    expect(sorted).toEqual([...input].sort())
  })

  it.prop("firstAbove is where a page after the cursor starts: every id before it is ≤ cursor, every id from it >", [
    ids,
    FastCheck.string({ unit: FastCheck.constantFrom("0", "1", "a", "f"), maxLength: 4 })
  ], ([input, cursor]) => {
    const sorted = [...input].sort()
    const at = SortedIds.firstAbove(sorted, cursor)
    expect(sorted.slice(0, at).every((id) => id <= cursor)).toBe(true)
    expect(sorted.slice(at).every((id) => id > cursor)).toBe(true)
  })

  it.prop("remove takes out exactly that id, and an id the array does not hold changes nothing", [
    ids.filter((a) => a.length > 0),
    FastCheck.nat()
  ], ([input, pick]) => {
    const sorted = [...input].sort()
    const gone = sorted[pick % sorted.length]!
    const left = [...sorted]
    SortedIds.remove(left, gone)
    expect(left).toEqual(sorted.filter((id) => id !== gone))
    SortedIds.remove(left, gone)
    SortedIds.remove(left, "zz-not-there")
    expect(left).toEqual(sorted.filter((id) => id !== gone))
  })

  it("time-ordered ids are appended at the end", () => {
    const sorted = ["01a2", "01a3"]
    SortedIds.insert(sorted, "01a4")
    expect(sorted).toEqual(["01a2", "01a3", "01a4"])
    expect(SortedIds.firstAbove(sorted, "01a3")).toBe(2)
    expect(SortedIds.firstAbove(sorted, "")).toBe(0)
    expect(SortedIds.firstAbove(sorted, "01a4")).toBe(3)
  })
})
