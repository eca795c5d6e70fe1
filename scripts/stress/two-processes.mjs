#!/usr/bin/env node
// Two server processes on one fresh PostgreSQL database: many concurrent first tracks for a few
// new emails, spread across both → exactly one contact per email, every track recorded, no 5xx,
// contiguous versions (behaviour §1.4, Plunk PR #469).
//
//   node scripts/stress/two-processes.mjs
// env: TWO_EMAILS=50  TWO_REQUESTS=1000  TWO_ROUNDS=1 (each round: fresh emails, all requests at once)
//      DATABASE_URL (admin url of the local server)
import {
  ackOf,
  createDatabase,
  ensureBuilt,
  envInt,
  fmt,
  isAck,
  percentile,
  PK,
  pgConnect,
  logFor,
  runScript,
  SK,
  startServer,
  track,
  uid,
  verifyLog
} from "./lib.mjs"

const emails = envInt("TWO_EMAILS", 50)
const requests = envInt("TWO_REQUESTS", 1000)
const rounds = envInt("TWO_ROUNDS", 1)

runScript("two-processes", async (report, defer) => {
  ensureBuilt()
  const database = await createDatabase(undefined, "tracklog_stress_two")
  defer(database.drop)
  const env = { TRACKLOG_STORE: "postgres", DATABASE_URL: database.url, TRACKLOG_PROJECT_KEYS: `${PK}:${SK}` }
  // Both start at once: migrations and project bootstrap race too.
  const servers = await Promise.all([startServer(env), startServer(env)])
  for (const s of servers) defer(() => s.kill("SIGKILL"))

  const acks = []
  const statuses = {}
  const latencies = []
  const tag = uid()
  let wall = 0
  for (let round = 0; round < rounds; round++) {
    const started = performance.now()
    const answers = await Promise.all(Array.from({ length: requests }, (_, i) => {
      // Email casing and spacing vary: they are one contact once canonical (behaviour §1.2).
      const n = i % emails
      const email = i % 3 === 0 ? ` E${n}-${round}-${tag}@Two.Test ` : `e${n}-${round}-${tag}@two.test`
      const req = { email, event: `two-${round}-${i}`, data: { i, [`k${i % 5}`]: i } }
      return track(servers[i % 2].base, req, { timeoutMs: 60_000 }).then((r) => ({ ...r, req, server: servers[i % 2] }))
    }))
    wall += performance.now() - started
    for (const r of answers) {
      statuses[r.status] = (statuses[r.status] ?? 0) + 1
      latencies.push(r.ms)
      if (isAck(r)) acks.push(ackOf(r))
      else {
        report.violation(
          `round ${round}: answer ${r.status}${r.error ? ` (${r.error})` : ""} ${r.text.slice(0, 300)}` +
            (r.status >= 500 ? `\nserver log:\n${logFor(r.server, r.requestId)}` : "")
        )
      }
    }
  }

  // Each email answered with one contact id only.
  const idsByEmail = new Map()
  for (const a of acks) idsByEmail.set(a.email, new Set([...(idsByEmail.get(a.email) ?? []), a.contact]))
  for (const [email, ids] of idsByEmail) {
    if (ids.size !== 1) report.violation(`${email} was answered with ${ids.size} contact ids`)
  }

  const db = await pgConnect(database.url)
  try {
    const { counts, found } = await verifyLog(db, acks, report)
    report.check(counts.contacts === emails * rounds, `expected ${emails * rounds} contacts, found ${counts.contacts}`)
    report.check(
      counts.tracked === requests * rounds,
      `expected ${requests * rounds} EventTracked rows, found ${counts.tracked}`
    )
    const fiveXX = Object.entries(statuses).filter(([s]) => Number(s) >= 500).reduce((n, [, c]) => n + c, 0)
    latencies.sort((a, b) => a - b)
    Object.assign(report.figures, {
      processes: 2,
      requests: requests * rounds,
      emails: emails * rounds,
      statuses,
      fiveXX,
      contacts: counts.contacts,
      tracked: counts.tracked,
      events: counts.events,
      acknowledged: acks.length,
      foundInLog: found,
      wallMs: Math.round(wall),
      p50Ms: Math.round(percentile(latencies, 50)),
      p99Ms: Math.round(percentile(latencies, 99)),
      maxMs: Math.round(latencies[latencies.length - 1] ?? 0)
    })
    report.log(
      `${requests * rounds} concurrent first tracks for ${emails * rounds} new emails on 2 processes: ${
        JSON.stringify(statuses)
      }, ` +
        `${fiveXX} 5xx; ${counts.contacts} contacts, ${counts.tracked} EventTracked rows (${counts.events} events); ` +
        `${acks.length} acknowledged, ${found} found; wall ${
          fmt(wall, 0)
        } ms, p50 ${report.figures.p50Ms} ms, p99 ${report.figures.p99Ms} ms`
    )
  } finally {
    await db.close()
  }
  for (const s of servers) {
    const stopped = await s.stop()
    report.check(stopped.code === 0, `SIGTERM exited with ${stopped.code ?? stopped.signal}`)
  }
})
