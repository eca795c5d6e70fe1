// Webhooks (issue 30), over HTTP on PostgreSQL: the track rate with one endpoint subscribed to `*`
// on a local receiver, against the same server with no endpoint (target ≥ 0.7×); whether
// deliveries keep up (the queue left when the load stops, and how long it takes to drain); and, at
// half the maximum rate, the p99 from an event's time to its delivery (target ≤ 1 s).
import { freshDatabase, median, openload, startServer, wrk } from "./lib/common.mjs"

const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const key = { pk: "pk_bench", sk: "sk_bench" }

const json = async (url, init = {}) => {
  const response = await fetch(url, init)
  return response.status === 204 ? undefined : response.json()
}
const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}
const pending = async (base, id) =>
  (await json(`${base}/webhooks/${id}/deliveries?status=pending&limit=100`, {
    headers: { authorization: `Bearer ${key.sk}` }
  })).data.length

export const run = async () => {
  let dbA, dbB
  try {
    dbA = await freshDatabase("wh_none")
    dbB = await freshDatabase("wh_star")
  } catch {
    console.log("no PostgreSQL server (DATABASE_URL): skipping the webhooks benchmark")
    return
  }
  const env = { TRACKLOG_PROJECT_KEYS: `${key.pk}:${key.sk}`, TRACKLOG_WEBHOOK_ALLOW_PRIVATE: "on" }
  const receiver = await startServer(["bench/lib/receiver.mjs"])
  const none = await startServer(["packages/http/dist/main.js"], { ...env, DATABASE_URL: dbA.url })
  const star = await startServer(["packages/http/dist/main.js"], { ...env, DATABASE_URL: dbB.url })
  try {
    const made = await json(`${star.base}/webhooks`, {
      method: "POST",
      headers: { authorization: `Bearer ${key.sk}`, "content-type": "application/json" },
      body: JSON.stringify({ url: `${receiver.base}/hook`, events: ["*"] })
    })
    for (const server of [none, star]) wrk({ base: server.base, key: key.pk, seconds: 2 })
    const rates = { none: [], star: [] }
    const drains = []
    const left = []
    for (let r = 0; r < rounds; r++) {
      rates.none.push(wrk({ base: none.base, key: key.pk, seconds }).rps)
      rates.star.push(wrk({ base: star.base, key: key.pk, seconds }).rps)
      const stopped = performance.now()
      left.push(await pending(star.base, made.id))
      while (await pending(star.base, made.id) > 0) await new Promise((r) => setTimeout(r, 50))
      drains.push(performance.now() - stopped)
    }
    const a = median(rates.none)
    const b = median(rates.star)
    console.log(
      `webhooks, postgres: ${b.toFixed(0)} tracks/s with one '*' endpoint vs ${a.toFixed(0)} with none → ${
        (b / a).toFixed(2)
      }× (target ≥ 0.7); pending when the load stopped: ${left.join(", ")} (100 = at least 100), drained in ${
        drains.map((d) => (d / 1000).toFixed(1)).join(", ")
      } s`
    )
    // Half the maximum rate with the endpoint, open model; delays from the event time to arrival.
    await json(`${receiver.base}/reset`, { method: "POST" })
    const rate = Math.floor(b / 2)
    openload({ base: star.base, key: key.pk, rate, seconds: Math.max(seconds, 8), warmup: 0 })
    while (await pending(star.base, made.id) > 0) await new Promise((r) => setTimeout(r, 50))
    const stats = await json(`${receiver.base}/stats`)
    // Where the time goes, on the newest 100 deliveries: event → queued (the dispatcher), queued →
    // first attempt (the sender).
    const recent = (await json(`${star.base}/webhooks/${made.id}/deliveries?status=delivered&limit=100`, {
      headers: { authorization: `Bearer ${key.sk}` }
    })).data
    const queuedLag = recent.map((d) => Date.parse(d.createdAt) - Date.parse(d.payload.timestamp))
    const sendLag = recent.map((d) => Date.parse(d.attempts[0].at) - Date.parse(d.createdAt))
    console.log(
      `webhooks, postgres: at ${rate} tracks/s, ${stats.count} deliveries (${stats.distinct} distinct ids); ` +
        `event → delivery p50 ${percentile(stats.delays, 50)} ms, p99 ${percentile(stats.delays, 99)} ms ` +
        `(target ≤ 1000); of the last 100, event → queued p50 ${percentile(queuedLag, 50)} ms, p99 ${
          percentile(queuedLag, 99)
        } ms; queued → sent p50 ${percentile(sendLag, 50)} ms, p99 ${percentile(sendLag, 99)} ms`
    )
  } finally {
    await none.stop()
    await star.stop()
    await receiver.stop()
    await dbA.drop()
    await dbB.drop()
  }
}
