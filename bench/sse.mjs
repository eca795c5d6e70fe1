// Live delivery: track → SSE latency at ~1000 tracks/s (issue 11 targets: same process p99 ≤ 50 ms;
// across processes p99 ≤ poll interval + 50 ms). The baseline in the same run is the track's own
// round trip. Latency is measured from the track's answer to the `event.tracked` frame.
import * as Http from "node:http"
import { freshDatabase, startServer } from "./lib/common.mjs"

const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const rate = Number(process.env.BENCH_RATE ?? 1000)
const key = { pk: "pk_bench", sk: "sk_bench" }
const agent = new Http.Agent({ keepAlive: true, maxSockets: 256 })

const percentile = (xs, p) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

const subscribe = (base, onEvent) =>
  new Promise((resolve, reject) => {
    const req = Http.get(
      `${base}/events/stream?from=now`,
      { headers: { authorization: `Bearer ${key.sk}` } },
      (res) => {
        let buffer = ""
        res.setEncoding("utf8")
        res.on("data", (text) => {
          buffer += text
          let end
          while ((end = buffer.indexOf("\n\n")) !== -1) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            if (!block.includes("event: event.tracked")) continue
            const data = block.split("\n").find((l) => l.startsWith("data: "))
            onEvent(JSON.parse(data.slice(6)).id, performance.now())
          }
        })
        resolve(() => req.destroy())
      }
    )
    req.on("error", reject)
  })

const track = (base, i) =>
  new Promise((resolve, reject) => {
    const body = JSON.stringify({ email: `u${i % 500}@example.com`, event: "purchase", data: { i } })
    const sent = performance.now()
    const req = Http.request(`${base}/v1/track`, {
      method: "POST",
      agent,
      headers: {
        authorization: `Bearer ${key.pk}`,
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body)
      }
    }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (c) => (text += c))
      res.on("end", () => resolve({ id: JSON.parse(text).data.event, sent, answered: performance.now() }))
    })
    req.on("error", reject)
    req.end(body)
  })

const measure = async (name, writer, reader) => {
  const received = new Map()
  const close = await subscribe(reader, (id, at) => received.set(id, at))
  const answers = []
  const pending = []
  const started = performance.now()
  for (let i = 0; i < rate * seconds; i++) {
    const due = started + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 1) await new Promise((r) => setTimeout(r, wait))
    pending.push(track(writer, i).then((a) => answers.push(a)))
  }
  await Promise.all(pending)
  const deadline = performance.now() + 5000
  while (received.size < answers.length && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  close()
  // A frame that arrives before the client has read the answer counts as 0 ms after it.
  const delivery = answers.map((a) => Math.max(0, (received.get(a.id) ?? Infinity) - a.answered))
  const fromSend = answers.map((a) => (received.get(a.id) ?? Infinity) - a.sent)
  const roundTrip = answers.map((a) => a.answered - a.sent)
  const missing = answers.filter((a) => !received.has(a.id)).length
  console.log(
    `${name}: ${answers.length} tracks at ${rate}/s; track → SSE p50 ${percentile(delivery, 50).toFixed(1)} ms, ` +
      `p99 ${percentile(delivery, 99).toFixed(1)} ms (missing ${missing}); from the track's send p50 ` +
      `${percentile(fromSend, 50).toFixed(1)} ms, p99 ${
        percentile(fromSend, 99).toFixed(1)
      } ms; baseline track round trip ` +
      `p50 ${percentile(roundTrip, 50).toFixed(1)} ms, p99 ${percentile(roundTrip, 99).toFixed(1)} ms → p99 ratio ` +
      `${(percentile(fromSend, 99) / percentile(roundTrip, 99)).toFixed(2)}× (send → frame over send → answer)`
  )
}

export const run = async () => {
  const env = { TRACKLOG_PROJECT_KEYS: `${key.pk}:${key.sk}` }
  const memory = await startServer(["packages/http/dist/main.js"], { ...env, TRACKLOG_STORE: "memory" })
  try {
    await measure("memory, same process", memory.base, memory.base)
  } finally {
    await memory.stop()
  }
  let db
  try {
    db = await freshDatabase("sse")
  } catch {
    console.log("no PostgreSQL server (DATABASE_URL): skipping the Postgres runs")
    return
  }
  const a = await startServer(["packages/http/dist/main.js"], { ...env, DATABASE_URL: db.url })
  const b = await startServer(["packages/http/dist/main.js"], { ...env, DATABASE_URL: db.url })
  try {
    await measure("postgres, same process", a.base, a.base)
    await measure("postgres, across processes", a.base, b.base)
  } finally {
    await a.stop()
    await b.stop()
    await db.drop()
  }
}
