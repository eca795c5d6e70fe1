// Issue 31's workload, as measured from outside: single tracks on a 10k-email pool, 50
// connections, our request log on, one fixed 10 s warm-up per server, against
// 1. the naive server (bench/baselines/naive-http.mjs: node:http, a `pg` pool of 20, a
//    transaction per request with an upsert by email) — target ≥ 3×;
// 2. the same command on Emmett 0.42 (bench/baselines/emmett-http.mjs) — target ≥ 8×;
// 3. `POST /v1/track/batch` of 1000 items, 2 in flight, on the same pool with one item in four a
//    new email, against single tracks (≥ 5×) and against a plain multi-row `INSERT` of as many
//    event rows, 1000 per statement, 2 in flight, into a copy of the events table (≥ 0.25×).
// Rounds alternate; medians of BENCH_ROUNDS (3) rounds of BENCH_SECONDS (5 s).
import { compare } from "./http.mjs"
import {
  cpuMeter,
  describeRun,
  freshDatabase,
  luaFile,
  median,
  pg,
  startServer,
  wrk
} from "./lib/common.mjs"

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const warmSeconds = Number(process.env.BENCH_WARM_SECONDS ?? 10)
const keys = { TRACKLOG_PROJECT_KEYS: "pk_bench:sk_bench" }
const BatchSize = 1000

// One item in four a new email, the rest from the 10k-email pool the single tracks use.
const batchScript = () =>
  luaFile(`
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer pk_bench"
local n = 0
local run = "${process.pid}x${Date.now().toString(36)}" .. tostring(math.random(1, 1e9))
request = function()
  local items = {}
  for j = 1, ${BatchSize} do
    n = n + 1
    local email
    if n % 4 == 0 then
      email = "b" .. run .. "-" .. n .. "@example.com"
    else
      email = "user" .. ((n * 7919) % 10000) .. "@example.com"
    end
    items[j] = '{"email":"' .. email .. '","event":"purchase","data":{"plan":"pro","amount":' .. (n % 100) .. '}}'
  end
  return wrk.format(nil, "/v1/track/batch", nil, '{"events":[' .. table.concat(items, ",") .. ']}')
end
`)

let serial = 0

// The physical ceiling: the same event rows, 1000 per multi-row INSERT (its own transaction), 2
// in flight, into a table made LIKE the events table (its indexes and defaults too).
const rawInsert = async (url, secs) => {
  const clients = [new pg.Client(url), new pg.Client(url)]
  for (const c of clients) c.on("error", () => {})
  await Promise.all(clients.map((c) => c.connect()))
  const text = `INSERT INTO raw_events (stream_id, project_id, version, id, type, data, created_at) VALUES ${
    Array.from({ length: BatchSize }, (_, i) => {
      const p = i * 7
      return `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, $${p + 6}, $${p + 7})`
    }).join(", ")
  }`
  let rows = 0
  const until = performance.now() + secs * 1000
  const started = performance.now()
  const loop = async (client) => {
    while (performance.now() < until) {
      const s = serial++
      const at = new Date().toISOString()
      const values = []
      for (let i = 0; i < BatchSize; i++) {
        values.push(
          `raw-${process.pid}-${s}-${i}`,
          "bench",
          2,
          `raw-${process.pid}-${s}-${i}-e`,
          "EventTracked",
          JSON.stringify({ _tag: "EventTracked", name: "purchase", data: { plan: "pro", amount: i % 100 }, at }),
          at
        )
      }
      await client.query({ text, values })
      rows += BatchSize
    }
  }
  try {
    await Promise.all(clients.map(loop))
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})))
  }
  return rows / ((performance.now() - started) / 1000)
}

const batchRun = (ours, script, secs) => {
  const r = wrk({ base: ours.base, key: "pk_bench", connections: 2, seconds: secs, cpu: ours.cpu, script })
  if (r.non2xx > 0 || r.requests === 0) {
    throw new Error(`batch: ${r.non2xx} non-2xx answers of ${r.requests} (${r.errors ?? "no socket errors"})`)
  }
  return { tps: r.rps * BatchSize, serverUs: r.serverUs / BatchSize, dbUs: r.dbUs / BatchSize }
}

const batches = async (ours, db) => {
  const admin = new pg.Client(db.url)
  await admin.connect()
  await admin.query("CREATE TABLE raw_events (LIKE events INCLUDING ALL)")
  await admin.end()
  const script = batchScript()
  batchRun(ours, script, warmSeconds)
  const single = []
  const batch = []
  const raw = []
  for (let i = 0; i < rounds; i++) {
    const s = wrk({ base: ours.base, key: "pk_bench", emails: 10_000, connections: 50, seconds, cpu: ours.cpu })
    if (s.non2xx > 0) throw new Error(`single tracks: ${s.non2xx} non-2xx answers`)
    single.push(s)
    batch.push(batchRun(ours, script, seconds))
    raw.push(await rawInsert(db.url, seconds))
  }
  const m = (xs, f) => median(xs.map(f))
  const s = { rps: m(single, (r) => r.rps), serverUs: m(single, (r) => r.serverUs), dbUs: m(single, (r) => r.dbUs) }
  const b = { tps: m(batch, (r) => r.tps), serverUs: m(batch, (r) => r.serverUs), dbUs: m(batch, (r) => r.dbUs) }
  const r = median(raw)
  console.log(
    `batch over HTTP [${BatchSize} items, one in four a new email, 10 000-email pool, wrk -c2, request log on]: ` +
      `${b.tps.toFixed(0)} tracks/s (CPU per track: server ${b.serverUs.toFixed(1)} µs, db ${b.dbUs.toFixed(1)} µs); ` +
      `single tracks (wrk -c50) ${describeRun(s)} → ${(b.tps / s.rps).toFixed(2)}× single tracks (target ≥ 5×; ` +
      `CPU per track ${((s.serverUs + s.dbUs) / (b.serverUs + b.dbUs)).toFixed(2)}× less); ` +
      `plain multi-row INSERT of the event rows (${BatchSize} per statement, 2 in flight) ${r.toFixed(0)} rows/s → ${
        (b.tps / r).toFixed(2)
      }× of it (target ≥ 0.25×)`
  )
  return { single: s, batch: b, raw: r }
}

export const run = async () => {
  const dbs = await Promise.all(["out_ours", "out_naive", "out_emm"].map(freshDatabase))
  const [dbA, dbB, dbC] = dbs
  const ours = await startServer(["packages/http/dist/main.js"], { DATABASE_URL: dbA.url, TRACKLOG_LOG: "on", ...keys })
  const naive = await startServer(["bench/baselines/naive-http.mjs"], { DATABASE_URL: dbB.url })
  const emmett = await startServer(["bench/baselines/emmett-http.mjs"], { DATABASE_URL: dbC.url })
  const a = { label: "tracklog (request log on)", server: ours, database: dbA.name }
  try {
    const n = compare({
      name: "issue 31: single tracks vs the naive server (node:http, pg pool of 20, upsert + insert per transaction)",
      a,
      b: { label: "naive", server: naive, database: dbB.name },
      emails: 10_000,
      warmSeconds
    })
    const e = compare({
      name: "issue 31: single tracks vs Emmett 0.42",
      a,
      b: { label: "emmett", server: emmett, database: dbC.name },
      emails: 10_000,
      warmSeconds
    })
    const b = await batches({ ...ours, cpu: cpuMeter({ pid: ours.pid, database: dbA.name }) }, dbA)
    console.log(
      `issue 31 targets: naive ${n.ratio.toFixed(2)}× (≥ 3×; CPU ${n.cpuRatio.toFixed(2)}× less), ` +
        `Emmett ${e.ratio.toFixed(2)}× (≥ 8×; CPU ${e.cpuRatio.toFixed(2)}× less), ` +
        `batch ${(b.batch.tps / b.single.rps).toFixed(2)}× single tracks (≥ 5×), ${
          (b.batch.tps / b.raw).toFixed(2)
        }× raw INSERT (≥ 0.25×)`
    )
  } finally {
    await ours.stop()
    await naive.stop()
    await emmett.stop()
    await Promise.all(dbs.map((d) => d.drop()))
  }
}
