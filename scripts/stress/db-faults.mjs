#!/usr/bin/env node
// Database faults: the server on a throwaway PostgreSQL cluster of our own; under load the
// cluster is stopped (`pg_ctl stop -m fast`, `-m immediate`) or frozen (SIGSTOP), then brought
// back. While it is down every request must answer within a bound with 503 SERVICE_UNAVAILABLE
// in the behaviour §2 envelope (never 500, never a hang); once it is back the server must recover by
// itself (200s again, no restart); nothing acknowledged may be lost.
//
//   node scripts/stress/db-faults.mjs
// env: FAULT_MODES=fast,immediate,freeze  FAULT_CONCURRENCY=20  FAULT_UP_MS=2000 (healthy load before)
//      FAULT_DOWN_MS=5000 (load while stopped)  FAULT_FREEZE_MS=25000 (load while frozen; > the bound)
//      FAULT_HOT=5 (while frozen, that many concurrent tracks for one contact, each must answer in the bound)
//      FAULT_BOUND_MS=15000 (longest answer allowed; FAULT_FREEZE_BOUND_MS=20000 for freeze)  FAULT_RECOVERY_BOUND_MS=30000  FAULT_STEADY_MS=2000
//      (all-200 stretch that counts as recovered)
import { createCluster } from "./cluster.mjs"
import {
  ackOf,
  closedLoad,
  ensureBuilt,
  envInt,
  envList,
  fmt,
  isAck,
  isUnavailableEnvelope,
  logFor,
  PK,
  pgConnect,
  rand,
  runScript,
  SK,
  sleep,
  startServer,
  track,
  uid,
  verifyLog
} from "./lib.mjs"

const modes = envList("FAULT_MODES", ["fast", "immediate", "freeze"])
const concurrency = envInt("FAULT_CONCURRENCY", 20)
const upMs = envInt("FAULT_UP_MS", 2000)
const downMs = envInt("FAULT_DOWN_MS", 5000)
const freezeMs = envInt("FAULT_FREEZE_MS", 25000)
const hot = envInt("FAULT_HOT", 5)
const boundMs = envInt("FAULT_BOUND_MS", 15000)
// A frozen database answers nothing: the store's 10 s timeout fires, then @effect/sql-pg's
// best-effort pg_cancel_backend (up to 5 s more) is awaited — so ~15–16 s is expected there.
const freezeBoundMs = envInt("FAULT_FREEZE_BOUND_MS", 20000)
const recoveryBoundMs = envInt("FAULT_RECOVERY_BOUND_MS", 30000)
const steadyMs = envInt("FAULT_STEADY_MS", 2000)

runScript("db-faults", async (report, defer) => {
  ensureBuilt()
  const cluster = await createCluster()
  defer(() => cluster.destroy())
  report.log(`throwaway cluster on port ${cluster.port} in ${cluster.dir}`)
  const server = await startServer({
    DATABASE_URL: cluster.url,
    TRACKLOG_STORE: "postgres",
    TRACKLOG_PROJECT_KEYS: `${PK}:${SK}`
  })
  defer(() => server.kill("SIGKILL"))

  const tag = uid()
  const acks = []
  const figures = {}
  report.figures.modes = figures
  let seq = 0
  const next = () => {
    const i = seq++
    const email = Math.random() < 0.5 ? `r${rand(50)}-${tag}@faults.test` : `n${i}-${tag}@faults.test`
    return { email, event: `fault-${i}`, data: { i } }
  }

  for (const mode of modes) {
    const t = {}
    const bound = mode === "freeze" ? freezeBoundMs : boundMs
    // The client waits long enough to see how long a hang really lasts.
    const clientTimeoutMs = Math.max(bound, mode === "freeze" ? freezeMs : downMs) + 10_000
    const load = closedLoad({ base: server.base, concurrency, next, timeoutMs: clientTimeoutMs })
    await sleep(upMs)
    // One contact that many requests hit at once while the database hangs: none may wait for
    // the others' timeouts in turn.
    const hotEmail = `hot-${mode}-${tag}@faults.test`
    const hotAcks = []
    if (mode === "freeze" && hot > 0) {
      const first = await track(server.base, { email: hotEmail, event: `hot-${mode}-first` })
      if (isAck(first)) hotAcks.push({ ...ackOf({ ...first, req: { email: hotEmail, event: `hot-${mode}-first` } }) })
    }
    t.faultStart = performance.now()
    if (mode === "freeze") cluster.freeze()
    else cluster.stop(mode)
    t.faultApplied = performance.now()
    const hotAnswers = mode === "freeze" && hot > 0
      ? Promise.all(Array.from({ length: hot }, (_, k) => {
        const req = { email: hotEmail, event: `hot-${mode}-${k}` }
        return track(server.base, req, { timeoutMs: clientTimeoutMs }).then((r) => ({ ...r, req }))
      }))
      : Promise.resolve([])
    await sleep(mode === "freeze" ? freezeMs : downMs)
    t.restoreStart = performance.now()
    if (mode === "freeze") cluster.thaw()
    else cluster.start()
    t.restored = performance.now()

    // Recovered: the first moment after which every answer is a 200, held for `steadyMs`.
    let lastBad = t.restored
    let firstOk
    const deadline = t.restored + recoveryBoundMs
    const results = load.results
    let scanned = 0
    let recovered = false
    while (performance.now() < deadline + bound) {
      await sleep(100)
      for (; scanned < results.length; scanned++) {
        const r = results[scanned]
        const end = r.sentAt + r.ms
        if (r.sentAt < t.restored) continue
        if (isAck(r)) firstOk = Math.min(firstOk ?? Infinity, end)
        else lastBad = Math.max(lastBad, end)
      }
      if (
        firstOk !== undefined && performance.now() - lastBad >= steadyMs && performance.now() - t.restored >= steadyMs
      ) {
        recovered = true
        break
      }
    }
    await load.stop()
    const hotResults = await hotAnswers
    for (const [k, r] of hotResults.entries()) {
      if (isAck(r)) hotAcks.push(ackOf(r))
      else if (!isUnavailableEnvelope(r))
        report.violation(
          `${mode}: hot contact request #${k} answered ${r.status} ${r.error ?? ""} ${r.text.slice(0, 200)}`
        )
      if (r.ms > bound) {
        report.violation(
          `${mode}: hot contact request #${k} of ${hot} (same email, sent together right after the fault) answered ` +
            `${r.status === 0 ? `nothing (${r.error})` : r.status} after ${
              fmt(r.ms, 0)
            } ms (> ${bound} ms; database back at ${fmt(t.restored - t.faultStart, 0)} ms)`
        )
      }
    }
    acks.push(...hotAcks)

    // Judge every answer of this round.
    const statuses = {}
    let maxMs = 0
    let max503Ms = 0
    let unavailable = 0
    for (const r of results) {
      statuses[r.status] = (statuses[r.status] ?? 0) + 1
      maxMs = Math.max(maxMs, r.ms)
      const end = r.sentAt + r.ms
      if (r.ms > bound) {
        report.violation(
          `${mode}: an answer took ${fmt(r.ms, 0)} ms (> ${bound} ms): ${r.status} ${r.error ?? ""}, sent ${
            fmt(r.sentAt - t.faultStart, 0)
          } ms ` +
            `after the fault began (database back at ${fmt(t.restored - t.faultStart, 0)} ms)`
        )
      }
      if (isAck(r)) {
        acks.push(ackOf(r))
      } else if (r.status === 503) {
        unavailable++
        max503Ms = Math.max(max503Ms, r.ms)
        if (!isUnavailableEnvelope(r))
          report.violation(`${mode}: 503 not in the behaviour §2 envelope: ${r.text.slice(0, 300)}`)
        if (end < t.faultStart) report.violation(`${mode}: 503 before the fault: ${r.text.slice(0, 200)}`)
      } else {
        report.violation(
          `${mode}: answer ${r.status}${r.error ? ` (${r.error})` : ""} ${r.text.slice(0, 300)}, sent ${
            fmt(r.sentAt - t.faultStart, 0)
          } ms ` +
            `after the fault began, took ${fmt(r.ms, 0)} ms (database back at ${
              fmt(t.restored - t.faultStart, 0)
            } ms)` +
            (r.status >= 500 ? `\nserver log:\n${logFor(server, r.requestId)}` : "")
        )
      }
    }
    if (!recovered) {
      report.violation(`${mode}: no steady 200s within ${recoveryBoundMs} ms of the database coming back`)
    }
    const lat503 = results.filter((r) => r.status === 503).map((r) => r.ms).sort((a, b) => a - b)
    const f = {
      boundMs: bound,
      requests: results.length,
      p50_503Ms: lat503.length === 0 ? null : Math.round(lat503[Math.floor(lat503.length / 2)]),
      statuses,
      maxAnswerMs: Math.round(maxMs),
      max503Ms: Math.round(max503Ms),
      faultTookMs: Math.round(t.faultApplied - t.faultStart),
      restoreTookMs: Math.round(t.restored - t.restoreStart),
      firstOkAfterRestoreMs: firstOk === undefined ? null : Math.round(firstOk - t.restored),
      recoveredAfterMs: recovered ? Math.round(Math.max(0, lastBad - t.restored)) : null,
      hotContactMs: hotResults.map((r) => `${r.status}@${Math.round(r.ms)}`)
    }
    figures[mode] = f
    report.check(unavailable > 0, `${mode}: no 503 at all while the database was down (fault too short?)`)
    report.log(
      `${mode}: ${f.requests} requests ${
        JSON.stringify(statuses)
      }; slowest answer ${f.maxAnswerMs} ms (503s ≤ ${f.max503Ms} ms); ` +
        `first 200 ${f.firstOkAfterRestoreMs} ms and last non-200 ${f.recoveredAfterMs} ms after the database was back` +
        (hotResults.length > 0
          ? `; ${hot} concurrent tracks on one contact answered ${f.hotContactMs.join(", ")} (status@ms)`
          : "")
    )
  }

  // Nothing acknowledged lost; the log is whole.
  const db = await pgConnect(cluster.url)
  try {
    const { counts, found } = await verifyLog(db, acks, report)
    report.figures.acknowledged = acks.length
    report.figures.foundInLog = found
    report.figures.log = counts
    report.log(
      `${acks.length} acknowledged, ${found} found in the log (${counts.tracked} EventTracked rows, ${counts.contacts} contacts)`
    )
  } finally {
    await db.close()
  }
  // Diagnostics: statements the database cancelled (pg_cancel_backend from interrupted queries).
  const cancelled = cluster.log().split("\n").filter((l) => /canceling statement due to user request/.test(l))
  report.figures.cancelledStatements = cancelled.length
  if (cancelled.length > 0) {
    report.log(
      `the database logged ${cancelled.length} statement(s) cancelled by pg_cancel_backend, e.g.:\n  ${
        cancelled.slice(0, 3).join("\n  ")
      }`
    )
  }
  const stopped = await server.stop()
  report.check(stopped.code === 0, `SIGTERM exited with ${stopped.code ?? stopped.signal}`)
})
