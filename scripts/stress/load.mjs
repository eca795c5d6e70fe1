#!/usr/bin/env node
// Sustained load at a fixed rate (open model: requests go out on schedule whatever the answers,
// latency is measured from the scheduled send time, so a stalled server shows as latency, not as
// a slower client). No errors allowed; reports latency, achieved rate and the server's RSS.
//
//   node scripts/stress/load.mjs [seconds] [rate]
// env: LOAD_SECONDS=60  LOAD_RATE=500 (req/s: held with margin on this 2-core box, which also runs
//      Postgres and this client)  LOAD_STORE=postgres|embedded|memory (default postgres: a fresh
//      database on DATABASE_URL's server)  LOAD_WARMUP_SECONDS=3 (same rate, not in the percentiles)
//      LOAD_CONTACTS=10000 (distinct emails)  LOAD_MAX_INFLIGHT=5000 (beyond: the server cannot hold
//      the rate → violation)  LOAD_MAX_P99_MS (optional bound)  LOAD_LOG=off|on (the server's
//      per-request log)  LOAD_CLIENT=http|fetch  LOAD_CONNECTIONS=128 (the http client's sockets)
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  createDatabase,
  ensureBuilt,
  envInt,
  fmt,
  isAck,
  makeHttpTracker,
  percentile,
  PK,
  rand,
  rssOf,
  runScript,
  SK,
  sleep,
  startServer,
  track as fetchTrack,
  uid
} from "./lib.mjs"

const seconds = Number(process.argv[2] ?? envInt("LOAD_SECONDS", 60))
const rate = Number(process.argv[3] ?? envInt("LOAD_RATE", 500))
const warmupSeconds = envInt("LOAD_WARMUP_SECONDS", 3)
const storeKind = process.env["LOAD_STORE"] ?? "postgres"
const contacts = envInt("LOAD_CONTACTS", 10000)
const maxInflight = envInt("LOAD_MAX_INFLIGHT", 5000)
const maxP99 = envInt("LOAD_MAX_P99_MS", 0)
const serverLog = process.env["LOAD_LOG"] ?? "off"
// http: node:http with a keep-alive pool of LOAD_CONNECTIONS sockets (cheap); fetch: undici, unbounded.
const clientKind = process.env["LOAD_CLIENT"] ?? "http"
const connections = envInt("LOAD_CONNECTIONS", 128)
const httpTracker = clientKind === "fetch" ? undefined : makeHttpTracker({ maxSockets: connections })
const track = httpTracker?.track ?? fetchTrack

const cpuSeconds = (pid) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100 // utime + stime, in clock ticks (100 Hz)
  } catch {
    return NaN
  }
}

/** Sends `rate` req/s for `durationMs` on schedule; resolves with every answer once all are in. */
const openLoad = async ({ base, rate, durationMs, next, onTick }) => {
  const interval = 1000 / rate
  const total = Math.round((durationMs / 1000) * rate)
  const results = []
  const pending = new Set()
  let dropped = 0
  let peakInflight = 0
  const start = performance.now() + 20
  let i = 0
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now()
      const due = Math.min(total, Math.floor((now - start) / interval) + 1)
      for (; i < due; i++) {
        const scheduled = start + i * interval
        if (pending.size >= maxInflight) {
          dropped++
          continue
        }
        const req = next(i)
        const p = track(base, req, { timeoutMs: 30_000 }).then((r) => {
          results.push({ ...r, scheduled, latency: performance.now() - scheduled })
          pending.delete(p)
        })
        pending.add(p)
        peakInflight = Math.max(peakInflight, pending.size)
      }
      onTick?.(now - start)
      if (i >= total) resolve()
      else setTimeout(tick, 1)
    }
    setTimeout(tick, 20)
  })
  const sendingMs = performance.now() - start
  await Promise.all([...pending])
  return { results, dropped, peakInflight, sendingMs, total, totalMs: performance.now() - start }
}

runScript("load", async (report, defer) => {
  ensureBuilt()
  const env = { TRACKLOG_PROJECT_KEYS: `${PK}:${SK}`, TRACKLOG_LOG: serverLog }
  if (storeKind === "postgres") {
    const database = await createDatabase(undefined, "tracklog_stress_load")
    defer(database.drop)
    Object.assign(env, { TRACKLOG_STORE: "postgres", DATABASE_URL: database.url })
  } else if (storeKind === "embedded") {
    const dataDir = mkdtempSync(join(tmpdir(), "tracklog-stress-load-"))
    defer(() => rmSync(dataDir, { recursive: true, force: true }))
    Object.assign(env, { TRACKLOG_STORE: "embedded", TRACKLOG_DATA_DIR: dataDir })
  } else {
    Object.assign(env, { TRACKLOG_STORE: storeKind })
  }
  const server = await startServer(env)
  defer(() => server.kill("SIGKILL"))
  const rss = { start: rssOf(server.pid).rssMiB }
  const cpu0 = cpuSeconds(server.pid)

  const tag = uid()
  const events = ["signup", "purchase", "login", "page.view", "trial.started"]
  const next = (i) => ({
    email: `c${rand(contacts)}-${tag}@load.test`,
    event: events[i % events.length],
    data: {
      plan: ["free", "pro", "team"][i % 3],
      seq: i,
      ...(i % 7 === 0 ? { coupon: { value: `x${i}`, persistent: false } } : {})
    }
  })

  // Warm-up at the same rate: counted for errors, not for the percentiles.
  let warm = { results: [], dropped: 0 }
  if (warmupSeconds > 0) warm = await openLoad({ base: server.base, rate, durationMs: warmupSeconds * 1000, next })
  rss.afterWarmup = rssOf(server.pid).rssMiB

  const samples = []
  let lastSample = -Infinity
  const cpu1 = cpuSeconds(server.pid)
  const client1 = process.cpuUsage()
  const run = await openLoad({
    base: server.base,
    rate,
    durationMs: seconds * 1000,
    next,
    onTick: (elapsed) => {
      if (elapsed - lastSample >= 5000) {
        lastSample = elapsed
        samples.push(Math.round(rssOf(server.pid).rssMiB))
      }
    }
  })
  const cpu2 = cpuSeconds(server.pid)
  const client2 = process.cpuUsage(client1)
  const end = rssOf(server.pid)
  rss.end = end.rssMiB
  rss.peak = end.hwmMiB

  // A last check that the server still answers reads after the run.
  const after = await track(server.base, { email: `after-${tag}@load.test`, event: "after" })
  report.check(isAck(after), `a track after the run answered ${after.status}`)

  const all = [...warm.results, ...run.results]
  const statuses = {}
  const errors = {}
  for (const r of all) {
    statuses[r.status] = (statuses[r.status] ?? 0) + 1
    if (!isAck(r)) {
      const key = `${r.status}${r.error ? ` ${r.error}` : ""} ${r.body?.error?.code ?? ""}`.trim()
      errors[key] = (errors[key] ?? 0) + 1
    }
  }
  for (const [key, count] of Object.entries(errors)) report.violation(`${count} request(s) failed: ${key}`)
  const dropped = warm.dropped + run.dropped
  report.check(
    dropped === 0,
    `${dropped} request(s) not sent: more than ${maxInflight} in flight (the server cannot hold ${rate} req/s)`
  )

  const lat = run.results.map((r) => r.latency).sort((a, b) => a - b)
  const service = run.results.map((r) => r.ms).sort((a, b) => a - b)
  const stop = await server.stop()
  report.check(stop.code === 0, `SIGTERM exited with ${stop.code ?? stop.signal}`)
  const f = {
    store: storeKind,
    seconds,
    targetRate: rate,
    sent: run.results.length,
    achievedSendRate: Math.round(run.results.length / (run.sendingMs / 1000)),
    completionRate: Math.round(run.results.length / (run.totalMs / 1000)),
    statuses,
    p50Ms: +fmt(percentile(lat, 50), 2),
    p90Ms: +fmt(percentile(lat, 90), 2),
    p99Ms: +fmt(percentile(lat, 99), 2),
    maxMs: +fmt(lat[lat.length - 1], 2),
    serviceP50Ms: +fmt(percentile(service, 50), 2),
    serviceP99Ms: +fmt(percentile(service, 99), 2),
    peakInflight: run.peakInflight,
    serverCpuPercent: Math.round(((cpu2 - cpu1) / (run.totalMs / 1000)) * 100),
    clientCpuPercent: Math.round(((client2.user + client2.system) / 1000 / run.totalMs) * 100),
    client: clientKind === "fetch" ? "fetch" : `node:http, ${connections} keep-alive sockets`,
    rssMiB: {
      start: Math.round(rss.start),
      afterWarmup: Math.round(rss.afterWarmup),
      end: Math.round(rss.end),
      peak: Math.round(rss.peak),
      every5s: samples
    },
    serverLog
  }
  report.figures.load = f
  if (maxP99 > 0) report.check(f.p99Ms <= maxP99, `p99 ${f.p99Ms} ms > LOAD_MAX_P99_MS ${maxP99}`)
  report.log(
    `${storeKind}, ${seconds} s at ${rate} req/s (+${warmupSeconds} s warm-up): sent ${f.sent} at ${f.achievedSendRate} req/s, ` +
      `${
        JSON.stringify(statuses)
      }; latency from schedule p50 ${f.p50Ms} ms, p90 ${f.p90Ms} ms, p99 ${f.p99Ms} ms, max ${f.maxMs} ms; ` +
      `peak in flight ${f.peakInflight}; CPU server ${f.serverCpuPercent}%, client ${f.clientCpuPercent}%; RSS ${f.rssMiB.start} → ${f.rssMiB.afterWarmup} → ${f.rssMiB.end} MiB ` +
      `(peak ${f.rssMiB.peak}; every 5 s: ${samples.join(" ")})`
  )
  void cpu0
  httpTracker?.close()
  await sleep(0)
})
