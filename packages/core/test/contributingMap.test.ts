/**
 * CONTRIBUTING.md's map of the code is complete and true: each package's table lists every public
 * module of `packages/<package>/src` (`internal/` excluded; `testing/` modules as `testing/Name`),
 * and names no module that does not exist. A new module gets its row with its role.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "../../..")
const contributing = Fs.readFileSync(Path.join(root, "CONTRIBUTING.md"), "utf8")

// The public modules of a package: `src/*.ts` and `src/testing/*.ts`, never `src/internal/`.
const modulesOf = (pkg: string): Array<string> => {
  const src = Path.join(root, "packages", pkg, "src")
  const names = (dir: string, prefix: string) =>
    Fs.existsSync(dir)
      ? Fs.readdirSync(dir, { withFileTypes: true })
        .filter((entry) => entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts"))
        .map((entry) => prefix + entry.name.slice(0, -".ts".length))
      : []
  return [...names(src, ""), ...names(Path.join(src, "testing"), "testing/")].sort()
}

// The modules a package's table names: the first cell of each row under its `### \`packages/<pkg>\``
// heading, up to the next heading.
const listedIn = (pkg: string): Array<string> | undefined => {
  const heading = new RegExp("^### `packages/" + pkg + "`", "m").exec(contributing)
  if (heading === null) return undefined
  const rest = contributing.slice(heading.index + heading[0].length)
  const next = rest.search(/^#{2,3} /m)
  const section = next === -1 ? rest : rest.slice(0, next)
  return [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!).sort()
}

/** What a table gets wrong against the modules on disk. */
const mismatch = (listed: ReadonlyArray<string>, modules: ReadonlyArray<string>) => ({
  missing: modules.filter((m) => !listed.includes(m)),
  noSuchModule: listed.filter((m) => !modules.includes(m)),
  twice: listed.filter((m, i) => listed.indexOf(m) !== i)
})

const packages = Fs.readdirSync(Path.join(root, "packages"), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && Fs.existsSync(Path.join(root, "packages", entry.name, "src")))
  .map((entry) => entry.name)

describe("CONTRIBUTING.md's map of the modules", () => {
  it("has a section for every package", () => {
    expect(packages.length).toBeGreaterThanOrEqual(5)
    expect(packages.filter((pkg) => listedIn(pkg) === undefined)).toEqual([])
  })

  for (const pkg of packages) {
    it(`lists every public module of packages/${pkg}, once, and no other`, () => {
      expect(mismatch(listedIn(pkg) ?? [], modulesOf(pkg))).toEqual({ missing: [], noSuchModule: [], twice: [] })
    })
  }

  it("can fail: a module missing from a table, a row naming none, a row twice", () => {
    expect(mismatch(["Contact", "Gone", "Contact"], ["Contact", "New"])).toEqual({
      missing: ["New"],
      noSuchModule: ["Gone"],
      twice: ["Contact"]
    })
  })

  it("reads the tables and the modules as they are: public modules only, testing/ ones by path", () => {
    expect(listedIn("core")).toContain("Timestamp")
    expect(listedIn("core")).toContain("testing/StoreContract")
    expect(modulesOf("core")).toContain("testing/StoreContract")
    expect(modulesOf("core").filter((m) => m.startsWith("internal"))).toEqual([])
    expect(listedIn("no-such-package")).toBeUndefined()
  })
})
