// Segments over HTTP on PostgreSQL (issue 29), the server as `pnpm start` runs it:
// - tracks with 20 live segments (data, event, time and reference conditions mixed) against the
//   same server with none (target ≥ 0.7×);
// - entry latency: from a track's answer to its `segment.<slug>.entry` on the event stream, p99,
//   at half the server's maximum track rate (target ≤ 1 s);
// - exit from time: from the instant a window passed to the exit on the stream (target ≤ 10 s).
import { pgConnect, processorsBehind } from "../scripts/stress/lib.mjs"
import { freshDatabase, openloadAsync, startServer, wrk } from "./lib/common.mjs"
import { compare } from "./http.mjs"

const keys = { TRACKLOG_PROJECT_KEYS: "pk_bench:sk_bench" }
const auth = { authorization: "Bearer sk_bench", "content-type": "application/json" }
const probes = Number(process.env.BENCH_PROBES ?? 200)

// Once more when the connection was one the server had just closed as idle (after a long wrk run).
const send = (url, init) =>
  fetch(url, init).catch((e) => e?.cause?.code === "UND_ERR_SOCKET" ? fetch(url, init) : Promise.reject(e))

const post = async (base, path, body) => {
  const answer = await send(`${base}${path}`, { method: "POST", headers: auth, body: JSON.stringify(body) })
  if (!answer.ok) throw new Error(`${path}: ${answer.status} ${await answer.text()}`)
  return answer.json()
}

const f = (field, operator, value, unit) => ({
  field,
  operator,
  ...(value === undefined ? {} : { value }),
  ...(unit ? { unit } : {})
})
const all = (...filters) => ({ logic: "AND", groups: [{ filters }] })

// 20 segments: the mix a real project has. Only some read what the bench's tracks change.
const twenty = (firstId) => [
  all(f("data.plan", "equals", "pro")),
  all(f("data.plan", "notEquals", "free")),
  all(f("data.score", "greaterThan", 50)),
  all(f("data.country", "equals", "DE")),
  all(f("email", "contains", "vip")),
  all(f("subscribed", "equals", false)),
  all(f("event.purchase", "triggered")),
  all(f("event.purchase", "triggeredWithin", 30, "days")),
  all(f("event.purchase", "notTriggeredWithin", 7, "days")),
  all({ field: "event.purchase", operator: "triggeredAtLeast", value: 3, within: 30, unit: "days" }),
  all(f("event.login", "triggeredWithin", 1, "days")),
  all(f("event.login", "triggeredOlderThan", 90, "days")),
  all(f("createdAt", "within", 7, "days")),
  all(f("updatedAt", "olderThan", 30, "days")),
  all(f("data.signup", "within", 14, "days")),
  {
    logic: "OR",
    groups: [{ filters: [f("data.plan", "equals", "team")] }, { filters: [f("event.upgrade", "triggered")] }]
  },
  all(f("event.churn", "notTriggered"), f("data.plan", "exists")),
  all(f("data.tags", "contains", "beta")),
  all(f(`segment.${firstId}`, "memberOfSegment"), f("event.purchase", "triggered")),
  all(f("event.pageview", "triggeredWithin", 1, "hours"))
]

const defineTwenty = async (base) => {
  const first = await post(base, "/segments", { name: "seg 0", condition: twenty("x")[0] })
  const conditions = twenty(first.id)
  for (let i = 1; i < conditions.length; i++)
    await post(base, "/segments", { name: `seg ${i}`, condition: conditions[i] })
}

// The event stream, from now: calls `onFrame(data, receivedAt)` for each event until `close()`.
const subscribe = async (base, onFrame) => {
  const controller = new AbortController()
  const answer = await fetch(`${base}/events/stream?from=now`, { headers: auth, signal: controller.signal })
  const reader = answer.body.getReader()
  const decoder = new TextDecoder()
  let buffer = ""
  const pump = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return
        // Split once per chunk: slicing the rest off after each frame is quadratic in a chunk's frames.
        const frames = (buffer + decoder.decode(value, { stream: true })).split("\n\n")
        buffer = frames.pop()
        const at = performance.now()
        for (const frame of frames) {
          const data = frame.split("\n").find((l) => l.startsWith("data:"))
          if (data !== undefined) onFrame(JSON.parse(data.slice(5)), at)
        }
      }
    } catch {
      // closed
    }
  })()
  return { close: () => (controller.abort(), pump) }
}

const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * p)]

export const run = async () => {
  const dbA = await freshDatabase("segments")
  const dbB = await freshDatabase("nosegments")
  const env = { TRACKLOG_LOG: "on", ...keys }
  const withSegments = await startServer(["packages/http/dist/main.js"], { DATABASE_URL: dbA.url, ...env })
  const without = await startServer(["packages/http/dist/main.js"], { DATABASE_URL: dbB.url, ...env })
  // Until the processor is through the log and no segment is building.
  const settled = async () => {
    const db = await pgConnect(dbA.url)
    const building = async () =>
      (await (await send(`${withSegments.base}/segments`, { headers: auth })).json()).data.filter((s) =>
        s.status !== "live"
      ).length
    while (await processorsBehind(db, "tracklog.segments") > 0 || await building() > 0) {
      await new Promise((r) => setTimeout(r, 250))
    }
    await db.close()
  }
  try {
    await defineTwenty(withSegments.base)
    // The bench's 10 000 contacts made first on both servers, and the processor through what that
    // left it (each new contact enters several segments at once: ~20 000 transitions): a one-off
    // backfill, not the cost of tracking with live segments, which the rounds below measure.
    for (const server of [withSegments, without]) {
      wrk({ base: server.base, key: "pk_bench", emails: 10_000, connections: 50, seconds: 4 })
    }
    await settled()
    const result = compare({
      name: "HTTP tracks, Postgres, 20 live segments vs none",
      a: { label: "20 segments", server: withSegments, database: dbA.name },
      b: { label: "none", server: without, database: dbB.name },
      emails: 10_000
    })
    console.log(`segments cost: ${result.ratio.toFixed(2)}× the throughput without (target ≥ 0.7×)`)

    // The maximum-rate runs leave the processor behind (every new contact enters the segments on
    // createdAt, subscription and the like: a transition each) and the twenty segments building
    // (their passes go over every contact the runs made). Latency is measured in the steady state
    // at half that rate, so from a processor that is through both: how long that took is shown.
    const behindSince = performance.now()
    await settled()
    const db = await pgConnect(dbA.url)
    const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM events WHERE data->>'name' LIKE 'segment.%'`)
    await db.close()
    console.log(
      `after the maximum-rate runs: the processor was through the log and the passes in ${
        ((performance.now() - behindSince) / 1000).toFixed(1)
      } s (${n} transitions recorded)`
    )

    // Entry latency at half the maximum rate measured above.
    const vip = await post(withSegments.base, "/segments", {
      name: "probe vip",
      condition: all(f("data.probe", "equals", "in"))
    })
    const slug = vip.slug
    while (
      (await (await send(`${withSegments.base}/segments/${vip.id}`, { headers: auth })).json()).status !== "live"
    ) await new Promise((r) => setTimeout(r, 100))
    const waiting = new Map()
    const latencies = []
    // BENCH_STREAM_CLIENT=off: the log's figure without a client reading the event stream, whose
    // reading shares the server's thread (and the machine) with the processor.
    const streamClient = process.env.BENCH_STREAM_CLIENT !== "off"
    const stream = streamClient
      ? await subscribe(withSegments.base, (data, at) => {
        if (data.name !== `segment.${slug}.entry`) return
        const sent = waiting.get(data.contactId ?? data.contact)
        if (sent !== undefined) latencies.push(at - sent)
      })
      : { close: async () => {} }
    // The target's measure: from the track's answer to the entry in the log, by polling the
    // log for the probes still waiting (their streams, by key) every 20 ms. The stream's figure
    // adds the event stream's own delivery to this client.
    const logDb = await pgConnect(dbA.url)
    const inLog = []
    const pendingLog = new Map()
    let polling = true
    const poller = (async () => {
      while (polling) {
        const ids = [...pendingLog.keys()]
        if (ids.length > 0) {
          const rows = await logDb.query(
            `SELECT DISTINCT stream_id FROM events WHERE stream_id = ANY ($1::text[]) AND data->>'name' = $2`,
            [ids, `segment.${slug}.entry`]
          )
          const now = performance.now()
          for (const { stream_id } of rows) {
            inLog.push(now - pendingLog.get(stream_id))
            pendingLog.delete(stream_id)
          }
        }
        await new Promise((r) => setTimeout(r, 20))
      }
    })()
    const rate = Math.max(100, Math.round(result.a.rps / 2))
    const load = openloadAsync({ base: withSegments.base, key: "pk_bench", rate, seconds: 20, emails: 10_000 })
    await new Promise((r) => setTimeout(r, 3000))
    for (let i = 0; i < probes; i++) {
      const answer = await post(withSegments.base, "/v1/track", {
        email: `probe${i}@bench.io`,
        event: "probe",
        data: { probe: "in" }
      })
      waiting.set(answer.data.contact, performance.now())
      pendingLog.set(answer.data.contact, performance.now())
      await new Promise((r) => setTimeout(r, 50))
    }
    await load
    await new Promise((r) => setTimeout(r, 2000))
    await stream.close()
    polling = false
    await poller
    await logDb.close()
    console.log(
      `entry latency at ${rate} tracks/s (half the maximum), track answered → entry in the log: p50 ${
        percentile(inLog, 0.5)?.toFixed(0)
      } ms, p99 ${percentile(inLog, 0.99)?.toFixed(0)} ms over ${inLog.length} entries${
        pendingLog.size > 0 ? ` (${pendingLog.size} not in the log within 2 s of the load's end)` : ""
      } (target p99 ≤ 1000 ms); ${
        streamClient
          ? `on the event stream: p50 ${percentile(latencies, 0.5)?.toFixed(0)} ms, p99 ${
            percentile(latencies, 0.99)?.toFixed(0)
          } ms over ${latencies.length}`
          : "no client on the event stream (BENCH_STREAM_CLIENT=off)"
      }`
    )

    // Exit from time: a one-minute window, measured from the instant it passed.
    const recent = await post(withSegments.base, "/segments", {
      name: "probe recent",
      condition: all(f("event.tick", "triggeredWithin", 1, "minutes"))
    })
    const exits = []
    const instants = new Map()
    const exitStream = await subscribe(withSegments.base, (data, at) => {
      if (data.name !== `segment.${recent.slug}.exit`) return
      const instant = instants.get(data.contactId ?? data.contact)
      if (instant !== undefined) exits.push(Date.now() - instant - (performance.now() - at))
    })
    for (let i = 0; i < 20; i++) {
      const answer = await post(withSegments.base, "/v1/track", { email: `tick${i}@bench.io`, event: "tick" })
      instants.set(answer.data.contact, Date.parse(answer.data.timestamp) + 60_000)
    }
    await new Promise((r) => setTimeout(r, 75_000))
    await exitStream.close()
    console.log(
      `exit from time: ${exits.length}/20 exits on the stream, worst ${Math.max(...exits).toFixed(0)} ms after ` +
        `the instant the window passed (target ≤ 10 000 ms)`
    )
  } finally {
    await withSegments.stop()
    await without.stop()
    await dbA.drop()
    await dbB.drop()
  }
}
