/**
 * Every "behaviour §N" a comment, test or doc cites names a section of docs/behaviour.md, so a
 * fresh clone can resolve all of them; and nothing still cites the old spec file that lived outside the repo.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "../../..")
const behaviour = Fs.readFileSync(Path.join(root, "docs/behaviour.md"), "utf8")

// "## 1. …" and "### 1.5 …" headings: their numbers are the citable sections.
const sections = new Set([...behaviour.matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? /gm)].map((m) => m[1]!))

// Tracked files only (git knows them), so build output and node_modules never count.
const tracked = execFileSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8" })
  .split("\0")
  .filter((f) => /\.(ts|mjs|js|md)$/.test(f) && f !== "README.md" && Fs.existsSync(Path.join(root, f)))
const sources = tracked.map((file) => ({ file, text: Fs.readFileSync(Path.join(root, file), "utf8") }))

describe("behaviour references", () => {
  it("docs/behaviour.md has every section from §1 to §9", () => {
    for (let n = 1; n <= 9; n++) expect(sections.has(String(n))).toBe(true)
    for (let n = 1; n <= 7; n++) expect(sections.has(`1.${n}`)).toBe(true)
  })

  it("every cited behaviour section exists", () => {
    const missing: Array<string> = []
    for (const { file, text } of sources) {
      // "behaviour §1.2, §1.3" and "§1–§3" cite every number after the first "behaviour".
      for (const m of text.matchAll(/behaviour (§\d+(?:\.\d+)?(?:(?:, |–| and )§\d+(?:\.\d+)?)*)/g)) {
        for (const ref of m[1]!.matchAll(/§(\d+(?:\.\d+)?)/g)) {
          if (!sections.has(ref[1]!)) missing.push(`${file}: §${ref[1]}`)
        }
      }
    }
    expect(missing).toEqual([])
  })

  it("nothing cites the out-of-repo SPEC", () => {
    // Spelled in pieces, so this file does not match itself.
    const old = new RegExp(["SPEC", " §|shared/", "SPEC", "\\.md"].join(""))
    const stale = sources.filter(({ text }) => old.test(text)).map(({ file }) => file)
    expect(stale).toEqual([])
  })

  it("every Lives in line names files that exist, never a directory", () => {
    const wrong: Array<string> = []
    const lines = [...behaviour.matchAll(/^Lives in: ([\s\S]*?)(?:\n\n|$)/gm)].map((m) => m[1]!)
    expect(lines.length).toBeGreaterThanOrEqual(10)
    for (const line of lines) {
      const paths = [...line.matchAll(/`((?:packages|docs|examples)\/[^`]*)`/g)].map((m) => m[1]!)
      if (paths.length === 0) wrong.push(`names no file: ${line.slice(0, 60)}…`)
      for (const path of paths) {
        const full = Path.join(root, path)
        if (!Fs.existsSync(full) || !Fs.statSync(full).isFile()) wrong.push(`not a file: ${path}`)
      }
    }
    expect(wrong).toEqual([])
  })
})
