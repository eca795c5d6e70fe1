// HTTP benchmarks: our server against a hand-written baseline, alternating A/B, medians of rounds.
import { freshDatabase, median, startServer, wrk } from "./lib/common.mjs"

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const seconds = Number(process.env.BENCH_SECONDS ?? 5)

const compare = async ({ name, ours, baseline, key }) => {
  // Warm both (JIT, pools, first contacts), then alternate so drift hits both alike.
  wrk({ base: ours.base, key, seconds: 2 })
  wrk({ base: baseline.base, key, seconds: 2 })
  const a = []
  const b = []
  for (let i = 0; i < rounds; i++) {
    const ra = wrk({ base: ours.base, key, seconds })
    const rb = wrk({ base: baseline.base, key, seconds })
    if (ra.non2xx > 0 || rb.non2xx > 0) throw new Error(`${name}: non-2xx answers (ours ${ra.non2xx}, baseline ${rb.non2xx})`)
    a.push(ra.rps)
    b.push(rb.rps)
  }
  const result = { name, ours: median(a), baseline: median(b), ratio: median(a) / median(b), rounds: { ours: a, baseline: b } }
  console.log(`${name}: tracklog ${result.ours.toFixed(0)} req/s, baseline ${result.baseline.toFixed(0)} req/s → ratio ${result.ratio.toFixed(2)}×`)
  return result
}

export const memory = async () => {
  const ours = await startServer(["packages/http/dist/main.js"], { TRACKLOG_STORE: "memory", TRACKLOG_PROJECT_KEYS: "pk_bench:sk_bench" })
  const baseline = await startServer(["bench/baselines/bare-http.mjs"])
  try {
    return await compare({ name: "HTTP, memory store vs bare node:http (wrk -t1 -c50)", ours, baseline, key: "pk_bench" })
  } finally {
    await ours.stop()
    await baseline.stop()
  }
}

export const postgres = async () => {
  const dbA = await freshDatabase("ours")
  const dbB = await freshDatabase("base")
  const ours = await startServer(["packages/http/dist/main.js"], { DATABASE_URL: dbA.url, TRACKLOG_PROJECT_KEYS: "pk_bench:sk_bench" })
  const baseline = await startServer(["bench/baselines/pg-http.mjs"], { DATABASE_URL: dbB.url })
  try {
    return await compare({ name: "HTTP, Postgres store vs node:http + pg, one transaction per request (wrk -t1 -c50)", ours, baseline, key: "pk_bench" })
  } finally {
    await ours.stop()
    await baseline.stop()
    await dbA.drop()
    await dbB.drop()
  }
}

// The cost of metrics on the track path (SPEC §9, ≤ 3 %): the same server with TRACKLOG_METRICS on
// against off. A ratio of 0.97 or more meets the target.
export const metrics = async () => {
  const env = { TRACKLOG_STORE: "memory", TRACKLOG_PROJECT_KEYS: "pk_bench:sk_bench" }
  const ours = await startServer(["packages/http/dist/main.js"], { ...env, TRACKLOG_METRICS: "on" })
  const baseline = await startServer(["packages/http/dist/main.js"], { ...env, TRACKLOG_METRICS: "off" })
  try {
    return await compare({ name: "HTTP, memory store, metrics on vs off (wrk -t1 -c50)", ours, baseline, key: "pk_bench" })
  } finally {
    await ours.stop()
    await baseline.stop()
  }
}
