#!/usr/bin/env node
// kill -9 during batches (behaviour §8: the valid items of a batch commit together): a server on a
// fresh PostgreSQL database takes concurrent `POST /v1/track/batch` requests and is killed mid-load;
// after a restart every batch is in the log whole or not at all, and every acknowledged one whole.
//
//   node scripts/stress/batch-crash.mjs
// env: BATCH_KILLS=3  BATCH_ITEMS=100  BATCH_CONCURRENCY=6  BATCH_KILL_MS=400
//      DATABASE_URL (admin url of the local server)
import { createDatabase, ensureBuilt, envInt, PK, pgConnect, runScript, SK, sleep, startServer, uid } from "./lib.mjs"

const kills = envInt("BATCH_KILLS", 3)
const items = envInt("BATCH_ITEMS", 100)
const concurrency = envInt("BATCH_CONCURRENCY", 6)
const killMs = envInt("BATCH_KILL_MS", 400)

const postBatch = async (base, body) => {
  try {
    const response = await fetch(`${base}/v1/track/batch`, {
      method: "POST",
      headers: { authorization: `Bearer ${PK}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000)
    })
    return { status: response.status }
  } catch {
    return { status: 0 }
  }
}

runScript("batch-crash", async (report, defer) => {
  ensureBuilt()
  const database = await createDatabase(undefined, "tracklog_stress_batch")
  defer(database.drop)
  const env = { DATABASE_URL: database.url, TRACKLOG_PROJECT_KEYS: `${PK}:${SK}` }
  const tag = uid()
  const acknowledged = new Set()
  const sent = new Set()
  let batch = 0
  for (let round = 0; round < kills; round++) {
    const server = await startServer(env)
    defer(() => server.kill("SIGKILL"))
    let stop = false
    let firstAck
    const acked = new Promise((resolve) => (firstAck = resolve))
    const worker = async () => {
      while (!stop) {
        const name = `b${tag}-${batch++}`
        sent.add(name)
        // Items for new and repeated emails, in order; one invalid item, rejected alone.
        const events = Array.from({ length: items }, (_, i) => ({
          email: `${i % 10 === 0 ? "same" : `${name}-${i}`}-${tag}@batch.test`,
          event: name,
          data: { i }
        }))
        events.push({ email: "not an email", event: name })
        const r = await postBatch(server.base, { events })
        if (r.status === 200) {
          acknowledged.add(name)
          firstAck()
        }
      }
    }
    const load = Promise.all(Array.from({ length: concurrency }, worker))
    // The kill lands mid-load: after the round's first answer (warm pool, JIT), then `killMs`.
    await Promise.race([acked, sleep(20_000)])
    await sleep(killMs)
    stop = true
    await server.kill("SIGKILL")
    await load
  }
  // Restarted once more: the store must open on what the kills left.
  const server = await startServer(env)
  defer(() => server.kill("SIGKILL"))
  const db = await pgConnect(database.url)
  defer(db.close)
  const rows = await db.query(
    `SELECT data->>'name' AS name, count(*)::int AS n FROM events WHERE type = 'EventTracked' GROUP BY 1`
  )
  const counts = new Map(rows.map((r) => [r.name, r.n]))
  let whole = 0
  let none = 0
  for (const name of sent) {
    const n = counts.get(name) ?? 0
    if (n === items) whole++
    else if (n === 0) none++
    else report.violation(`batch ${name}: ${n} of its ${items} valid items in the log`)
    if (acknowledged.has(name) && n !== items)
      report.violation(`batch ${name} was acknowledged, but ${n} of ${items} items are in the log`)
  }
  report.check(acknowledged.size > 0, "no batch was acknowledged: the load never reached the server")
  Object.assign(report.figures, { kills, batches: sent.size, acknowledged: acknowledged.size, whole, none })
  console.log(
    `[batch-crash] ${kills} kills; ${sent.size} batches of ${items} valid items sent, ${acknowledged.size} acknowledged; ` +
      `in the log: ${whole} whole, ${none} absent, ${sent.size - whole - none} partial`
  )
})
