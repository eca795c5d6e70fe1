import { execFileSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import * as V8Flags from "../src/internal/v8Flags.js"

const stores = ["memory", "postgres", "embedded"] as const

describe("V8Flags.forStore", () => {
  it("turns allocation-site pretenuring off on every store, bounds heap growth on the database-backed ones, and tunes the embedded one's memory", () => {
    for (const store of stores) {
      expect(V8Flags.forStore(store)).toContain("--no-allocation-site-pretenuring")
    }
    expect(V8Flags.forStore("postgres")).toContain("--heap-growing-percent=100")
    expect(V8Flags.forStore("postgres")).not.toContain("--no-liftoff")
    expect(V8Flags.forStore("memory")).not.toContain("--heap-growing-percent=100")
    expect(V8Flags.forStore("embedded")).toEqual(
      expect.arrayContaining(["--heap-growing-percent=100", "--no-liftoff"])
    )
  })

  // `v8.setFlagsFromString` ignores a flag V8 does not know; `node` refuses it (exit 9).
  it("names only flags this node's V8 knows", () => {
    const flags = [...new Set(stores.flatMap(V8Flags.forStore))]
    for (const flag of flags) {
      expect(() => execFileSync(process.execPath, [flag, "-e", "0"], { stdio: "pipe" }), flag).not.toThrow()
    }
    expect(() => execFileSync(process.execPath, ["--no-allocation-site-pretenuringx", "-e", "0"], { stdio: "pipe" }))
      .toThrow()
  })
})
