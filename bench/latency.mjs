// Latency at a fixed offered load of half the measured maximum (open model: requests are sent on
// schedule whatever the answers, latency counts from the scheduled time).
import { fixedRate, freshDatabase, startServer, wrk } from "./lib/common.mjs"

const seconds = Number(process.env.BENCH_SECONDS ?? 5)

const measure = async (name, server) => {
  const max = wrk({ base: server.base, key: "pk_bench", seconds }).rps
  const rate = Math.floor(max / 2)
  const r = await fixedRate({ base: server.base, key: "pk_bench", rate, seconds: Math.max(seconds, 5) })
  console.log(`${name}: max ${max.toFixed(0)} req/s; at ${rate} req/s p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms → p99/p50 ${(r.p99 / r.p50).toFixed(2)}× (failures ${r.failures}/${r.sent})`)
  return r
}

export const run = async () => {
  const memory = await startServer(["packages/http/dist/main.js"], { TRACKLOG_STORE: "memory", TRACKLOG_PROJECT_KEYS: "pk_bench:sk_bench" })
  try {
    await measure("latency, memory store", memory)
  } finally {
    await memory.stop()
  }
  const db = await freshDatabase("latency")
  const pgServer = await startServer(["packages/http/dist/main.js"], { DATABASE_URL: db.url, TRACKLOG_PROJECT_KEYS: "pk_bench:sk_bench" })
  try {
    await measure("latency, Postgres store", pgServer)
  } finally {
    await pgServer.stop()
    await db.drop()
  }
}
