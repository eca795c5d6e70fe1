/**
 * Short runs of the reliability scripts in scripts/stress/ ("no acknowledged event lost"): kill -9
 * mid-load and restart, database outages, two processes racing on first tracks. Each script
 * exits non-zero and prints `STRESS_RESULT {"ok":false,…}` on any violated guarantee; this file
 * fails then, with the script's output. The long versions: `pnpm stress` (scripts/stress/run.mjs).
 */
import { execFileSync, spawn } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import { connect } from "node:net"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { beforeAll, expect, it } from "vitest"

const packageDir = fileURLToPath(new URL("..", import.meta.url))
const scriptsDir = fileURLToPath(new URL("../../../scripts/stress/", import.meta.url))
const adminUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

interface Outcome {
  readonly code: number | null
  readonly output: string
  readonly result: { ok: boolean; violations: Array<string>; figures: Record<string, unknown> } | undefined
}

const runScript = (name: string, env: Record<string, string>, deadlineMs: number) =>
  new Promise<Outcome>((resolve) => {
    const child = spawn(process.execPath, [join(scriptsDir, `${name}.mjs`)], {
      env: { ...process.env, ...env, STRESS_DEADLINE_MS: String(deadlineMs) },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (c: Buffer) => (output += c.toString()))
    child.stderr.on("data", (c: Buffer) => (output += c.toString()))
    // The script's own deadline cleans up and reports; this one is the last resort.
    const timer = setTimeout(() => child.kill("SIGTERM"), deadlineMs + 30_000)
    child.once("exit", (code) => {
      clearTimeout(timer)
      const line = output.split("\n").find((l) => l.startsWith("STRESS_RESULT "))
      resolve({
        code,
        output,
        result: line === undefined ? undefined : JSON.parse(line.slice("STRESS_RESULT ".length))
      })
    })
  })

const expectPass = (outcome: Outcome) => {
  if (outcome.code !== 0 || outcome.result?.ok !== true) {
    throw new Error(`script failed (exit ${outcome.code}):\n${outcome.output.slice(-8000)}`)
  }
  expect(outcome.result.violations).toEqual([])
  console.log(outcome.output.split("\n").filter((l) => l.startsWith("[")).join("\n"))
}

const reachable = (url: string) =>
  new Promise<boolean>((resolve) => {
    const { hostname, port } = new URL(url)
    const socket = connect({ host: hostname, port: Number(port || 5432) })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(2000, () => done(false))
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
  })

const hasPostgresBinaries = existsSync("/usr/lib/postgresql") &&
  readdirSync("/usr/lib/postgresql").some((v) => existsSync(join("/usr/lib/postgresql", v, "bin", "initdb")))

// Known at collection time, so `runIf` can use it.
const server = await reachable(adminUrl)
if (!server)
  console.warn(`[stress] no PostgreSQL server at ${new URL(adminUrl).host}: crash runs on the embedded Postgres only`)

beforeAll(() => {
  execFileSync(process.execPath, ["build.mjs"], { cwd: packageDir })
}, 120_000)

it(
  "kill -9 mid-load, restart: every acknowledged track is in the log and the projection, nothing half-written",
  async () => {
    const outcome = await runScript("crash", {
      CRASH_BACKENDS: server ? "postgres,embedded" : "embedded",
      CRASH_KILL_MS: "200,600,1500",
      CRASH_CONCURRENCY: "30"
    }, 100_000)
    expectPass(outcome)
    const figures = outcome.result!.figures as Record<
      string,
      { kills: number; acknowledged: number; foundInLog: number }
    >
    for (const backend of Object.values(figures)) {
      expect(backend.kills).toBe(3)
      expect(backend.acknowledged).toBeGreaterThan(0)
      expect(backend.foundInLog).toBe(backend.acknowledged)
    }
  },
  140_000
)

it.skipIf(!hasPostgresBinaries)(
  "database stopped (fast, immediate) under load: 503s in bounded time, recovery, nothing lost",
  async () => {
    const outcome = await runScript("db-faults", {
      FAULT_MODES: "fast,immediate",
      FAULT_UP_MS: "1000",
      FAULT_DOWN_MS: "2000",
      FAULT_STEADY_MS: "1000",
      FAULT_CONCURRENCY: "10"
    }, 90_000)
    expectPass(outcome)
  },
  130_000
)

it.runIf(server)(
  "two processes, concurrent first tracks: one contact per email, every track recorded, no 5xx",
  async () => {
    const outcome = await runScript("two-processes", { TWO_EMAILS: "50", TWO_REQUESTS: "500" }, 90_000)
    expectPass(outcome)
    expect(outcome.result!.figures).toMatchObject({ contacts: 50, tracked: 500, fiveXX: 0 })
  },
  130_000
)

it.runIf(server)(
  "2 000 tracks of ~400 KB contacts for new emails leave a PostgreSQL-backed server under 400 MB of RSS",
  async () => {
    const outcome = await runScript("memory", { MEMORY_TRACKS: "2000", MEMORY_LIMIT_MIB: "400" }, 240_000)
    expectPass(outcome)
    const figures = outcome.result!.figures as { ok: number; rssAfterMiB: number }
    expect(figures.ok).toBe(2000)
    expect(figures.rssAfterMiB).toBeLessThanOrEqual(400)
  },
  300_000
)

it.runIf(server)(
  "kill -9 during batches: every batch is in the log whole or not at all, every acknowledged one whole",
  async () => {
    const outcome = await runScript("batch-crash", { BATCH_KILLS: "3", BATCH_ITEMS: "100" }, 120_000)
    expectPass(outcome)
    const figures = outcome.result!.figures as { acknowledged: number; whole: number; none: number; batches: number }
    expect(figures.acknowledged).toBeGreaterThan(0)
    expect(figures.whole + figures.none).toBe(figures.batches)
  },
  180_000
)
