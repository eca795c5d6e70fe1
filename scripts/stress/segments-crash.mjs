#!/usr/bin/env node
// Segment transitions across kill -9 (behaviour §11.3): two server processes on one PostgreSQL
// database run the segment processor (one active, the other waiting on its lease); tracks flip
// contacts in and out of a segment while one process or the other is killed with SIGKILL and
// restarted. Then, per contact, the transitions in its stream must be exactly those its commands
// call for — every one once, none lost, entries and exits alternating.
//
//   node scripts/stress/segments-crash.mjs
// env: SEGCRASH_SECONDS=20  SEGCRASH_KILL_MS=1500 (between kills)  SEGCRASH_EMAILS=20
//      DATABASE_URL (admin url of the local server)
import {
  createDatabase,
  ensureBuilt,
  envInt,
  PK,
  pgConnect,
  processorsBehind,
  rand,
  runScript,
  SK,
  sleep,
  startServer,
  track,
  uid
} from "./lib.mjs"

const seconds = envInt("SEGCRASH_SECONDS", 20)
const killEvery = envInt("SEGCRASH_KILL_MS", 1500)
const emails = envInt("SEGCRASH_EMAILS", 20)

runScript("segments-crash", async (report, defer) => {
  ensureBuilt()
  const database = await createDatabase(undefined, "tracklog_stress_segments")
  defer(database.drop)
  const env = { TRACKLOG_STORE: "postgres", DATABASE_URL: database.url, TRACKLOG_PROJECT_KEYS: `${PK}:${SK}` }
  const servers = await Promise.all([startServer(env), startServer(env)])
  defer(() => servers.forEach((s) => s?.kill("SIGKILL")))

  const created = await fetch(`${servers[0].base}/segments`, {
    method: "POST",
    headers: { authorization: `Bearer ${SK}`, "content-type": "application/json" },
    body: JSON.stringify({
      name: "Flipping",
      condition: { logic: "AND", groups: [{ filters: [{ field: "data.n", operator: "equals", value: 1 }] }] }
    })
  })
  if (created.status !== 201) throw new Error(`POST /segments: ${created.status} ${await created.text()}`)
  const segment = await created.json()
  // Live before the first track: contacts there at its first pass would be its silent baseline.
  for (let i = 0; i < 300; i++) {
    const answer = await fetch(`${servers[0].base}/segments/${segment.id}`, {
      headers: { authorization: `Bearer ${SK}` }
    })
    if ((await answer.json()).status === "live") break
    await sleep(100)
  }

  const tag = uid()
  let kills = 0
  let acknowledged = 0
  let stopping = false
  // One process or the other killed and restarted, again and again.
  const killer = (async () => {
    while (!stopping) {
      await sleep(killEvery)
      if (stopping) break
      const i = rand(2)
      servers[i].kill("SIGKILL")
      kills++
      servers[i] = await startServer(env)
    }
  })()
  // Tracks that flip `n`, to whichever process is up; an answer lost to a kill is fine (it was
  // never acknowledged, and if it was written its transitions must be right all the same).
  const end = Date.now() + seconds * 1000
  const workers = Array.from({ length: 8 }, async (_, w) => {
    let i = w
    while (Date.now() < end) {
      const body = { email: `c${i % emails}-${tag}@seg.test`, event: "flip", data: { n: rand(2) } }
      const answer = await track(servers[i % 2].base, body, { timeoutMs: 10_000 }).catch(() => undefined)
      if (answer?.status === 200) acknowledged++
      i += 8
    }
  })
  await Promise.all(workers)
  stopping = true
  await killer
  const db = await pgConnect(database.url)
  try {
    // The processor catches up after the last restart (a new lease within 5 s): its checkpoint at
    // the log's last event, which its own transitions keep moving until it has nothing to add.
    for (let i = 0; i < 600; i++) {
      if ((await processorsBehind(db, "tracklog.segments")) === 0 && i > 10) break
      if (i % 25 === 0)
        console.log(
          `[segments-crash] waiting for the processor: ${
            JSON.stringify(await db.query(`SELECT name, transaction_id::text, global_position FROM processors`))
          }`
        )
      await sleep(200)
    }
    const rows = await db.query(
      `SELECT stream_id, version, transaction_id::text AS tx, data::text AS data FROM events ORDER BY stream_id, version`
    )
    const streams = new Map()
    for (const row of rows) {
      const list = streams.get(row.stream_id) ?? []
      list.push({ tx: row.tx, event: JSON.parse(row.data) })
      streams.set(row.stream_id, list)
    }
    const entry = `segment.${segment.slug}.entry`
    const exit = `segment.${segment.slug}.exit`
    let transitions = 0
    for (const [streamId, events] of streams) {
      // What the commands call for: after each (a run of the stream's events in one transaction),
      // is `n` 1?
      const expected = []
      let inside = false
      let n
      const own = events.filter((e) => !(e.event._tag === "EventTracked" && e.event.name.startsWith("segment.")))
      own.forEach((e, k) => {
        if (e.event._tag === "ContactDataChanged" && Object.hasOwn(e.event.set, "n")) n = e.event.set.n
        if (e.event._tag === "ContactDataChanged" && e.event.unset.includes("n")) n = undefined
        const next = own[k + 1]
        if (next !== undefined && next.tx === e.tx) return
        if ((n === 1) !== inside) {
          inside = n === 1
          expected.push(inside ? entry : exit)
        }
      })
      const recorded = events.filter((e) => e.event.name === entry || e.event.name === exit).map((e) => e.event.name)
      transitions += recorded.length
      if (JSON.stringify(recorded) !== JSON.stringify(expected)) {
        let k = 0
        while (k < recorded.length && recorded[k] === expected[k]) k++
        if (process.env.SEGCRASH_DEBUG) {
          const trail = events.map((e) =>
            e.event._tag === "EventTracked"
              ? `${e.tx}:${e.event.name}`
              : `${e.tx}:${e.event._tag}${JSON.stringify(e.event.set ?? "")}`
          )
          console.log(
            `first difference at transition ${k} of ${expected.length}; last events:\n${trail.slice(-12).join("\n")}`
          )
        }
        report.violation(
          `${streamId}: recorded ${recorded.length} transitions [${recorded.slice(0, 6).join(", ")}…], ` +
            `expected ${expected.length} [${expected.slice(0, 6).join(", ")}…]`
        )
      }
    }
    const members = await db.query(`SELECT count(*)::int AS n FROM segment_members WHERE segment_id = $1`, [segment.id])
    Object.assign(report.figures, {
      kills,
      acknowledged,
      contacts: streams.size,
      transitions,
      members: members[0].n
    })
    report.check(kills >= 2, `only ${kills} kills`)
    report.check(transitions > 0, "no transition recorded at all")
    console.log(
      `[segments-crash] ${kills} kills, ${acknowledged} tracks acknowledged, ${streams.size} contacts, ` +
        `${transitions} transitions, each as its commands call for`
    )
  } finally {
    await db.close()
  }
})
