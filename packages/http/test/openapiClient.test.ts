/**
 * A client generated from the OpenAPI document with openapi-typescript type-checks against
 * examples of the API's requests and answers (fixtures/openapi-client/example.ts, outside the workspace type-check: it imports the generated types).
 */
import { execFile } from "node:child_process"
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, expect, it } from "vitest"
import * as Api from "../src/Api.js"

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, "../../..")
const dir = mkdtempSync(join(tmpdir(), "tracklog-openapi-client-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const run = (command: string, args: Array<string>) =>
  new Promise<string>((resolve, reject) =>
    execFile(
      command,
      args,
      { cwd: dir, encoding: "utf8" },
      (error, stdout, stderr) => error ? reject(new Error(`${args.join(" ")}: ${stdout}\n${stderr}`)) : resolve(stdout)
    )
  )

it("openapi-typescript's client types accept the examples", async () => {
  writeFileSync(join(dir, "openapi.json"), JSON.stringify(Api.openApi()))
  await run(process.execPath, [
    join(here, "../node_modules/openapi-typescript/bin/cli.js"),
    "openapi.json",
    "-o",
    "api.ts"
  ])
  copyFileSync(join(here, "../fixtures/openapi-client/example.ts"), join(dir, "example.ts"))
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        types: []
      },
      files: ["example.ts"]
    })
  )
  await expect(run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"])).resolves
    .toBe("")
}, 120_000)
