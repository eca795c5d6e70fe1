// Shared helpers for the reliability scripts: build, start/kill the server, databases, load, checks.
// Plain Node ESM, no dependencies beyond what the workspace already installs (pg, PGlite).
import { execFileSync, spawn } from "node:child_process"
import * as Http from "node:http"
import { existsSync, readFileSync, realpathSync } from "node:fs"
import { createRequire } from "node:module"
import { createServer } from "node:net"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

export const root = fileURLToPath(new URL("../..", import.meta.url))
export const httpDir = join(root, "packages", "http")
export const entry = join(httpDir, "dist", "main.js")
export const adminUrl = process.env["STRESS_ADMIN_URL"] ?? process.env["DATABASE_URL"] ??
  "postgres://postgres@127.0.0.1:5432/test"
export const PK = "pk_stress"
export const SK = "sk_stress"

// ---------------------------------------------------------------------------------------------
// small utilities

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
export const envInt = (name, fallback) => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const n = Number(raw)
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${raw}`)
  return n
}
export const envList = (name, fallback) => {
  const raw = process.env[name]
  return raw === undefined || raw.trim() === "" ? fallback : raw.split(",").map((s) => s.trim()).filter(Boolean)
}
export const rand = (n) => Math.floor(Math.random() * n)
export const uid = () => Math.random().toString(36).slice(2, 10)

export const percentile = (sorted, p) => {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}
export const fmt = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : String(n))

/** Collects violated guarantees; `finish` prints the summary and a machine-readable line, then exits. */
export const makeReport = (name) => {
  const violations = []
  const figures = {}
  return {
    figures,
    violations,
    closed: false,
    violation(message) {
      if (this.closed) return // after the deadline: the verdict is out, what follows is teardown noise
      violations.push(message)
      console.log(`[${name}] VIOLATION: ${message}`)
    },
    check(condition, message) {
      if (!condition) this.violation(message)
      return condition
    },
    log(message) {
      console.log(`[${name}] ${message}`)
    },
    finish() {
      console.log(`[${name}] ${violations.length === 0 ? "PASS" : `FAIL (${violations.length} violation(s))`}`)
      for (const v of violations.slice(0, 20)) console.log(`[${name}]   - ${v}`)
      if (violations.length > 20) console.log(`[${name}]   … and ${violations.length - 20} more`)
      console.log(
        `STRESS_RESULT ${
          JSON.stringify({ name, ok: violations.length === 0, violations: violations.slice(0, 50), figures })
        }`
      )
      return violations.length === 0 ? 0 : 1
    }
  }
}

/** Runs `main(report)` with cleanup on failure and on SIGINT/SIGTERM; exits with the report's verdict. */
export const runScript = async (name, main) => {
  const report = makeReport(name)
  const cleanups = []
  const cleanupAll = async () => {
    while (cleanups.length > 0) {
      const fn = cleanups.pop()
      try {
        await fn()
      } catch (error) {
        console.log(`[${name}] cleanup failed: ${error?.message ?? error}`)
      }
    }
  }
  const onSignal = (signal) => {
    console.log(`[${name}] ${signal}: cleaning up`)
    cleanupAll().finally(() => process.exit(130))
  }
  process.once("SIGINT", onSignal)
  process.once("SIGTERM", onSignal)
  const deadlineMs = envInt("STRESS_DEADLINE_MS", 0)
  const deadline = deadlineMs > 0
    ? setTimeout(() => {
      report.violation(`script did not finish within ${deadlineMs} ms`)
      report.closed = true
      cleanupAll().finally(() => process.exit(report.finish()))
    }, deadlineMs)
    : undefined
  let code = 1
  try {
    await main(report, (fn) => cleanups.push(fn))
  } catch (error) {
    report.violation(`script error: ${error?.stack ?? error}`)
  } finally {
    await cleanupAll()
    if (deadline !== undefined) clearTimeout(deadline)
    code = report.finish()
  }
  process.exit(code)
}

// ---------------------------------------------------------------------------------------------
// the server

/** Builds packages/http/dist/main.js (always when `force`, else only if missing). */
export const ensureBuilt = (force = false) => {
  if (!force && existsSync(entry)) return
  execFileSync(process.execPath, ["build.mjs"], { cwd: httpDir, stdio: "inherit" })
}

/**
 * Starts the bundled server with `env` (PORT=0). Resolves once it logs "listening".
 * Keeps draining its output (a full pipe would block the server); keeps the last MiB.
 */
export const startServer = (env, { timeoutMs = 60_000 } = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry], {
      cwd: httpDir,
      env: { PATH: process.env["PATH"] ?? "", PORT: "0", HOST: "127.0.0.1", TRACKLOG_LOG: "off", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    let settled = false
    const append = (chunk) => {
      output += chunk.toString()
      if (output.length > 1 << 20) output = output.slice(-(1 << 20))
    }
    const exited = new Promise((done) => child.once("exit", (code, signal) => done({ code, signal })))
    const timer = setTimeout(() => {
      if (settled) return
      settled = true
      child.kill("SIGKILL")
      reject(new Error(`server did not start within ${timeoutMs} ms:\n${output}`))
    }, timeoutMs)
    const onData = (chunk) => {
      append(chunk)
      if (settled) return
      const match = /"msg":"listening","url":"http:\/\/[^"]*:(\d+)"/.exec(output)
      if (match !== null) {
        settled = true
        clearTimeout(timer)
        resolve({
          child,
          pid: child.pid,
          base: `http://127.0.0.1:${match[1]}`,
          output: () => output,
          exited,
          kill: (signal = "SIGKILL") => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal)
            return exited
          },
          stop: async (graceMs = 15_000) => {
            if (child.exitCode !== null || child.signalCode !== null) return exited
            child.kill("SIGTERM")
            const t = setTimeout(() => child.kill("SIGKILL"), graceMs)
            const result = await exited
            clearTimeout(t)
            return result
          }
        })
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      if (!settled) {
        settled = true
        reject(new Error(`server exited (${code ?? signal}) before listening:\n${output}`))
      }
    })
  })

/** The server's log lines about one request (its `defect` line has the cause), for a report. */
export const logFor = (server, requestId) =>
  requestId === undefined || requestId === null
    ? ""
    : server.output().split("\n").filter((l) => l.includes(requestId)).join("\n").slice(0, 4000)

/** VmRSS / VmHWM of a process, in MiB. */
export const rssOf = (pid) => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN)
    return { rssMiB: kb("VmRSS") / 1024, hwmMiB: kb("VmHWM") / 1024 }
  } catch {
    return { rssMiB: NaN, hwmMiB: NaN }
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

/**
 * POST /v1/track. Never throws: `{status, body, ms, error}` where status 0 means no HTTP answer
 * (connection refused/reset, or the timeout).
 */
export const track = async (base, body, { key = PK, timeoutMs = 30_000 } = {}) => {
  const started = performance.now()
  try {
    const res = await fetch(`${base}/v1/track`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs)
    })
    const text = await res.text()
    let json
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return {
      status: res.status,
      body: json,
      text,
      ms: performance.now() - started,
      requestId: res.headers.get("x-request-id")
    }
  } catch (error) {
    const cause = error?.cause?.code ?? error?.name ?? "error"
    return { status: 0, body: undefined, text: "", ms: performance.now() - started, error: String(cause) }
  }
}

/**
 * The same as `track` over node:http with a keep-alive agent of at most `maxSockets` connections
 * (requests beyond wait in the agent's queue). Far cheaper per request than fetch, so a load
 * generator sharing the machine with the server measures the server, not itself.
 */
export const makeHttpTracker = ({ maxSockets = 256 } = {}) => {
  const agent = new Http.Agent({ keepAlive: true, maxSockets })
  const trackHttp = (base, body, { key = PK, timeoutMs = 30_000 } = {}) =>
    new Promise((resolve) => {
      const started = performance.now()
      const payload = JSON.stringify(body)
      const url = new URL("/v1/track", base)
      let done = false
      const finish = (r) => {
        if (done) return
        done = true
        resolve({ ...r, ms: performance.now() - started })
      }
      const req = Http.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: "POST",
          headers: {
            authorization: `Bearer ${key}`,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(payload)
          }
        },
        (res) => {
          const chunks = []
          res.on("data", (c) => chunks.push(c))
          res.on("error", (e) => finish({ status: 0, body: undefined, text: "", error: e.code ?? String(e) }))
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString()
            let json
            try {
              json = JSON.parse(text)
            } catch {
              json = undefined
            }
            finish({ status: res.statusCode, body: json, text, requestId: res.headers["x-request-id"] })
          })
        }
      )
      req.setTimeout(timeoutMs, () => {
        req.destroy(Object.assign(new Error("timeout"), { code: "TimeoutError" }))
      })
      req.on("error", (e) => finish({ status: 0, body: undefined, text: "", error: e.code ?? String(e) }))
      req.end(payload)
    })
  return { track: trackHttp, close: () => agent.destroy() }
}

export const getJson = async (base, path, { key = SK, timeoutMs = 30_000 } = {}) => {
  const res = await fetch(`${base}${path}`, {
    headers: { authorization: `Bearer ${key}` },
    signal: AbortSignal.timeout(timeoutMs)
  })
  return { status: res.status, body: await res.json() }
}

/** True when `r` is a 200 in the behaviour §1.7 shape. */
export const isAck = (r) =>
  r.status === 200 && r.body?.success === true && typeof r.body?.data?.event === "string" &&
  typeof r.body?.data?.contact === "string"

/** True when `r` is a 503 SERVICE_UNAVAILABLE in the behaviour §2 envelope. */
export const isUnavailableEnvelope = (r) => {
  const e = r.body?.error
  return r.status === 503 && r.body?.success === false && e?.code === "SERVICE_UNAVAILABLE" && e?.statusCode === 503 &&
    typeof e?.message === "string" && typeof e?.requestId === "string" && typeof r.body?.timestamp === "string" &&
    r.requestId === e.requestId
}

/**
 * Closed-model load: `concurrency` workers each send `next(i)` requests back to back until
 * `stop()` is called (or `total` requests were started). Returns every answer with its request.
 */
export const closedLoad = ({ base, concurrency, next, total = Infinity, timeoutMs = 30_000, onAnswer }) => {
  let stopped = false
  let started = 0
  const results = []
  const worker = async () => {
    while (!stopped && started < total) {
      const i = started++
      const req = next(i)
      const sentAt = performance.now()
      const answer = await track(typeof base === "function" ? base(i) : base, req, { timeoutMs })
      const record = { i, req, sentAt, ...answer }
      results.push(record)
      onAnswer?.(record)
    }
  }
  const done = Promise.all(Array.from({ length: concurrency }, worker))
  return {
    results,
    done,
    /** No new requests from now on (those in flight go on). */
    halt: () => {
      stopped = true
    },
    stop: () => {
      stopped = true
      return done
    }
  }
}

// ---------------------------------------------------------------------------------------------
// databases

let pgModule
/** `pg` from @effect/sql-pg's dependency tree (no install needed). */
export const loadPg = () => {
  if (pgModule === undefined) {
    const anchor = realpathSync(join(root, "packages/store-postgres/node_modules/@effect/sql-pg/package.json"))
    pgModule = createRequire(anchor)("pg")
  }
  return pgModule
}

/** A `pg` client; `query(text, params)` returns rows. */
export const pgConnect = async (url) => {
  const { Client } = loadPg()
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 })
  client.on("error", () => {})
  await client.connect()
  return {
    query: async (text, params) => (await client.query(text, params)).rows,
    close: () => client.end().catch(() => {})
  }
}

/**
 * How many of the server's log processors (all, or the one named) have a checkpoint before the
 * log's last event: 0 once they are through it.
 */
export const processorsBehind = async (db, name) => {
  const rows = await db.query(
    `WITH last AS (
       SELECT transaction_id::text::numeric AS tx, global_position AS pos FROM events
       ORDER BY transaction_id DESC, global_position DESC LIMIT 1)
     SELECT count(*)::int AS n FROM processors p, last
     WHERE ($1::text IS NULL OR p.name = $1)
       AND (p.transaction_id::text::numeric, p.global_position) < (last.tx, last.pos)`,
    [name ?? null]
  )
  return rows[0].n
}

/** PGlite opened directly on an embedded server's data directory (the server must be stopped). */
export const pgliteOpen = async (dataDir) => {
  const pkgDir = dirname(
    realpathSync(join(root, "packages/store-postgres/node_modules/@electric-sql/pglite/package.json"))
  )
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"))
  const exp = pkg.exports?.["."]
  const rel = typeof exp === "string"
    ? exp
    : exp?.import?.default ?? exp?.import ?? exp?.default ?? pkg.module ?? pkg.main
  const { PGlite } = await import(pathToFileURL(join(pkgDir, typeof rel === "string" ? rel : rel.default)).href)
  const db = await PGlite.create({ dataDir })
  return {
    query: async (text, params) => (await db.query(text, params)).rows,
    close: () => db.close().catch(() => {})
  }
}

export const withDatabase = (url, database) => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

/** Creates a fresh database on the server at `admin`; returns its url and a `drop`. */
export const createDatabase = async (admin = adminUrl, prefix = "tracklog_stress") => {
  const name = `${prefix}_${process.pid}_${uid()}`
  const client = await pgConnect(admin)
  try {
    await client.query(`CREATE DATABASE ${name}`)
  } finally {
    await client.close()
  }
  return {
    name,
    url: withDatabase(admin, name),
    drop: async () => {
      const c = await pgConnect(admin)
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await c.close()
      }
    }
  }
}

/** A free TCP port on 127.0.0.1 (closed again before returning). */
export const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

// ---------------------------------------------------------------------------------------------
// the guarantees, checked in SQL

/**
 * The log's structural invariants (behaviour §4): every events row belongs to a stream row; each
 * stream's versions are exactly 1..streams.version and it starts with ContactCreated; each
 * stream has its contact row with contacts.version = streams.version, and no contact lacks its
 * stream; one contact per (project, email); event ids unique; global positions unique.
 * Returns a list of violation messages plus counts.
 */
export const checkInvariants = async (db) => {
  const problems = []
  const one = async (label, text) => {
    const rows = await db.query(text)
    if (rows.length > 0) problems.push(`${label}: ${rows.length} case(s), e.g. ${JSON.stringify(rows.slice(0, 3))}`)
  }
  await one(
    "events without a stream row",
    `
    SELECT e.stream_id, e.version FROM events e LEFT JOIN streams s USING (stream_id) WHERE s.stream_id IS NULL LIMIT 10`
  )
  await one(
    "streams whose versions are not contiguous 1..streams.version",
    `
    SELECT s.stream_id, s.version, count(e.*)::int AS n, min(e.version) AS lo, max(e.version) AS hi
    FROM streams s LEFT JOIN events e USING (stream_id)
    GROUP BY s.stream_id, s.version
    HAVING count(e.*) <> s.version OR min(e.version) <> 1 OR max(e.version) <> s.version LIMIT 10`
  )
  await one(
    "streams not starting with ContactCreated",
    `
    SELECT stream_id, type FROM events WHERE version = 1 AND type <> 'ContactCreated' LIMIT 10`
  )
  await one(
    "ContactCreated after version 1",
    `
    SELECT stream_id, version FROM events WHERE version > 1 AND type = 'ContactCreated' LIMIT 10`
  )
  await one(
    "streams without a contact row",
    `
    SELECT s.stream_id FROM streams s LEFT JOIN contacts c ON c.id = s.stream_id WHERE c.id IS NULL LIMIT 10`
  )
  await one(
    "contacts without a stream",
    `
    SELECT c.id FROM contacts c LEFT JOIN streams s ON s.stream_id = c.id WHERE s.stream_id IS NULL LIMIT 10`
  )
  await one(
    "contacts.version <> streams.version",
    `
    SELECT c.id, c.version, s.version AS stream_version FROM contacts c JOIN streams s ON s.stream_id = c.id
    WHERE c.version <> s.version LIMIT 10`
  )
  await one(
    "duplicate contacts per (project, email)",
    `
    SELECT project_id, email, count(*)::int FROM contacts GROUP BY project_id, email HAVING count(*) > 1 LIMIT 10`
  )
  await one("duplicate event ids", `SELECT id, count(*)::int FROM events GROUP BY id HAVING count(*) > 1 LIMIT 10`)
  await one(
    "duplicate global positions",
    `
    SELECT global_position, count(*)::int FROM events GROUP BY global_position HAVING count(*) > 1 LIMIT 10`
  )
  // Whole commands only: a track appends (ContactCreated | SubscriptionChanged)? ContactDataChanged?
  // EventTracked, all stamped with the same time. So each stream reads as a sequence of such
  // commands, ends with an EventTracked, and within one command the times agree.
  const letter = { ContactCreated: "C", SubscriptionChanged: "S", ContactDataChanged: "D", EventTracked: "T" }
  const grammar = /^C?D?T((S?D?T))*$/
  const rows = await db.query(`SELECT stream_id, version, type, created_at FROM events ORDER BY stream_id, version`)
  const broken = []
  for (let i = 0; i < rows.length;) {
    let j = i
    let seq = ""
    let command = []
    let mixed = false
    while (j < rows.length && rows[j].stream_id === rows[i].stream_id) {
      const row = rows[j]
      seq += letter[row.type] ?? "?"
      command.push(new Date(row.created_at).getTime())
      if (row.type === "EventTracked") {
        if (command.some((t) => t !== command[0])) mixed = true
        command = []
      }
      j++
    }
    if (!/^C/.test(seq) || !grammar.test(seq) || mixed)
      broken.push({ stream: rows[i].stream_id, types: seq.slice(-40), mixedTimes: mixed })
    i = j
  }
  if (broken.length > 0) {
    problems.push(
      `streams that are not a sequence of whole track commands: ${broken.length}, e.g. ${
        JSON.stringify(broken.slice(0, 3))
      }`
    )
  }
  const [counts] = await db.query(`
    SELECT (SELECT count(*)::int FROM events) AS events, (SELECT count(*)::int FROM streams) AS streams,
           (SELECT count(*)::int FROM contacts) AS contacts,
           (SELECT count(*)::int FROM events WHERE type = 'EventTracked') AS tracked`)
  return { problems, counts }
}

/**
 * Every acknowledged track is in the log (its event id, an EventTracked with the name sent, in
 * the stream of the contact id answered) and in the projection (the contact row, its email).
 * `acks`: [{ event, contact, name, email }]. Returns { missing: [...], found }.
 */
export const checkAcknowledged = async (db, acks) => {
  const missing = []
  let found = 0
  const chunk = 500
  for (let i = 0; i < acks.length; i += chunk) {
    const part = acks.slice(i, i + chunk)
    const ids = part.map((a) => a.event)
    const rows = await db.query(
      `SELECT e.id, e.stream_id, e.type, e.data->>'name' AS name, c.id AS contact_id, c.email
       FROM events e LEFT JOIN contacts c ON c.id = e.stream_id WHERE e.id = ANY($1::text[])`,
      [ids]
    )
    const byId = new Map(rows.map((r) => [r.id, r]))
    for (const a of part) {
      const row = byId.get(a.event)
      if (row === undefined) missing.push({ ...a, why: "event id not in the log" })
      else if (row.type !== "EventTracked" || row.name !== a.name)
        missing.push({ ...a, why: `event is ${row.type} ${row.name}` })
      else if (row.stream_id !== a.contact) missing.push({ ...a, why: `event in stream ${row.stream_id}` })
      else if (row.contact_id === null) missing.push({ ...a, why: "contact not in the projection" })
      else if (a.email !== undefined && row.email !== a.email) missing.push({ ...a, why: `contact email ${row.email}` })
      else found++
    }
  }
  return { missing, found }
}

/**
 * Both checks on the log, their findings reported as violations (`label` prefixes each).
 * Returns { counts, found } for the script's own figures.
 */
export const verifyLog = async (db, acks, report, label = "") => {
  const prefix = label === "" ? "" : `${label}: `
  const { counts, problems } = await checkInvariants(db)
  for (const p of problems) report.violation(`${prefix}${p}`)
  const { found, missing } = await checkAcknowledged(db, acks)
  for (const m of missing.slice(0, 10)) report.violation(`${prefix}acknowledged track lost: ${JSON.stringify(m)}`)
  if (missing.length > 10) report.violation(`${prefix}… ${missing.length} acknowledged tracks lost in all`)
  return { counts, found }
}

/** Acknowledgement record from a closedLoad/openLoad record that got a 200. */
export const ackOf = (record) => ({
  event: record.body.data.event,
  contact: record.body.data.contact,
  name: record.req.event,
  email: record.req.email.trim().toLowerCase()
})
