// Shared by the benchmarks: processes, load from wrk, statistics, throwaway databases.
import { spawn, execFileSync } from "node:child_process"
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
    out = execFileSync(openloadBinary, [url.hostname, url.port, String(rate), String(seconds), String(warmup), String(connections), key, String(emails)], {
      encoding: "utf8"
    })
  } catch (error) {
    throw new Error(`openload failed (errors or non-2xx answers): ${error.stdout ?? ""}${error.stderr ?? ""}`)
  }
  return JSON.parse(out)
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
