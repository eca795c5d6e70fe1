#!/usr/bin/env node
// Memory bounded by bytes (behaviour §9, issue 15): a PostgreSQL-backed server takes tracks for new
// emails, each with ~400 KB of contact data, and its resident memory stays under a limit — the
// per-process caches are budgeted in bytes, not entries.
//
//   node scripts/stress/memory.mjs
// env: MEMORY_TRACKS=2000  MEMORY_DATA_KB=400  MEMORY_CONCURRENCY=8  MEMORY_LIMIT_MIB=400  MEMORY_SETTLE_MS=2000
//      DATABASE_URL (admin url of the local server), TRACKLOG_CONTACT_CACHE_BYTES (passed to the server)
import {
  createDatabase,
  ensureBuilt,
  envInt,
  fmt,
  PK,
  pgConnect,
  processorsBehind,
  rssOf,
  runScript,
  SK,
  sleep,
  startServer,
  track,
  uid
} from "./lib.mjs"

const tracks = envInt("MEMORY_TRACKS", 2000)
const dataKb = envInt("MEMORY_DATA_KB", 400)
const concurrency = envInt("MEMORY_CONCURRENCY", 8)
const limitMiB = envInt("MEMORY_LIMIT_MIB", 400)
const settleMs = envInt("MEMORY_SETTLE_MS", 2000)

runScript("memory", async (report, defer) => {
  ensureBuilt()
  const database = await createDatabase(undefined, "tracklog_stress_memory")
  defer(database.drop)
  const cache = process.env["TRACKLOG_CONTACT_CACHE_BYTES"]
  const server = await startServer({
    DATABASE_URL: database.url,
    TRACKLOG_PROJECT_KEYS: `${PK}:${SK}`,
    ...(cache === undefined ? {} : { TRACKLOG_CONTACT_CACHE_BYTES: cache })
  })
  defer(() => server.kill("SIGKILL"))
  const before = rssOf(server.pid)
  const tag = uid()
  // Four keys of ~dataKb/4 each: every contact keeps all of it (a new value per contact).
  const blob = (i) => {
    const part = `${i}-`.padEnd((dataKb * 1024) / 4, "x")
    return { a: part, b: part, c: part, d: part }
  }
  let next = 0
  let ok = 0
  let peak = before.rssMiB
  const statuses = {}
  const worker = async () => {
    while (next < tracks) {
      const i = next++
      const r = await track(server.base, { email: `m${i}-${tag}@memory.test`, event: "big", data: blob(i) }, {
        timeoutMs: 60_000
      })
      statuses[r.status] = (statuses[r.status] ?? 0) + 1
      if (r.status === 200) ok++
      if (i % 100 === 0) peak = Math.max(peak, rssOf(server.pid).rssMiB)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  // The server's log processors (segments, webhooks) read every event after its track answered:
  // what is measured is what the server keeps once they are through (their checkpoints at the
  // log's last event), then `settleMs` more, not their backlog in flight.
  const db = await pgConnect(database.url)
  try {
    for (let i = 0; i < 600; i++) {
      if ((await processorsBehind(db)) === 0) break
      await sleep(100)
    }
  } finally {
    await db.close()
  }
  await sleep(settleMs)
  const after = rssOf(server.pid)
  peak = Math.max(peak, after.rssMiB)
  console.log(
    `[memory] ${tracks} tracks of ~${dataKb} KB for new emails: ${ok} answered 200 (${JSON.stringify(statuses)}); ` +
      `RSS ${fmt(before.rssMiB)} MiB before, ${fmt(after.rssMiB)} MiB after, peak sampled ${
        fmt(peak)
      } MiB, high-water ${fmt(after.hwmMiB)} MiB (limit ${limitMiB} MiB)`
  )
  Object.assign(report.figures, {
    tracks,
    ok,
    rssBeforeMiB: before.rssMiB,
    rssAfterMiB: after.rssMiB,
    rssHighWaterMiB: after.hwmMiB
  })
  if (ok !== tracks) report.violation(`${tracks - ok} tracks were not answered 200: ${JSON.stringify(statuses)}`)
  if (!(after.rssMiB <= limitMiB))
    report.violation(`RSS ${fmt(after.rssMiB)} MiB after the tracks, over ${limitMiB} MiB`)
})
