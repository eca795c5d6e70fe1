import { describe, expect, it } from "vitest"
import * as PerTurn from "../src/internal/perTurn.js"

describe("perTurn", () => {
  it("delivers a turn's items in one batch at its end, and a later turn's in another", async () => {
    const batches: Array<ReadonlyArray<number>> = []
    const queue = PerTurn.make<number>((batch) => batches.push(batch))
    queue.add(1)
    queue.add(2)
    expect(batches).toEqual([])
    await new Promise((resolve) => setImmediate(resolve))
    queue.add(3)
    await new Promise((resolve) => setImmediate(resolve))
    expect(batches).toEqual([[1, 2], [3]])
  })

  it("flush delivers at once, and nothing is delivered twice or empty", async () => {
    const batches: Array<ReadonlyArray<string>> = []
    const queue = PerTurn.make<string>((batch) => batches.push(batch))
    queue.add("a")
    queue.flush()
    expect(batches).toEqual([["a"]])
    queue.flush()
    queue.add("b")
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    expect(batches).toEqual([["a"], ["b"]])
  })
})
