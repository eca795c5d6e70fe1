// `pnpm bench [in-process|append|http-memory|http-postgres|http-embedded|growth|emmett|outside|replay|latency|idempotency|catchup|sse|hono|segments|segments-http|webhooks]…`: every benchmark prints a ratio
// against a baseline measured in the same run. BENCH_ROUNDS / BENCH_SECONDS tune the rounds.
import { execFileSync } from "node:child_process"
import { ensureOpenload, ensureServerBundle, hasWrk, root } from "./lib/common.mjs"

const all = [
  "in-process",
  "append",
  "http-memory",
  "http-postgres",
  "http-embedded",
  "growth",
  "emmett",
  "outside",
  "replay",
  "latency",
  "idempotency",
  "catchup",
  "sse",
  "hono",
  "segments",
  "segments-http",
  "webhooks"
]
// Run only when named: `pnpm bench http-metrics`, `pnpm bench metrics-instructions`.
const extra = ["http-metrics", "metrics-instructions"]
const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : all

const tsx = (file) =>
  execFileSync(process.execPath, ["--conditions=@tracklog/source", "--import", "tsx", file], {
    cwd: root,
    stdio: "inherit",
    env: process.env
  })

if (
  chosen.includes("sse") &&
  !chosen.some((c) => c.startsWith("http") || ["latency", "growth", "emmett", "outside", "hono"].includes(c))
) ensureServerBundle()
if (
  chosen.some((c) =>
    c.startsWith("http") ||
    ["latency", "growth", "emmett", "outside", "hono", "segments-http", "webhooks"].includes(c)
  )
) {
  if (!hasWrk()) {
    console.error("The HTTP benchmarks need wrk: apt-get install wrk")
    process.exit(1)
  }
  ensureServerBundle()
}
if (["latency", "segments-http", "webhooks"].some((c) => chosen.includes(c))) ensureOpenload()
const http = await import("./http.mjs")
const latency = await import("./latency.mjs")
const sse = await import("./sse.mjs")
const webhooks = await import("./webhooks.mjs")
const hono = await import("./hono.mjs")

for (const name of chosen) {
  console.log(`\n== ${name}`)
  switch (name) {
    case "in-process":
      tsx("bench/inprocess.ts")
      break
    case "replay":
      tsx("bench/replay.ts")
      break
    case "append":
      tsx("bench/append.ts")
      break
    case "idempotency":
      tsx("bench/idempotency.ts")
      break
    case "http-memory":
      await http.memory()
      break
    case "http-postgres":
      await http.postgres()
      break
    case "http-embedded":
      await http.embedded()
      break
    case "growth":
      await (await import("./growth.mjs")).run()
      break
    case "emmett":
      await (await import("./emmett.mjs")).run()
      break
    case "outside":
      await (await import("./outside.mjs")).run()
      break
    case "latency":
      await latency.run()
      break
    case "segments":
      tsx("bench/segments.ts")
      break
    case "segments-http":
      await (await import("./segments-http.mjs")).run()
      break
    case "catchup":
      tsx("bench/catchup.ts")
      break
    case "sse":
      await sse.run()
      break
    case "webhooks":
      await webhooks.run()
      break
    case "hono":
      await hono.run()
      break
    case "http-metrics":
      await http.metrics()
      break
    case "metrics-instructions":
      ensureServerBundle()
      await (await import("./metrics-instructions.mjs")).run()
      break
    default:
      console.error(`unknown benchmark ${name}; choose from ${[...all, ...extra].join(", ")}`)
      process.exit(1)
  }
}
