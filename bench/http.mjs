// HTTP benchmarks: our server against a baseline, alternating A/B, medians of rounds. Every line
// gives req/s and the CPU µs per request of the server process and of its PostgreSQL backends
// (from /proc): on this shared machine CPU per request is far steadier than req/s.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  cpuMeter,
  cpuMillis,
  describeRun,
  ensureOpenload,
  freshDatabase,
  median,
  openloadAsync,
  requestsSent,
  rssMb,
  startServer,
  warm,
  wrk
} from "./lib/common.mjs"

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const seconds = Number(process.env.BENCH_SECONDS ?? 5)

const medianRun = (runs) => ({
  rps: median(runs.map((r) => r.rps)),
  p50: median(runs.map((r) => r.p50)),
  p99: median(runs.map((r) => r.p99)),
  serverUs: runs[0].serverUs === undefined ? undefined : median(runs.map((r) => r.serverUs)),
  dbUs: runs[0].dbUs === undefined ? undefined : median(runs.map((r) => r.dbUs))
})

/** `a` and `b`: `{ label, server, database? }`. Warms both, then alternates rounds. */
/** `warmSeconds`: one fixed warm-up run of that many seconds each, instead of runs until the figures settle. */
export const compare = (
  { name, a, b, key = "pk_bench", emails = 1000, connections = 50, keyB = key, warmSeconds }
) => {
  const load = (side, k) => ({
    base: side.server.base,
    key: k,
    emails,
    connections,
    cpu: cpuMeter({ pid: side.server.pid, database: side.database })
  })
  const fixed = (options) => (wrk({ ...options, seconds: warmSeconds }), `1×${warmSeconds}`)
  const warmA = warmSeconds === undefined ? `${warm(load(a, key))}×2` : fixed(load(a, key))
  const warmB = warmSeconds === undefined ? `${warm(load(b, keyB))}×2` : fixed(load(b, keyB))
  const ra = []
  const rb = []
  for (let i = 0; i < rounds; i++) {
    ra.push(wrk({ ...load(a, key), seconds }))
    rb.push(wrk({ ...load(b, keyB), seconds }))
    const bad = ra[i].non2xx + rb[i].non2xx
    if (bad > 0) throw new Error(`${name}: non-2xx answers (${a.label} ${ra[i].non2xx}, ${b.label} ${rb[i].non2xx})`)
  }
  const ma = medianRun(ra)
  const mb = medianRun(rb)
  const ratio = ma.rps / mb.rps
  // Each round too: a median hides whether one side was slow throughout or in one round.
  const each = (runs) =>
    runs.map((r) => `${r.rps.toFixed(0)}${r.dbUs === undefined ? "" : `/${r.dbUs.toFixed(0)}`}`).join(", ")
  console.log(
    `  rounds (req/s${ra[0].dbUs === undefined ? "" : " / db µs"}): ${a.label} ${each(ra)}; ${b.label} ${each(rb)}`
  )
  // Machine CPU per request, server and database together, the baseline's over ours: steadier
  // than req/s when other work shares the machine.
  const total = (r) => r.serverUs === undefined ? undefined : r.serverUs + (r.dbUs ?? 0)
  const cpuRatio = total(ma) === undefined || total(mb) === undefined ? undefined : total(mb) / total(ma)
  console.log(
    `${name} [${
      emails === "new" ? "new emails" : `${emails} emails`
    }, wrk -t1 -c${connections}, warm-up ${warmA} s / ${warmB} s]: ` +
      `${a.label} ${describeRun(ma)}, p50 ${ma.p50.toFixed(2)} ms; ${b.label} ${describeRun(mb)}, p50 ${
        mb.p50.toFixed(2)
      } ms → ratio ${ratio.toFixed(2)}×${
        cpuRatio === undefined
          ? ""
          : cpuRatio >= 1
          ? ` (CPU per request ${cpuRatio.toFixed(2)}× less)`
          : ` (CPU per request ${(1 / cpuRatio).toFixed(2)}× more)`
      }`
  )
  return { name, emails, connections, a: ma, b: mb, ratio, cpuRatio }
}

const keys = { TRACKLOG_PROJECT_KEYS: "pk_bench:sk_bench" }

export const memory = async () => {
  const ours = await startServer(["packages/http/dist/main.js"], { TRACKLOG_STORE: "memory", ...keys })
  const baseline = await startServer(["bench/baselines/bare-http.mjs"])
  try {
    const a = { label: "tracklog", server: ours }
    const b = { label: "baseline", server: baseline }
    return [1000, 10_000].map((emails) => compare({ name: "HTTP, memory store vs bare node:http", a, b, emails }))
  } finally {
    await ours.stop()
    await baseline.stop()
  }
}

export const postgres = async () => {
  const dbA = await freshDatabase("ours")
  const dbB = await freshDatabase("base")
  // Ours as `pnpm start` runs it, request log on (issue 14 states its target so); the baseline
  // logs nothing.
  const ours = await startServer(["packages/http/dist/main.js"], { DATABASE_URL: dbA.url, TRACKLOG_LOG: "on", ...keys })
  const baseline = await startServer(["bench/baselines/pg-http.mjs"], { DATABASE_URL: dbB.url })
  const a = { label: "tracklog (request log on)", server: ours, database: dbA.name }
  const b = { label: "node+pg", server: baseline, database: dbB.name }
  const name = "HTTP, Postgres store vs node:http + pg, one transaction per request"
  try {
    return [1000, 10_000, "new"].map((emails) => compare({ name, a, b, emails }))
  } finally {
    await ours.stop()
    await baseline.stop()
    await dbA.drop()
    await dbB.drop()
  }
}

const tracksForRss = Number(process.env.BENCH_RSS_TRACKS ?? 100_000)

// The default store (`pnpm start` with no configuration) against the PostgreSQL store, same run.
export const embedded = async () => {
  const dbB = await freshDatabase("pgstore")
  const dir = mkdtempSync(join(tmpdir(), "tracklog-bench-embedded-"))
  const ours = await startServer(["packages/http/dist/main.js"], {
    TRACKLOG_STORE: "embedded",
    TRACKLOG_DATA_DIR: dir,
    ...keys
  })
  const pgStore = await startServer(["packages/http/dist/main.js"], { DATABASE_URL: dbB.url, ...keys })
  const a = { label: "embedded", server: ours }
  const b = { label: "postgres", server: pgStore, database: dbB.name }
  const name = "HTTP, embedded store vs PostgreSQL store"
  try {
    const results = [50, 4, 1].map((connections) => compare({ name, a, b, emails: 10_000, connections }))
    const [c50, c4, c1] = results
    // The RSS target is stated after 100k tracks: top the embedded server up to that many (the
    // runs above, warm-ups included, count), on the same 10k-email pool.
    while (requestsSent(ours.base) < tracksForRss) {
      wrk({ base: ours.base, key: "pk_bench", emails: 10_000, connections: 50, seconds: 10 })
    }
    console.log(
      `embedded targets: throughput at 50 connections ${c50.ratio.toFixed(2)}× postgres (target ≥ 0.5); ` +
        `p50 at 1 connection ${(c1.a.p50 / c1.b.p50).toFixed(2)}× postgres (target ≤ 2); ` +
        `4 connections ${(c4.a.rps / c1.a.rps).toFixed(2)}× its 1-connection throughput (target ≥ 1); ` +
        `RSS ${rssMb(ours.pid)?.toFixed(0)} MB after ${
          requestsSent(ours.base)
        } tracks (target ≤ 300 MB after 100k tracks)`
    )
    return results
  } finally {
    await ours.stop()
    await pgStore.stop()
    await dbB.drop()
    rmSync(dir, { recursive: true, force: true })
  }
}

// The cost of metrics on the track path (behaviour §9, ≤ 3 %): the same server with TRACKLOG_METRICS on
// against off. On this shared machine req/s moves by tens of percent between rounds, and so does
// the CPU per request under wrk (a closed loop: when the neighbours slow a server down, fewer
// answers share each loop turn and each costs more). So the two servers are loaded side by side,
// at the same time, at the same fixed rate (open model, bench/lib/openload.c): the same moments of
// contention and the same batching for both. The figure is the server's CPU µs per request from
// /proc, per round and as the median of per-round ratios over BENCH_ROUNDS (default 7) rounds of
// BENCH_SECONDS (default 10) at BENCH_RATE req/s each (default 2000). ≤ 3 % meets the target.
export const metrics = async () => {
  ensureOpenload()
  const env = { TRACKLOG_STORE: "memory", TRACKLOG_LOG: "off", ...keys }
  const on = await startServer(["packages/http/dist/main.js"], { ...env, TRACKLOG_METRICS: "on" })
  const off = await startServer(["packages/http/dist/main.js"], { ...env, TRACKLOG_METRICS: "off" })
  const rounds = Number(process.env.BENCH_ROUNDS ?? 7)
  const roundSeconds = Number(process.env.BENCH_SECONDS ?? 10)
  const rate = Number(process.env.BENCH_RATE ?? 2000)
  // Both servers under the same load at once; CPU per completed request of each.
  const sideBySide = async (secs) => {
    const before = [cpuMillis(on.pid), cpuMillis(off.pid)]
    const load = (server) => openloadAsync({ base: server.base, key: "pk_bench", rate, seconds: secs, warmup: 0 })
    const [rOn, rOff] = await Promise.all([load(on), load(off)])
    const usOn = ((cpuMillis(on.pid) - before[0]) * 1000) / rOn.completed
    const usOff = ((cpuMillis(off.pid) - before[1]) * 1000) / rOff.completed
    return { usOn, usOff, ratio: usOn / usOff, p99On: rOn.p99_us / 1000, p99Off: rOff.p99_us / 1000 }
  }
  try {
    // JIT tiers and caches settle: two warm-up rounds, not counted.
    await sideBySide(5)
    await sideBySide(5)
    const runs = []
    for (let i = 0; i < rounds; i++) {
      const run = await sideBySide(roundSeconds)
      runs.push(run)
      console.log(
        `  round ${i + 1}: on ${run.usOn.toFixed(1)} µs, off ${run.usOff.toFixed(1)} µs → ${
          run.ratio.toFixed(3)
        }× (p99 on ${run.p99On.toFixed(2)} ms, off ${run.p99Off.toFixed(2)} ms)`
      )
    }
    const ratio = median(runs.map((r) => r.ratio))
    const usOn = median(runs.map((r) => r.usOn))
    const usOff = median(runs.map((r) => r.usOff))
    console.log(
      `HTTP, memory store, metrics on vs off [side by side, ${rate} req/s each, ${rounds} rounds of ${roundSeconds} s]: ` +
        `server CPU per request, median: on ${usOn.toFixed(1)} µs, off ${usOff.toFixed(1)} µs; ` +
        `median of per-round ratios ${ratio.toFixed(3)}× → overhead ${((ratio - 1) * 100).toFixed(1)} % ` +
        `(target ≤ 3 %; rounds ${Math.min(...runs.map((r) => r.ratio)).toFixed(3)}–${
          Math.max(...runs.map((r) => r.ratio)).toFixed(3)
        }×)`
    )
    return { usOn, usOff, ratio, runs }
  } finally {
    await on.stop()
    await off.stop()
  }
}
