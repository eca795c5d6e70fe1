// Baseline: the same track command written the way Emmett's docs show it
// (@event-driven-io/emmett + emmett-postgresql): a stream per contact, a pure decide/evolve,
// CommandHandler reading the stream and appending with its expected version, Emmett's PostgreSQL
// event store, and the contact as an inline Pongo projection (one document per stream, written
// in the append's transaction). Served by plain node:http. The rules are behaviour §1.4–§1.6, as in
// packages/core/src/TrackDecider.ts; validation is only what the benchmark and its tests need.
import { CommandHandler, projections } from "@event-driven-io/emmett"
import { getPostgreSQLEventStore, pongoSingleStreamProjection } from "@event-driven-io/emmett-postgresql"
import { randomUUID } from "node:crypto"
import * as Http from "node:http"

const key = `Bearer ${process.env.BENCH_KEY ?? "pk_bench"}`
const project = "bench"

// ---- decide / evolve: the contact's state is folded from its stream on every command.

const isWrapped = (v) =>
  v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 2 && "value" in v &&
  typeof v.persistent === "boolean"

const equals = (a, b) => JSON.stringify(a) === JSON.stringify(b)

const dataChange = (incoming, current) => {
  const set = {}
  const unset = []
  for (const [k, raw] of Object.entries(incoming)) {
    if (raw === "") continue
    if (raw === null) {
      if (Object.hasOwn(current, k)) unset.push(k)
      continue
    }
    let value = raw
    if (isWrapped(raw)) {
      if (!raw.persistent) continue
      value = raw.value
    }
    if (Object.hasOwn(current, k) && equals(current[k], value)) continue
    set[k] = value
  }
  return Object.keys(set).length === 0 && unset.length === 0 ? undefined : { set, unset }
}

export const initialState = () => null

export const evolve = (state, { type, data }) => {
  switch (type) {
    case "ContactCreated":
      return { contactId: data.contactId, email: data.email, subscribed: data.subscribed, data: {} }
    case "SubscriptionChanged":
      return { ...state, subscribed: data.subscribed }
    case "ContactDataChanged": {
      const next = { ...state.data, ...data.set }
      for (const k of data.unset) delete next[k]
      return { ...state, data: next }
    }
    default:
      return state
  }
}

export const decide = (command, state, { contactId, eventId, now }) => {
  const at = now.toISOString()
  const events = []
  if (state === null) {
    events.push({
      type: "ContactCreated",
      data: { contactId, projectId: project, email: command.email, subscribed: command.subscribed ?? true, at }
    })
  } else if (
    command.subscribed !== undefined && command.preserveExistingSubscription !== true &&
    command.subscribed !== state.subscribed
  ) {
    events.push({ type: "SubscriptionChanged", data: { subscribed: command.subscribed, at } })
  }
  const change = dataChange(command.data ?? {}, state?.data ?? {})
  if (change !== undefined) events.push({ type: "ContactDataChanged", data: { ...change, at } })
  events.push({ type: "EventTracked", data: { eventId, name: command.event, data: command.data ?? {}, at } })
  return events
}

// ---- the inline projection: the contact document, id = stream id.

export const contactProjection = pongoSingleStreamProjection({
  collectionName: "contacts",
  canHandle: ["ContactCreated", "SubscriptionChanged", "ContactDataChanged", "EventTracked"],
  initialState: () => null,
  evolve: (document, event) => {
    const next = evolve(document, event)
    return next === null ? null : { ...next, updatedAt: event.data.at }
  }
})

// Retried on a version conflict (two requests for one contact at once), as Emmett's docs advise.
const handle = CommandHandler({ evolve, initialState, retry: { onVersionConflict: true } })

export const streamId = (email) => `contact-${project}-${email}`

export const start = (url, port = 0) => {
  const eventStore = getPostgreSQLEventStore(url, { projections: projections.inline([contactProjection]) })

  const track = async (command) => {
    const eventId = randomUUID()
    const now = new Date()
    const { newState } = await handle(
      eventStore,
      streamId(command.email),
      (state) => decide(command, state, { contactId: randomUUID(), eventId, now })
    )
    return { contact: newState.contactId, event: eventId, timestamp: now.toISOString() }
  }

  const answer = (res, status, body) => {
    const text = JSON.stringify(body)
    res.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(text)
    })
    res.end(text)
  }
  const error = (res, status, code) => answer(res, status, { success: false, error: { code, statusCode: status } })

  const server = Http.createServer((req, res) => {
    const chunks = []
    req.on("data", (c) => chunks.push(c))
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/track") return error(res, 404, "NOT_FOUND")
      if (req.headers.authorization === undefined) return error(res, 401, "MISSING_AUTH")
      if (req.headers.authorization !== key) return error(res, 401, "INVALID_API_KEY")
      let body
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
      } catch {
        return error(res, 400, "BAD_REQUEST")
      }
      const email = typeof body?.email === "string" ? body.email.trim().toLowerCase() : undefined
      if (
        email === undefined || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email) || typeof body.event !== "string" ||
        body.event.trim() === ""
      ) {
        return error(res, 422, "VALIDATION_ERROR")
      }
      const command = { ...body, email, event: body.event.trim() }
      track(command).then((data) => answer(res, 200, { success: true, data }), (e) => {
        console.error(e)
        error(res, 500, "INTERNAL_ERROR")
      })
    })
  })
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        eventStore,
        close: () => new Promise((done) => server.close(() => eventStore.close().then(done, done)))
      })
    })
  })
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const running = await start(process.env.DATABASE_URL, Number(process.env.PORT ?? 0))
  console.log(JSON.stringify({ msg: "listening", url: running.url }))
  process.on("SIGTERM", () => running.close().then(() => process.exit(0)))
}
