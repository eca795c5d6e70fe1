// Latency at one fixed offered load for both: half the baseline's measured maximum (issue 14: at
// the same offered rate, our p99 no higher than the baseline's), ours and the baseline side by
// side. The maximum comes from wrk; the fixed-rate load from bench/lib/openload.c (open model:
// requests go out on schedule whatever the answers, latency counts from the time a request was
// due, a warm-up is left out), compiled on first use with the system C compiler.
import { cpuMillis, freshDatabase, median, openload, startServer, wrk } from "./lib/common.mjs"

const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)

const maxRate = (server) => {
  wrk({ base: server.base, key: "pk_bench", seconds: 2 })
  return wrk({ base: server.base, key: "pk_bench", seconds }).rps
}

// Rounds alternate between the two servers; each figure is the median of its rounds.
const measure = async (name, ours, baseline) => {
  // The same offered rate for both, so the p99s compare: half of what the baseline can do.
  const rate = Math.floor(maxRate(baseline) / 2)
  const rates = { ours: rate, baseline: rate }
  const runs = { ours: [], baseline: [] }
  for (let r = 0; r < rounds; r++) {
    for (const who of ["ours", "baseline"]) {
      const server = who === "ours" ? ours : baseline
      const cpu = cpuMillis(server.pid)
      const started = performance.now()
      const run = openload({
        base: server.base,
        key: "pk_bench",
        rate: rates[who],
        seconds: Math.max(seconds, 8),
        warmup: 2
      })
      // How busy the rate kept the server (all its threads): near 100%, p99 is mostly queueing.
      run.busy = cpu === undefined ? undefined : (cpuMillis(server.pid) - cpu) / (performance.now() - started)
      runs[who].push(run)
    }
  }
  const line = (who) => {
    const p50 = median(runs[who].map((x) => x.p50_us)) / 1000
    const p99 = median(runs[who].map((x) => x.p99_us)) / 1000
    const p999 = median(runs[who].map((x) => x.p999_us)) / 1000
    const busy = runs[who][0].busy === undefined
      ? ""
      : ` (server busy ${(100 * median(runs[who].map((x) => x.busy))).toFixed(0)}% of a core)`
    return `at ${rates[who]} req/s${busy}: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, p99.9 ${
      p999.toFixed(1)
    } ms → p99/p50 ${(p99 / p50).toFixed(2)}×`
  }
  console.log(`latency, ${name}: tracklog ${line("ours")}; baseline ${line("baseline")}`)
  // The target (issue 14): at the same offered rate, our p99 no higher than the baseline's.
  const p99 = (who) => median(runs[who].map((x) => x.p99_us)) / 1000
  console.log(`latency, ${name}: p99 ${(p99("ours") / p99("baseline")).toFixed(2)}× the baseline's (target ≤ 1)`)
}

// BENCH_LATENCY=postgres (or memory) runs one half alone.
const only = process.env.BENCH_LATENCY

export const run = async () => {
  if (only !== "postgres") {
    const ours = await startServer(["packages/http/dist/main.js"], {
      TRACKLOG_STORE: "memory",
      TRACKLOG_PROJECT_KEYS: "pk_bench:sk_bench"
    })
    const baseline = await startServer(["bench/baselines/bare-http.mjs"])
    try {
      await measure("memory store vs bare node:http", ours, baseline)
    } finally {
      await ours.stop()
      await baseline.stop()
    }
  }
  if (only === "memory") return
  const dbA = await freshDatabase("lat_ours")
  const dbB = await freshDatabase("lat_base")
  const ours = await startServer(["packages/http/dist/main.js"], {
    DATABASE_URL: dbA.url,
    TRACKLOG_PROJECT_KEYS: "pk_bench:sk_bench"
  })
  const baseline = await startServer(["bench/baselines/pg-http.mjs"], { DATABASE_URL: dbB.url })
  try {
    await measure("Postgres store vs node:http + pg", ours, baseline)
  } finally {
    await ours.stop()
    await baseline.stop()
    await dbA.drop()
    await dbB.drop()
  }
}
