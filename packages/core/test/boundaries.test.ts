import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { expect, it } from "vitest"

const src = fileURLToPath(new URL("../src", import.meta.url))
const files = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : []
  })

it("@tracklog/core imports no @effect/platform, no SQL, no Node built-ins, no other workspace package", () => {
  const offenders: Array<string> = []
  for (const file of files(src)) {
    const text = readFileSync(file, "utf8")
    for (const [, specifier] of text.matchAll(/(?<![.\w])(?:from|import)\s*\(?\s*"([^"]+)"/g)) {
      const allowed = specifier!.startsWith(".") || specifier!.startsWith("effect/") ||
        // The testing entry points run under vitest.
        (file.includes("/testing/") && (specifier === "vitest" || specifier === "@effect/vitest"))
      if (!allowed) offenders.push(`${file.slice(src.length)}: ${specifier}`)
    }
  }
  expect(offenders).toEqual([])
  expect(files(src).length).toBeGreaterThan(10)
})
