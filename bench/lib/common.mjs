// Shared by the benchmarks: processes, load from wrk, statistics, throwaway databases.
import { spawn, execFileSync } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
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

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Starts a server process that logs a `"msg":"listening","url":"http://…:PORT"` line. */
export const startServer = (args, env = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { PATH: process.env.PATH, PORT: "0", HOST: "127.0.0.1", TRACKLOG_LOG: "off", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const timer = setTimeout(() => reject(new Error(`server did not start: ${output}`)), 60_000)
    child.stdout.on("data", (c) => {
      output += c
      const m = /"msg":"listening","url":"http:\/\/[^:]+:(\d+)"/.exec(output)
      if (m && timer) {
        clearTimeout(timer)
        resolve({
          base: `http://127.0.0.1:${m[1]}`,
          pid: child.pid,
          stop: () => new Promise((done) => { child.once("exit", done); child.kill("SIGTERM") })
        })
      }
    })
    child.stderr.on("data", (c) => (output += c))
    child.once("exit", (code) => reject(new Error(`server exited ${code}: ${output}`)))
  })

export const hasWrk = () => {
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" })
    return true
  } catch (e) {
    return e.status === 1 // wrk --version exits 1 after printing
  }
}

const luaFor = ({ key, emails }) => {
  const dir = mkdtempSync(join(tmpdir(), "tracklog-bench-"))
  const path = join(dir, "track.lua")
  writeFileSync(path, `
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer ${key}"
local i = 0
request = function()
  i = i + 1
  local body = '{"email":"user' .. (i % ${emails}) .. '@example.com","event":"purchase","data":{"plan":"pro","amount":' .. (i % 100) .. '}}'
  return wrk.format(nil, "/v1/track", nil, body)
end
`)
  return path
}

/** Closed-model load with wrk; returns requests/s and the non-2xx count. */
export const wrk = ({ base, key, emails = 1000, connections = 50, seconds = 5 }) => {
  const out = execFileSync("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "-s", luaFor({ key, emails }), base], {
    encoding: "utf8"
  })
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
  const errors = /Socket errors: (.*)/.exec(out)?.[1]
  return { rps, non2xx, errors, out }
}

/** Open-model load at a fixed rate from this process; latency is measured from the scheduled send time. */
export const fixedRate = async ({ base, key, rate, seconds, emails = 1000 }) => {
  const { Agent, request } = await import("undici")
  const agent = new Agent({ connections: 256, pipelining: 1 })
  const latencies = []
  let failures = 0
  const total = Math.floor(rate * seconds)
  const start = performance.now()
  const inflight = []
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 1) await sleep(wait)
    const body = JSON.stringify({ email: `user${i % emails}@example.com`, event: "purchase", data: { plan: "pro", amount: i % 100 } })
    inflight.push(
      request(`${base}/v1/track`, {
        method: "POST",
        dispatcher: agent,
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body
      }).then(async (res) => {
        await res.body.text()
        if (res.statusCode !== 200) failures++
        latencies.push(performance.now() - due)
      }, () => failures++)
    )
  }
  await Promise.all(inflight)
  await agent.close()
  latencies.sort((a, b) => a - b)
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]
  return { p50: q(0.5), p99: q(0.99), max: latencies[latencies.length - 1], failures, sent: total }
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
