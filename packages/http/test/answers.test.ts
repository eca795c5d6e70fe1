import { describe, expect, it } from "vitest"
import * as Answers from "../src/internal/answers.js"

describe("answers", () => {
  it("writes what was queued in one turn together, in order, after the turn's other work", async () => {
    const answers = Answers.make()
    const log: Array<string> = []
    answers.write({ write: () => log.push("a") })
    answers.write({ write: () => log.push("b") })
    queueMicrotask(() => log.push("microtask"))
    log.push("sync")
    expect(log).toEqual(["sync"])
    await new Promise((resolve) => setImmediate(resolve))
    expect(log).toEqual(["sync", "microtask", "a", "b"])
    // A later turn gets its own batch.
    answers.write({ write: () => log.push("c") })
    await new Promise((resolve) => setImmediate(resolve))
    expect(log).toEqual(["sync", "microtask", "a", "b", "c"])
  })

  it("one write that throws does not keep the others from being written", async () => {
    const answers = Answers.make()
    const log: Array<string> = []
    answers.write({ write: () => log.push("a") })
    answers.write({
      write: () => {
        throw new Error("socket gone")
      }
    })
    answers.write({ write: () => log.push("c") })
    await new Promise((resolve) => setImmediate(resolve))
    expect(log).toEqual(["a", "c"])
  })
})
