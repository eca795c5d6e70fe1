// Shared by the benchmarks: processes, load from wrk, statistics, throwaway databases.
import { execFile, execFileSync, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const root = fileURLToPath(new URL("../..", import.meta.url))
const require = createRequire(import.meta.url)
export const pg = require("pg")

export const adminUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Starts a server process that logs a `"msg":"listening","url":"http://…:PORT"` line. */
export const startServer = (args, env = {}, command = process.execPath) =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: root,
      env: { PATH: process.env.PATH, PORT: "0", HOST: "127.0.0.1", TRACKLOG_LOG: "off", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    let listening = false
    const timer = setTimeout(() => reject(new Error(`server did not start: ${output}`)), 60_000)
    child.stdout.on("data", (c) => {
      // Once it listens, its output is read and dropped: a server with its request log on writes a
      // line per request, which must neither fill the pipe nor pile up in this process.
      if (listening) return
      output += c
      const m = /"msg":"listening","url":"http:\/\/[^:]+:(\d+)"/.exec(output)
      if (m) {
        listening = true
        clearTimeout(timer)
        resolve({
          base: `http://127.0.0.1:${m[1]}`,
          pid: child.pid,
          stop: () =>
            new Promise((done) => {
              stopping = true
              child.once("exit", done)
              child.kill("SIGTERM")
            })
        })
      }
    })
    // Its errors are kept (the last 20 KB), to be shown if it exits before it is stopped.
    child.stderr.on("data", (c) => (output = (output + c).slice(-20_000)))
    let stopping = false
    child.once("exit", (code, signal) => {
      if (listening && !stopping)
        console.error(`[bench] server ${args.join(" ")} exited (${code ?? signal}): ${output}`)
      reject(new Error(`server exited ${code}: ${output}`))
    })
  })

export const hasWrk = () => {
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" })
    return true
  } catch (e) {
    return e.status === 1 // wrk --version exits 1 after printing
  }
}

let freshRuns = 0

// `emails`: the size of the pool the requests cycle through; "new": every request a new email.
const luaFor = ({ key, emails }) => {
  const email = emails === "new"
    ? `'new${process.pid}x${freshRuns++}-' .. i .. '@example.com'`
    : `'user' .. (i % ${emails}) .. '@example.com'`
  const dir = mkdtempSync(join(tmpdir(), "tracklog-bench-"))
  const path = join(dir, "track.lua")
  writeFileSync(
    path,
    `
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer ${key}"
local i = 0
request = function()
  i = i + 1
  local body = '{"email":"' .. ${email} .. '","event":"purchase","data":{"plan":"pro","amount":' .. (i % 100) .. '}}'
  return wrk.format(nil, "/v1/track", nil, body)
end
`
  )
  return path
}

const millis = (value, unit) => Number(value) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? NaN)

const sentTo = new Map()

/** Requests `wrk` has sent to `base` so far in this process, warm-ups included. */
export const requestsSent = (base) => sentTo.get(base) ?? 0

/** A wrk script file with `text`. */
export const luaFile = (text) => {
  const path = join(mkdtempSync(join(tmpdir(), "tracklog-bench-")), "load.lua")
  writeFileSync(path, text)
  return path
}

/**
 * Closed-model load with wrk (`script`: a wrk script of one's own, else single tracks on `emails`); returns requests/s, the request count, p50/p99 in ms and the
 * non-2xx count. With `cpu` (from `cpuMeter`), also the CPU µs per request of the server and
 * of its database backends, read from /proc before and after.
 */
export const wrk = ({ base, key, emails = 1000, connections = 50, seconds = 5, cpu, script }) => {
  const before = cpu?.sample()
  const out = execFileSync("wrk", [
    "-t1",
    `-c${connections}`,
    `-d${seconds}s`,
    "--latency",
    "-s",
    script ?? luaFor({ key, emails }),
    base
  ], {
    encoding: "utf8"
  })
  const after = cpu?.sample()
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])
  const requests = Number(/(\d+) requests in/.exec(out)?.[1])
  sentTo.set(base, (sentTo.get(base) ?? 0) + requests)
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
  const errors = /Socket errors: (.*)/.exec(out)?.[1]
  const pct = (p) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s|m)`).exec(out)
    return m === null ? NaN : millis(m[1], m[2])
  }
  const used = before === undefined ? undefined : cpu.diff(before, after)
  return {
    rps,
    requests,
    non2xx,
    errors,
    p50: pct(50),
    p99: pct(99),
    serverUs: used === undefined ? undefined : (used.server * 1000) / requests,
    dbUs: used?.db === undefined ? undefined : (used.db * 1000) / requests,
    out
  }
}

/**
 * Warm-up until the figures stop moving: 2 s runs until two in a row are within 5% of each
 * other in req/s and in server CPU per request (at least 3 runs, at most `max`). JIT tiers,
 * pools and the database's caches settle over ~6–12 s here; a fixed 2 s warm-up undercounted
 * our server by a quarter on the Postgres store (issue 14).
 */
export const warm = (options, max = 10) => {
  let last
  for (let i = 0; i < max; i++) {
    const run = wrk({ ...options, seconds: 2 })
    const close = (a, b) => a !== undefined && b !== undefined && Math.abs(a - b) <= 0.05 * Math.max(a, b)
    if (
      i >= 2 && last !== undefined && close(run.rps, last.rps) &&
      (run.serverUs === undefined || close(run.serverUs, last.serverUs))
    ) {
      return i + 1
    }
    last = run
  }
  return max
}

// The backends' pids, or undefined when they cannot be listed (no psql): then no db figure.
const backendPids = (database) => {
  if (database === undefined) return undefined
  const url = new URL(adminUrl)
  url.pathname = "/postgres"
  try {
    const out = execFileSync("psql", [
      url.toString(),
      "-Atc",
      `SELECT pid FROM pg_stat_activity WHERE datname = '${database}'`
    ], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"]
    })
    return out.split("\n").filter(Boolean).map(Number)
  } catch {
    return undefined
  }
}

/**
 * CPU of a server process and of the PostgreSQL backends serving its database (same machine;
 * found by database name in pg_stat_activity, so it works for any client library). A backend
 * that appears during a run is counted from zero; one that exits during it is lost, so pools
 * that keep their connections are measured exactly. No `database`: an in-process store, whose
 * database work is in the server's own figure.
 */
export const cpuMeter = ({ pid, database }) => ({
  sample: () => {
    const pids = backendPids(database)
    return { server: cpuMillis(pid), backends: pids && new Map(pids.map((p) => [p, cpuMillis(p) ?? 0])) }
  },
  diff: (before, after) => {
    if (before.server === undefined || after.server === undefined) return undefined
    const server = after.server - before.server
    if (before.backends === undefined || after.backends === undefined) return { server, db: undefined }
    let db = 0
    for (const [p, ms] of after.backends) db += ms - (before.backends.get(p) ?? 0)
    return { server, db }
  }
})

/** "1234 req/s (server 250 µs, db 180 µs CPU per request)" */
export const describeRun = (r) => {
  const cpu = r.serverUs === undefined
    ? ""
    : ` (CPU per request: server ${r.serverUs.toFixed(0)} µs${
      r.dbUs === undefined ? "" : `, db ${r.dbUs.toFixed(0)} µs`
    })`
  return `${r.rps.toFixed(0)} req/s${cpu}`
}

const openloadBinary = join(root, "bench/.build/openload")

/** Compiles bench/lib/openload.c when the binary is missing or older than its source. */
export const ensureOpenload = () => {
  const source = join(root, "bench/lib/openload.c")
  if (existsSync(openloadBinary) && statSync(openloadBinary).mtimeMs >= statSync(source).mtimeMs) return
  mkdirSync(dirname(openloadBinary), { recursive: true })
  execFileSync("cc", ["-O2", "-o", openloadBinary, source], { stdio: "inherit" })
}

/** Open-model load at a fixed rate (bench/lib/openload.c); latencies in µs, counted from when each request was due. */
export const openload = ({ base, key, rate, seconds, warmup = 2, connections = 64, emails = 1000 }) => {
  const url = new URL(base)
  let out
  try {
    out = execFileSync(openloadBinary, [
      url.hostname,
      url.port,
      String(rate),
      String(seconds),
      String(warmup),
      String(connections),
      key,
      String(emails)
    ], {
      encoding: "utf8"
    })
  } catch (error) {
    throw new Error(`openload failed (errors or non-2xx answers): ${error.stdout ?? ""}${error.stderr ?? ""}`)
  }
  return JSON.parse(out)
}

/** `openload`, without blocking: several loads can run at the same time (side by side). */
export const openloadAsync = ({ base, key, rate, seconds, warmup = 2, connections = 64, emails = 1000 }) => {
  const url = new URL(base)
  const args = [url.hostname, url.port, rate, seconds, warmup, connections, key, emails].map(String)
  return new Promise((resolve, reject) =>
    execFile(openloadBinary, args, { encoding: "utf8" }, (error, stdout, stderr) =>
      error === null
        ? resolve(JSON.parse(stdout))
        : reject(new Error(`openload failed (errors or non-2xx answers): ${stdout ?? ""}${stderr ?? ""}`)))
  )
}

/** CPU time a process has used so far, all its threads, in ms (Linux /proc; undefined elsewhere). */
export const cpuMillis = (pid) => {
  try {
    // Fields after the command name: utime and stime are the 12th and 13th, in clock ticks
    // (USER_HZ, 100 per second on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return undefined
  }
}

/** Resident memory of a process, in MB (Linux /proc; undefined elsewhere). */
export const rssMb = (pid) => {
  try {
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1])
    return kb / 1024
  } catch {
    return undefined
  }
}

/** A fresh database on the local server; `drop()` removes it. */
export const freshDatabase = async (tag) => {
  const name = `tracklog_bench_${tag}_${process.pid}_${Date.now().toString(36)}`
  const admin = new pg.Client(adminUrl)
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const c = new pg.Client(adminUrl)
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await c.end()
    }
  }
}

export const ensureServerBundle = () => {
  execFileSync(process.execPath, ["build.mjs"], { cwd: join(root, "packages/http"), stdio: "inherit" })
}
