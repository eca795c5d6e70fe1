// Flat cost as the store grows (issue 14): first tracks of new emails at one connection, p50, on
// a store holding ~1k, ~10k, ~100k and ~1M contacts on the PostgreSQL store (GROWTH_SIZES to
// change) and ~1k, ~10k and ~100k on the embedded one (GROWTH_SIZES_EMBEDDED). The server is restarted on each size, as a user restarting on a
// grown store would; the contacts are bulk-loaded between runs. Target: worst ≤ 1.3× the first.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { cpuMeter, freshDatabase, median, startServer, warm, wrk } from "./lib/common.mjs"
import { seedEmbedded, seedServer } from "./lib/seed.mjs"

const sizesOf = (text) => text.split(",").map(Number)
const sizes = sizesOf(process.env.GROWTH_SIZES ?? "1000,10000,100000,1000000")
const embeddedSizes = sizesOf(process.env.GROWTH_SIZES_EMBEDDED ?? "1000,10000,100000")
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const keys = { TRACKLOG_PROJECT_KEYS: "pk_bench:sk_bench" }

const measure = (server, database) => {
  const load = {
    base: server.base,
    key: "pk_bench",
    emails: "new",
    connections: 1,
    cpu: cpuMeter({ pid: server.pid, database })
  }
  warm(load)
  const runs = Array.from({ length: rounds }, () => wrk({ ...load, seconds }))
  return {
    p50: median(runs.map((r) => r.p50)),
    rps: median(runs.map((r) => r.rps)),
    serverUs: median(runs.map((r) => r.serverUs))
  }
}

const report = (store, results) => {
  const first = results[0].p50
  for (const r of results) {
    console.log(
      `growth, ${store}: ${r.size} contacts: first-track p50 ${r.p50.toFixed(2)} ms at 1 connection (${
        r.rps.toFixed(0)
      } req/s, server ${r.serverUs.toFixed(0)} µs CPU per request) → ${(r.p50 / first).toFixed(2)}× the first size`
    )
  }
  const worst = Math.max(...results.map((r) => r.p50)) / first
  console.log(`growth, ${store}: worst ${worst.toFixed(2)}× the first size (target ≤ 1.3×)`)
}

const grow = async (store, sizes, start, seed) => {
  const results = []
  let have = 0
  for (const size of sizes) {
    await seed(have + 1, size)
    have = size
    const server = await start()
    try {
      results.push({ size, ...measure(server.server, server.database) })
    } finally {
      await server.server.stop()
    }
  }
  report(store, results)
}

export const run = async () => {
  const db = await freshDatabase("growth")
  try {
    // Started once first: the migrations and the bench project exist before the first seed.
    const start = async () => ({
      server: await startServer(["packages/http/dist/main.js"], { DATABASE_URL: db.url, ...keys }),
      database: db.name
    })
    await (await start()).server.stop()
    await grow("PostgreSQL store", sizes, start, (from, to) => seedServer(db.url, from, to))
  } finally {
    await db.drop()
  }
  const dir = mkdtempSync(join(tmpdir(), "tracklog-bench-growth-"))
  try {
    const start = async () => ({
      server: await startServer(["packages/http/dist/main.js"], {
        TRACKLOG_STORE: "embedded",
        TRACKLOG_DATA_DIR: dir,
        ...keys
      })
    })
    await (await start()).server.stop()
    await grow("embedded store", embeddedSizes, start, (from, to) => seedEmbedded(dir, from, to))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
