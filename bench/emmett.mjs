// Ours against Emmett (bench/baselines/emmett-http.mjs), both on PostgreSQL, same run:
// 1. the 10k-email workload: most tracks hit a contact with a short stream;
// 2. long histories: EMMETT_CONTACTS contacts (default 200) that already carry EMMETT_HISTORY
//    events each (default 300). Emmett's CommandHandler reads a contact's whole stream for every
//    command; ours reads the contact's row, so only Emmett's cost grows with the history.
import { getPostgreSQLEventStore } from "@event-driven-io/emmett-postgresql"
import { randomUUID } from "node:crypto"
import { contactProjection, streamId } from "./baselines/emmett-http.mjs"
import { projections } from "@event-driven-io/emmett"
import { compare } from "./http.mjs"
import { freshDatabase, startServer } from "./lib/common.mjs"
import { seedServer } from "./lib/seed.mjs"

const contacts = Number(process.env.EMMETT_CONTACTS ?? 200)
const history = Number(process.env.EMMETT_HISTORY ?? 300)
const keys = { TRACKLOG_PROJECT_KEYS: "pk_bench:sk_bench" }

// Emmett's streams for user0..user<n-1>, each a ContactCreated and `tracked` EventTracked,
// appended through its own API (the inline projection writes the documents).
const seedEmmett = async (url, n, tracked) => {
  const store = getPostgreSQLEventStore(url, { projections: projections.inline([contactProjection]) })
  try {
    for (let i = 0; i < n; i++) {
      const email = `user${i}@example.com`
      const at = new Date().toISOString()
      const events = [{
        type: "ContactCreated",
        data: { contactId: randomUUID(), projectId: "bench", email, subscribed: true, at }
      }]
      for (let v = 0; v < tracked; v++)
        events.push({
          type: "EventTracked",
          data: { eventId: randomUUID(), name: "signup", data: { plan: "free" }, at }
        })
      await store.appendToStream(streamId(email), events)
    }
  } finally {
    await store.close()
  }
}

const pair = async (tag, seed) => {
  const dbA = await freshDatabase(`emm_ours_${tag}`)
  const dbB = await freshDatabase(`emm_base_${tag}`)
  const ours = await startServer(["packages/http/dist/main.js"], { DATABASE_URL: dbA.url, ...keys })
  const emmett = await startServer(["bench/baselines/emmett-http.mjs"], { DATABASE_URL: dbB.url })
  const stop = async () => {
    await ours.stop()
    await emmett.stop()
    await dbA.drop()
    await dbB.drop()
  }
  try {
    await seed?.(dbA, dbB)
  } catch (e) {
    await stop()
    throw e
  }
  return {
    a: { label: "tracklog", server: ours, database: dbA.name },
    b: { label: "emmett", server: emmett, database: dbB.name },
    stop
  }
}

export const run = async () => {
  {
    const { a, b, stop } = await pair("10k")
    try {
      const r = compare({
        name: "HTTP, Postgres store vs Emmett 0.42 (stream per contact, inline Pongo projection)",
        a,
        b,
        emails: 10_000
      })
      console.log(`emmett target: ${r.ratio.toFixed(2)}× Emmett on the 10k-email workload (target ≥ 8×)`)
    } finally {
      await stop()
    }
  }
  {
    const { a, b, stop } = await pair("long", async (dbA, dbB) => {
      await seedServer(dbA.url, 0, contacts - 1, { prefix: "user", tracked: history })
      await seedEmmett(dbB.url, contacts, history)
    })
    try {
      compare({
        name: `HTTP, long histories (${contacts} contacts × ${history}+ events), Postgres store vs Emmett`,
        a,
        b,
        emails: contacts
      })
    } finally {
      await stop()
    }
  }
}
