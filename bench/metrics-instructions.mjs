// The cost of metrics on the track path as instructions per request (`pnpm bench metrics-instructions`):
// the server bundle under valgrind's callgrind, TRACKLOG_METRICS on and off, instrumentation
// switched on only after a warm-up, then a fixed number of track requests over keep-alive
// connections; instructions counted ÷ requests. Instruction counts do not depend on what else the
// machine runs, where the HTTP benchmark's req/s and CPU time do (a shared 2-core machine moves
// them by ±10–20 % from round to round). Cache misses and stalls are not in this figure.
// BENCH_REQUESTS (default 1000) and BENCH_WARMUP (default 2000) tune it, BENCH_KEEP=1 keeps the
// callgrind files for callgrind_annotate; needs valgrind. Takes minutes: valgrind runs node ~50× slower.
import { execFileSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startServer } from "./lib/common.mjs"

const requests = Number(process.env.BENCH_REQUESTS ?? 1000)
const warmup = Number(process.env.BENCH_WARMUP ?? 2000)
const connections = 8

// `count` track requests, `connections` at a time, each on its own keep-alive connection.
const load = async (base, count, offset) => {
  let next = 0
  const one = async () => {
    while (next < count) {
      const i = offset + next++
      const response = await fetch(`${base}/v1/track`, {
        method: "POST",
        headers: { authorization: "Bearer pk_bench", "content-type": "application/json" },
        body: JSON.stringify({
          email: `user${i % 1000}@example.com`,
          event: "purchase",
          data: { plan: "pro", amount: i % 100 }
        })
      })
      await response.arrayBuffer()
      if (response.status !== 200) throw new Error(`track answered ${response.status}`)
    }
  }
  await Promise.all(Array.from({ length: connections }, one))
}

const measure = async (metrics) => {
  const dir = mkdtempSync(join(tmpdir(), "tracklog-callgrind-"))
  const server = await startServer(
    [
      "--tool=callgrind",
      "--instr-atstart=no",
      `--callgrind-out-file=${join(dir, "out.%p")}`,
      process.execPath,
      "packages/http/dist/main.js"
    ],
    { TRACKLOG_STORE: "memory", TRACKLOG_PROJECT_KEYS: "pk_bench:sk_bench", TRACKLOG_METRICS: metrics, USER: "bench" },
    "valgrind"
  )
  try {
    await load(server.base, warmup, 0)
    // vgdb finds the server by names taken from USER and HOST: give it the server's.
    const control = (...args) =>
      execFileSync("callgrind_control", [...args, String(server.pid)], {
        stdio: "ignore",
        env: { ...process.env, USER: "bench", HOST: "127.0.0.1" }
      })
    control("-i", "on")
    await load(server.base, requests, warmup)
    // A dump now holds what was counted since instrumentation went on: the requests, not the shutdown.
    control("--dump")
  } finally {
    await server.stop()
  }
  let instructions = 0
  for (const file of readdirSync(dir).filter((f) => /^out\.\d+\.1$/.test(f))) {
    const totals = /^(?:totals|summary): (\d+)/m.exec(readFileSync(join(dir, file), "utf8"))
    if (totals !== null) instructions += Number(totals[1])
  }
  if (process.env.BENCH_KEEP === undefined) rmSync(dir, { recursive: true, force: true })
  else console.log(`callgrind output of metrics ${metrics}: ${dir}`)
  if (!(instructions > 0)) throw new Error("callgrind counted nothing: was instrumentation switched on?")
  return instructions / requests
}

export const run = async () => {
  const off = await measure("off")
  const on = await measure("on")
  console.log(
    `HTTP, memory store, instructions per track request under callgrind [${requests} requests after ${warmup} ` +
      `warm-up, ${connections} connections]: metrics off ${(off / 1000).toFixed(1)} k, on ${
        (on / 1000).toFixed(1)
      } k → ${((on / off - 1) * 100).toFixed(1)} % (target ≤ 3 %)`
  )
  return { on, off }
}
