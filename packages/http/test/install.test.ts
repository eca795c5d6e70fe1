/**
 * The packages install outside the workspace: each is built and packed (`pnpm pack`), the
 * tarballs are installed offline into a fresh project in a temp dir, and a small program is
 * type-checked with tsc against their `.d.ts` and run against their `dist/`.
 */
import { execFile } from "node:child_process"
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, expect, it } from "vitest"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..")
const packages = ["core", "store-memory", "store-postgres", "webhooks", "http"]
const dir = mkdtempSync(join(tmpdir(), "tracklog-install-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// Asynchronous: a synchronous child would block the test worker's RPC with vitest for minutes.
const run = (command: string, args: Array<string>, cwd: string) =>
  new Promise<string>((resolve, reject) =>
    execFile(
      command,
      args,
      { cwd, encoding: "utf8", env: { ...process.env, CI: "true" }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`${command} ${args.join(" ")} failed:\n${stdout}\n${stderr}`)) : resolve(stdout)
    )
  )

// The versions the workspace installed, so the offline install finds them in the local store.
const versionOf = (name: string) => {
  const require = createRequire(join(root, "packages/http/package.json"))
  return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), "utf8")) as { version: string }).version
}

it("packed tarballs install offline in a fresh project, type-check and run", async () => {
  // The libraries only (tsc): the server bundle that other tests build and run is left alone.
  await run("pnpm", ["-r", "--filter", "./packages/**", "exec", "tsc", "-p", "tsconfig.build.json"], root)
  const tarballs: Record<string, string> = {}
  for (const name of packages) {
    await run("pnpm", ["pack", "--pack-destination", dir], join(root, "packages", name))
  }
  for (const file of readdirSync(dir)) {
    const m = /^tracklog-(.+)-\d+\.\d+\.\d+\.tgz$/.exec(file)
    if (m) tarballs[`@tracklog/${m[1]}`] = `file:${join(dir, file)}`
  }
  expect(Object.keys(tarballs).sort()).toEqual(packages.map((p) => `@tracklog/${p}`).sort())

  const app = join(dir, "app")
  mkdirSync(join(app, "src"), { recursive: true })
  const peers = ["effect", "@effect/platform", "@effect/sql", "@effect/sql-pg", "@effect/experimental"]
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify(
      {
        name: "embedder",
        private: true,
        type: "module",
        dependencies: { ...tarballs, ...Object.fromEntries(peers.map((p) => [p, versionOf(p)])) },
        devDependencies: { "@types/node": versionOf("@types/node") },
        // The packed packages name each other by version; here they come from the tarballs.
        pnpm: { overrides: tarballs }
      },
      null,
      2
    )
  )
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify(
      {
        compilerOptions: {
          target: "ES2022",
          lib: ["ES2022"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          exactOptionalPropertyTypes: true,
          types: ["node"],
          // @effect/sql-pg's own .d.ts imports "pg" without shipping its types: as any Effect app does.
          skipLibCheck: true,
          outDir: "out",
          rootDir: "src"
        },
        include: ["src"]
      },
      null,
      2
    )
  )
  copyFileSync(join(root, "packages/http/test/install/program.ts"), join(app, "src/program.ts"))

  const install = [
    "install",
    "--ignore-workspace",
    "--config.auto-install-peers=false",
    "--config.strict-peer-dependencies=false"
  ]
  // Offline from the local store when its metadata cache has every package; a store filled by a
  // frozen-lockfile install lacks that metadata, and then only metadata is fetched, never tarballs.
  await run("pnpm", [...install, "--offline"], app).catch((error: Error) => {
    if (!error.message.includes("ERR_PNPM_NO_OFFLINE_META")) throw error
    return run("pnpm", [...install, "--prefer-offline"], app)
  })
  await run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], app)
  const output = JSON.parse((await run(process.execPath, ["out/program.js"], app)).trim().split("\n").at(-1)!)
  expect(output).toEqual({
    email: "ada@example.com",
    status: 200,
    success: true,
    blocked: "ERR_PACKAGE_PATH_NOT_EXPORTED",
    postgresLayer: "function"
  })
  // What an installed package holds: its dist and sources, never its tests.
  const files = readdirSync(join(app, "node_modules/@tracklog/http"))
  expect(files).toContain("dist")
  expect(files).not.toContain("test")
}, 240_000)
