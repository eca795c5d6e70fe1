// Latency at a fixed offered load of half the measured maximum. The maximum comes from wrk; the
// fixed-rate load from scripts/stress/load.mjs (open model: requests go out on schedule whatever
// the answers, latency counts from the scheduled time, a warm-up is left out).
import { execFileSync } from "node:child_process"
import { freshDatabase, root, startServer, wrk } from "./lib/common.mjs"

const seconds = Number(process.env.BENCH_SECONDS ?? 5)

const maxRate = async (env) => {
  const server = await startServer(["packages/http/dist/main.js"], { TRACKLOG_PROJECT_KEYS: "pk_bench:sk_bench", ...env })
  try {
    wrk({ base: server.base, key: "pk_bench", seconds: 2 })
    return wrk({ base: server.base, key: "pk_bench", seconds }).rps
  } finally {
    await server.stop()
  }
}

const atRate = (store, rate) => {
  let out
  try {
    out = execFileSync(process.execPath, ["scripts/stress/load.mjs", String(Math.max(seconds, 10)), String(rate)], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, LOAD_STORE: store, LOAD_WARMUP_SECONDS: "2", LOAD_CONTACTS: "1000" }
    })
  } catch (error) {
    // The load script fails its own run when the rate is not held; the figures are still wanted here.
    out = error.stdout ?? ""
  }
  const line = out.split("\n").find((l) => l.startsWith("STRESS_RESULT "))
  if (line === undefined) throw new Error(`no result from the load script:\n${out}`)
  const result = JSON.parse(line.slice("STRESS_RESULT ".length))
  return { ...result.figures.load, violations: result.violations }
}

export const run = async () => {
  for (const [name, store, env] of [["memory", "memory", { TRACKLOG_STORE: "memory" }], ["Postgres", "postgres", null]]) {
    let db
    if (env === null) db = await freshDatabase("latency")
    try {
      const max = await maxRate(env ?? { DATABASE_URL: db.url })
      const rate = Math.floor(max / 2)
      const f = atRate(store, rate)
      console.log(
        `latency, ${name} store: max ${max.toFixed(0)} req/s; at ${rate} req/s p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms ` +
          `→ p99/p50 ${(f.p99Ms / f.p50Ms).toFixed(2)}×` +
          (f.violations.length > 0 ? ` (load script: ${f.violations.join("; ")})` : "")
      )
    } finally {
      await db?.drop()
    }
  }
}
