#!/usr/bin/env node
// Crash safety: `kill -9` the server mid-load at several points, restart it on the same data,
// and check that every acknowledged track survived and that no command is half-written.
//
//   node scripts/stress/crash.mjs
// env: CRASH_BACKENDS=postgres,embedded  CRASH_KILL_MS=200,1000,3000  CRASH_CONCURRENCY=50
//      CRASH_REPEAT_EMAILS=30 (pool of repeated emails)  DATABASE_URL (admin url of the local server)
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  ackOf,
  closedLoad,
  createDatabase,
  ensureBuilt,
  envInt,
  envList,
  getJson,
  isAck,
  logFor,
  PK,
  pgConnect,
  pgliteOpen,
  rand,
  runScript,
  SK,
  sleep,
  startServer,
  track,
  uid,
  verifyLog
} from "./lib.mjs"

const backends = envList("CRASH_BACKENDS", ["postgres", "embedded"])
const killPoints = envList("CRASH_KILL_MS", ["200", "1000", "3000"]).map(Number)
const concurrency = envInt("CRASH_CONCURRENCY", 50)
const repeatEmails = envInt("CRASH_REPEAT_EMAILS", 30)

const runBackend = async (backend, report, defer) => {
  const tag = uid()
  const env = { TRACKLOG_PROJECT_KEYS: `${PK}:${SK}` }
  let openDb
  if (backend === "postgres") {
    const database = await createDatabase(undefined, "tracklog_stress_crash")
    defer(database.drop)
    Object.assign(env, { TRACKLOG_STORE: "postgres", DATABASE_URL: database.url })
    openDb = () => pgConnect(database.url)
  } else if (backend === "embedded") {
    const dataDir = mkdtempSync(join(tmpdir(), "tracklog-stress-crash-"))
    defer(() => rmSync(dataDir, { recursive: true, force: true }))
    Object.assign(env, { TRACKLOG_STORE: "embedded", TRACKLOG_DATA_DIR: dataDir })
    openDb = () => pgliteOpen(dataDir)
  } else {
    throw new Error(`unknown backend ${backend}`)
  }

  let server
  defer(() => server?.kill("SIGKILL"))
  const acks = []
  const statuses = {}
  let sent = 0
  let kills = 0
  const restartMs = []
  // (Re)starts the server on the same data; false (and a violation) when it does not come up.
  const restart = async () => {
    const t0 = performance.now()
    try {
      server = await startServer(env)
    } catch (error) {
      report.violation(`${backend}: restart after ${kills} kill(s) failed: ${error.message.slice(0, 2000)}`)
      return false
    }
    restartMs.push(performance.now() - t0)
    return true
  }

  for (const [round, killAfter] of killPoints.entries()) {
    if (!(await restart())) return
    const next = (i) => {
      const repeated = Math.random() < 0.6
      const email = repeated
        ? (Math.random() < 0.2
          ? `  R${rand(repeatEmails)}-${tag}@Crash.Test `
          : `r${rand(repeatEmails)}-${tag}@crash.test`)
        : `n${round}-${i}-${tag}@crash.test`
      const body = {
        email,
        event: `crash-${backend}-${round}-${i}`,
        data: { marker: i, round, plan: ["a", "b", "c"][rand(3)] }
      }
      if (Math.random() < 0.3) body.subscribed = Math.random() < 0.5
      return body
    }
    // A short warm-up (pool connections, JIT), so even the earliest kill point lands mid-load.
    for (let w = 0; w < 5; w++) {
      const r = await track(server.base, {
        email: `w${round}-${w}-${tag}@crash.test`,
        event: `warm-${backend}-${round}-${w}`
      })
      sent++
      statuses[r.status] = (statuses[r.status] ?? 0) + 1
      if (isAck(r))
        acks.push({
          event: r.body.data.event,
          contact: r.body.data.contact,
          name: `warm-${backend}-${round}-${w}`,
          email: `w${round}-${w}-${tag}@crash.test`
        })
      else report.violation(`${backend}: round ${round}: warm-up track answered ${r.status} ${r.text.slice(0, 200)}`)
    }
    const load = closedLoad({ base: server.base, concurrency, next })
    await sleep(killAfter)
    load.halt() // the requests in flight stay in flight; no new ones hit the dead port
    const killedAt = performance.now()
    const exit = await server.kill("SIGKILL")
    kills++
    await load.stop()
    let roundAcks = 0
    for (const r of load.results) {
      sent++
      statuses[r.status] = (statuses[r.status] ?? 0) + 1
      if (isAck(r)) {
        acks.push(ackOf(r))
        roundAcks++
      } else if (r.status !== 0) {
        report.violation(
          `${backend}: round ${round}: HTTP ${r.status} under load: ${r.text.slice(0, 300)}` +
            (r.status >= 500 ? `\nserver log:\n${logFor(server, r.requestId)}` : "")
        )
      } else if (r.sentAt + r.ms < killedAt - 5) {
        report.violation(`${backend}: round ${round}: no answer (${r.error}) before the kill`)
      }
    }
    report.log(
      `${backend}: kill #${kills} after ${killAfter} ms of load (signal ${exit.signal}): ${load.results.length} answered/failed, ${roundAcks} acknowledged`
    )
  }

  // Restart once more: the server must come up on the crashed data and keep serving.
  if (!(await restart())) return
  const after = await Promise.all(
    Array.from(
      { length: 20 },
      (_, i) => track(server.base, { email: `r${i % repeatEmails}-${tag}@crash.test`, event: `after-${i}` })
    )
  )
  for (const [i, r] of after.entries()) {
    if (isAck(r))
      acks.push({
        event: r.body.data.event,
        contact: r.body.data.contact,
        name: `after-${i}`,
        email: `r${i % repeatEmails}-${tag}@crash.test`
      })
    else report.violation(`${backend}: after the restarts a track answered ${r.status} ${r.text.slice(0, 200)}`)
  }

  // The read API after the crashes: each acknowledged contact is readable and lists its events.
  const byContact = new Map()
  for (const a of acks) byContact.set(a.contact, [...(byContact.get(a.contact) ?? []), a])
  let httpFound = 0
  for (const [contact, list] of byContact) {
    const one = await getJson(server.base, `/contacts/${contact}`)
    if (one.status !== 200) {
      report.violation(`${backend}: GET /contacts/${contact} answered ${one.status}`)
      continue
    }
    const seen = new Set()
    let cursor
    for (let page = 0; page < 100; page++) {
      const q = `/contacts/${contact}/events?limit=1000${
        cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`
      }`
      const events = await getJson(server.base, q)
      if (events.status !== 200) {
        report.violation(`${backend}: GET ${q} answered ${events.status}`)
        break
      }
      for (const e of events.body.data) seen.add(`${e.id}\u0000${e.name}`)
      if (!events.body.hasMore) break
      cursor = events.body.cursor
    }
    for (const a of list) {
      if (seen.has(`${a.event}\u0000${a.name}`)) httpFound++
      else report.violation(
          `${backend}: acknowledged event ${a.event} (${a.name}) not in GET /contacts/${contact}/events`
        )
    }
  }
  const stopped = await server.stop()
  report.check(
    stopped.code === 0,
    `${backend}: SIGTERM after the crashes exited with ${stopped.code ?? stopped.signal}`
  )

  // The log itself.
  const db = await openDb()
  try {
    const { counts, found } = await verifyLog(db, acks, report, backend)
    report.figures[backend] = {
      kills,
      sent,
      statuses,
      acknowledged: acks.length,
      foundInLog: found,
      foundViaHttp: httpFound,
      restartMs: restartMs.map(Math.round),
      log: counts
    }
    report.log(
      `${backend}: ${kills} kills survived; ${acks.length} acknowledged, ${found} found in the log, ${httpFound} via the read API; ` +
        `${sent} requests (${
          JSON.stringify(statuses)
        }); log: ${counts.events} events in ${counts.streams} streams, ${counts.contacts} contacts; ` +
        `restart ${restartMs.map(Math.round).join("/")} ms`
    )
  } finally {
    await db.close()
  }
}

runScript("crash", async (report, defer) => {
  ensureBuilt()
  if (killPoints.length < 1 || killPoints.some((n) => !Number.isFinite(n)))
    throw new Error("CRASH_KILL_MS must list numbers")
  for (const backend of backends) await runBackend(backend, report, defer)
})
