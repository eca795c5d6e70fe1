/**
 * behaviour §5.1 (`GET /events/stream`) and §5.2 (`GET /contacts/:id?at=`) over real HTTP, on each store.
 */
import * as Backup from "@tracklog/core/Backup"
import * as Contacts from "@tracklog/core/Contacts"
import * as Ids from "@tracklog/core/Ids"
import * as LogStream from "@tracklog/core/LogStream"
import type * as Store from "@tracklog/core/Store"
import * as StoreError from "@tracklog/core/StoreError"
import * as StoreContract from "@tracklog/core/testing/StoreContract"
import * as SqlClient from "@effect/sql/SqlClient"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as StorePostgres from "@tracklog/store-postgres/StorePostgres"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as EventStream from "../src/EventStream.js"
import type * as Server from "../src/Server.js"
import { projectA, projectB, request, start } from "./TestServer.js"

interface Frame {
  readonly id?: string
  readonly event?: string
  readonly data?: any
  readonly comment?: string
  readonly retry?: string
}

/** An open SSE connection read frame by frame (node:http: closing it closes the socket). */
const open = async (base: string, path: string, options: { key?: string; headers?: Record<string, string> } = {}) => {
  let buffer = ""
  const frames: Array<Frame> = []
  let wake = () => {}
  let ended = false
  const parse = (block: string): Frame => {
    const frame: Record<string, string> = {}
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) frame["comment"] = line.slice(1).trim()
      else {
        const i = line.indexOf(":")
        frame[line.slice(0, i)] = line.slice(i + 1).replace(/^ /, "")
      }
    }
    return frame["data"] === undefined ? frame : { ...frame, data: JSON.parse(frame["data"]) }
  }
  const { request, response } = await new Promise<{ request: Http.ClientRequest; response: Http.IncomingMessage }>(
    (resolve, reject) => {
      const request = Http.get(base + path, {
        headers: { authorization: `Bearer ${options.key ?? projectA.secretKey}`, ...options.headers }
      }, (response) => resolve({ request, response }))
      request.on("error", reject)
    }
  )
  response.setEncoding("utf8")
  response.on("data", (text: string) => {
    buffer += text
    let end: number
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      frames.push(parse(buffer.slice(0, end)))
      buffer = buffer.slice(end + 2)
    }
    wake()
  })
  response.on("close", () => {
    ended = true
    wake()
  })
  /** Reads until `done` holds for the frames so far (10 s at most). */
  const until = async (done: (frames: ReadonlyArray<Frame>) => boolean) => {
    const deadline = Date.now() + 10_000
    while (!done(frames)) {
      if (ended) throw new Error("stream ended")
      if (Date.now() > deadline) throw new Error(`condition not met; frames: ${JSON.stringify(frames.slice(-5))}`)
      await new Promise<void>((resolve) => {
        wake = resolve
        setTimeout(resolve, 100)
      })
    }
    return frames
  }
  return { response, frames, until, close: () => request.destroy() }
}

let counter = 0
const freshEmail = (tag: string) => `${tag}-${Date.now().toString(36)}-${counter++}@example.com`

const events = (frames: ReadonlyArray<Frame>) => frames.filter((f) => f.event !== undefined)

const suite = <E>(
  name: string,
  store: () => Layer.Layer<Store.Ports, E>
) =>
  describe(`events stream: ${name}`, () => {
    let base = ""
    let running: Server.Running
    const scope = Effect.runSync(Scope.make())
    beforeAll(async () => {
      const started = await Effect.runPromise(Scope.extend(start(store()), scope))
      base = started.url
      running = started.running
    }, 60_000)
    afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

    const track = (body: unknown, key = projectA.publicKey) => request(base, "POST", "/v1/track", { key, body })

    it("a public key is 403; a malformed cursor or an unknown `from` is a 400 envelope with invalid_cursor", async () => {
      const forbidden = await request(base, "GET", "/events/stream", { key: projectA.publicKey })
      expect(forbidden.status).toBe(403)
      expect(forbidden.body.error.code).toBe("FORBIDDEN")
      const bad = [
        ["/events/stream?after=nope", {}, "after"],
        ["/events/stream?after=", {}, "after"],
        ["/events/stream?from=yesterday", {}, "from"],
        ["/events/stream", { "last-event-id": "12" }, "Last-Event-ID"],
        ["/events/stream?after=1-1", { "last-event-id": "0001-1" }, "Last-Event-ID"]
      ] as const
      for (const [path, headers, field] of bad) {
        const answer = await request(base, "GET", path, { key: projectA.secretKey, headers })
        expect(answer.status).toBe(400)
        expect(answer.body).toMatchObject({
          success: false,
          error: { code: "VALIDATION_ERROR", statusCode: 400, errors: [{ field, code: "invalid_cursor" }] }
        })
        expect(answer.headers.get("x-request-id")).toBe(answer.body.error.requestId)
      }
    })

    it("a well-formed cursor this server never sent (past the log's end, before its first event, another log's) is a 400 too", async () => {
      // A live stream first, then a track: its id names a real event of this log, read without
      // replaying the whole log (on a database the other suites share, that can take minutes).
      const stream = await open(base, "/events/stream?from=now")
      await stream.until((f) => f.length >= 1)
      const head = await track({ email: freshEmail("head"), event: "e" })
      expect(head.status).toBe(200)
      // This log's epoch, as its ids carry it.
      const frames = await stream.until((f) => f.some((x) => x.data?.id === head.body.data.event))
      stream.close()
      const id = events(frames).at(-1)!.id!
      expect(id).toMatch(/^[0-9a-f]{16}\.[0-9a-z]+-[0-9a-z]+$/)
      const epoch = id.slice(0, 16)
      // Past the log's end: transaction ids are the cluster's (xid8), so a fixed "large" one is
      // reached some day on a busy server; this one is a billion past this event's.
      const [tx] = id.slice(17).split("-")
      const past = (BigInt(parseInt(tx!, 36)) + 1_000_000_000n).toString(36)
      const other = epoch === "0123456789abcdef" ? "fedcba9876543210" : "0123456789abcdef"
      // Past the end, a stream would wait for positions the log may never reach: every event
      // until then skipped. 0-0 names no event: it would replay from zero. Another log's cursor,
      // or one without an epoch on a store that never made such, names no event of this log.
      const bad = [
        [`/events/stream?after=${epoch}.${past}-zzzz`, {}, "after"],
        [`/events/stream?after=${epoch}.zzzzzzzzzzzz-1`, {}, "after"],
        ["/events/stream", { "last-event-id": `${epoch}.${past}-1` }, "Last-Event-ID"],
        [`/events/stream?after=${epoch}.0-0`, {}, "after"],
        [`/events/stream?after=${epoch}.0-5`, {}, "after"],
        [`/events/stream?after=${other}.${id.slice(17)}`, {}, "after"],
        ["/events/stream", { "last-event-id": `${other}.${id.slice(17)}` }, "Last-Event-ID"],
        [`/events/stream?after=${id.slice(17)}`, {}, "after"],
        ["/events/stream", { "last-event-id": "1-1" }, "Last-Event-ID"]
      ] as const
      for (const [path, headers, field] of bad) {
        const answer = await request(base, "GET", path, { key: projectA.secretKey, headers })
        expect(answer.status, path).toBe(400)
        expect(answer.body).toMatchObject({
          success: false,
          error: { code: "VALIDATION_ERROR", statusCode: 400, errors: [{ field, code: "invalid_cursor" }] }
        })
      }
    })

    it("streams the project's log from the start, each type in its §5.1 shape, then resumes exactly after Last-Event-ID", async () => {
      const email = freshEmail("stream")
      const first = await track({
        email,
        event: "signup",
        data: { plan: "pro", once: { value: 1, persistent: false } }
      })
      await track({ email, event: "churn", subscribed: false, data: { plan: null } }, projectA.secretKey)
      const other = await track({ email: freshEmail("other"), event: "secret" }, projectB.publicKey)
      const last = await track({ email, event: "marker" })
      expect(last.status).toBe(200)

      const stream = await open(base, "/events/stream")
      expect(stream.response.statusCode).toBe(200)
      expect(stream.response.headers["content-type"]).toBe("text/event-stream")
      expect(stream.response.headers["cache-control"]).toBe("no-cache")
      const frames = await stream.until((f) => f.some((x) => x.data?.id === last.body.data.event))
      stream.close()
      expect(frames[0]).toEqual({ retry: "1000" })
      const all = events(frames)
      expect(all.every((f) => f.data.contact !== other.body.data.contact)).toBe(true)
      const mine = all.filter((f) => f.data.contact === first.body.data.contact)
      expect(mine.map((f) => f.event)).toEqual([
        "contact.created",
        "contact.updated",
        "event.tracked",
        "contact.unsubscribed",
        "contact.updated",
        "event.tracked",
        "event.tracked"
      ])
      const contact = first.body.data.contact
      expect(mine[0]!.data).toEqual({
        id: mine[0]!.data.id,
        contact,
        email,
        subscribed: true,
        timestamp: first.body.data.timestamp
      })
      expect(mine[1]!.data).toEqual({
        id: mine[1]!.data.id,
        contact,
        email,
        set: { plan: "pro" },
        unset: [],
        timestamp: first.body.data.timestamp
      })
      expect(mine[2]!.data).toEqual({
        id: first.body.data.event,
        contact,
        email,
        name: "signup",
        data: { plan: "pro", once: { value: 1, persistent: false } },
        timestamp: first.body.data.timestamp
      })
      expect(mine[3]!.data).toMatchObject({ contact, email })
      expect(Object.keys(mine[3]!.data).sort()).toEqual(["contact", "email", "id", "timestamp"])
      expect(mine[4]!.data).toMatchObject({ set: {}, unset: ["plan"] })
      // Ids are unique and opaque cursors; resuming from the middle gives exactly the rest.
      const ids = all.map((f) => f.id!)
      expect(new Set(ids).size).toBe(ids.length)
      const middle = Math.floor(all.length / 2)
      for (const resume of [{ headers: { "last-event-id": ids[middle]! } }, { path: `?after=${ids[middle]}` }]) {
        const again = await open(
          base,
          `/events/stream${"path" in resume ? resume.path : ""}`,
          "headers" in resume ? { headers: resume.headers } : {}
        )
        expect(again.response.statusCode).toBe(200)
        const rest = await again.until((f) => f.some((x) => x.data?.id === last.body.data.event))
        again.close()
        expect(events(rest).map((f) => f.id)).toEqual(ids.slice(middle + 1))
        // The same frames: a contact created before the cursor is looked up for its email.
        expect(events(rest).map((f) => f.data)).toEqual(all.slice(middle + 1).map((f) => f.data))
      }
    })

    it("from=now delivers only new events, live; closing the client ends the server's work for it", async () => {
      // The earlier tests' streams, closed by their clients, end first.
      await waitFor(() => running.openStreams!() === 0)
      const before = 0
      const email = freshEmail("live")
      // Created by this first track: the later one only updates it.
      expect((await track({ email, event: "old" })).status).toBe(200)
      const stream = await open(base, "/events/stream?from=now")
      await stream.until((f) => f.length >= 1)
      await waitFor(() => running.openStreams!() === before + 1)
      const answer = await track({ email, event: "new", data: { n: 1 } })
      const frames = await stream.until((f) => events(f).some((x) => x.data.id === answer.body.data.event))
      expect(events(frames).map((f) => `${f.event} ${f.data.name ?? ""} ${f.data.email === email}`)).toEqual([
        "contact.updated  true",
        "event.tracked new true"
      ])
      expect(events(frames).every((f) => f.data.name !== "old")).toBe(true)
      stream.close()
      await waitFor(() => running.openStreams!() === before)
    })

    it("GET /contacts/:id?at= gives the contact as it was; 404 before it existed; 422 invalid_timestamp", async () => {
      const email = freshEmail("at")
      const created = await track({ email, event: "e", data: { plan: "free" } })
      await new Promise((resolve) => setTimeout(resolve, 20))
      const between = new Date().toISOString()
      await new Promise((resolve) => setTimeout(resolve, 20))
      await track({ email, event: "e", subscribed: false, data: { plan: "pro" } })
      const id = created.body.data.contact
      const get = (path: string, key = projectA.secretKey) => request(base, "GET", path, { key })
      const then = await get(`/contacts/${id}?at=${encodeURIComponent(between)}`)
      expect(then.status).toBe(200)
      expect(then.body).toMatchObject({
        id,
        email,
        subscribed: true,
        data: { plan: "free" },
        createdAt: created.body.data.timestamp
      })
      const now = await get(`/contacts/${id}`)
      expect(now.body).toMatchObject({ subscribed: false, data: { plan: "pro" } })
      expect((await get(`/contacts/${id}?at=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).body)
        .toEqual(now.body)
      const early = await get(`/contacts/${id}?at=2000-01-01T00:00:00Z`)
      expect(early.status).toBe(404)
      expect(early.body.error.code).toBe("CONTACT_NOT_FOUND")
      expect((await get(`/contacts/${id}?at=${encodeURIComponent(between)}`, projectB.secretKey)).status).toBe(404)
      for (const bad of ["yesterday", "", "2024-13-01", "2024-02-30T00:00:00Z", "1700000000"]) {
        const answer = await get(`/contacts/${id}?at=${encodeURIComponent(bad)}`)
        expect(answer.status).toBe(422)
        expect(answer.body.error.errors).toEqual([expect.objectContaining({ field: "at", code: "invalid_timestamp" })])
      }
    })
  })

const waitFor = async (done: () => boolean) => {
  const deadline = Date.now() + 5_000
  while (!done()) {
    if (Date.now() > deadline) throw new Error("condition not met within 5 s")
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

suite("memory", () => StoreMemory.layer)
for (const backend of TestDatabase.backends) suite(backend.name, () => TestDatabase.layer(backend.database))

// The status and body of a stream request, without waiting for the end of a stream that is sent.
const opening = async (base: string, path: string, headers: Record<string, string>) => {
  const controller = new AbortController()
  const response = await fetch(base + path, {
    headers: { authorization: `Bearer ${projectA.secretKey}`, ...headers },
    signal: controller.signal
  })
  if (response.status === 200) {
    controller.abort()
    return { status: 200, body: undefined }
  }
  return { status: response.status, body: await response.json() }
}

// behaviour §5.1, §9: an import numbers the log anew, so the ids the old store sent name nothing in
// the new one; a stream from one of them would replay (or skip) at random. The export comes from a
// memory store, whose small positions fall inside the new store's log whatever its kind: before
// logs had epochs, its ids were taken there (PostgreSQL: a replay of the whole log).
const acrossImport = <E>(name: string, into: () => Layer.Layer<Store.Ports | Backup.Backup, E>) =>
  describe(`events stream after export from a memory store and import into: ${name}`, () => {
    it(
      "an id the exporting store sent is a 400 invalid_cursor on the importing one, never a replay; its own ids resume",
      async () => {
        const scope = Effect.runSync(Scope.make())
        // A new store, loaded with `items` when given (an import wants an empty store: before the
        // server makes its projects), and a server on it.
        const serve = async <E2>(
          store: Layer.Layer<Store.Ports | Backup.Backup, E2>,
          items?: Chunk.Chunk<Backup.Item>
        ) => {
          const context = await Effect.runPromise(Scope.extend(Layer.build(store), scope))
          if (items !== undefined) {
            await Effect.runPromise(
              Effect.provide(
                Effect.flatMap(Backup.Backup, (backup) => backup.import(Stream.fromChunk(items))),
                context as Context.Context<Backup.Backup>
              )
            )
          }
          const { url } = await Effect.runPromise(Scope.extend(start(Layer.succeedContext(context)), scope))
          return { context, url }
        }
        try {
          const from = await serve(StoreMemory.layer)
          const email = freshEmail("moved")
          for (const event of ["a", "b", "c"]) {
            const answer = await request(from.url, "POST", "/v1/track", {
              key: projectA.publicKey,
              body: { email, event }
            })
            expect(answer.status).toBe(200)
          }
          const last = (await request(from.url, "POST", "/v1/track", {
            key: projectA.publicKey,
            body: { email: freshEmail("moved-last"), event: "d" }
          })).body.data.event
          const sent = await open(from.url, "/events/stream")
          const before = events(await sent.until((f) => f.some((x) => x.data?.id === last)))
          sent.close()
          const items = await Effect.runPromise(
            Effect.provide(
              Effect.flatMap(Backup.Backup, (backup) => Stream.runCollect(backup.export)),
              from.context as Context.Context<Backup.Backup>
            )
          )
          const moved = await serve(into(), items)
          for (const id of [before.at(-1)!.id!, before[1]!.id!]) {
            for (
              const [path, headers, field] of [
                [`/events/stream?after=${id}`, {}, "after"],
                ["/events/stream", { "last-event-id": id }, "Last-Event-ID"]
              ] as const
            ) {
              const answer = await opening(moved.url, path, headers)
              expect(answer.status, `${field} ${id}`).toBe(400)
              expect(answer.body).toMatchObject({
                success: false,
                error: { code: "VALIDATION_ERROR", statusCode: 400, errors: [{ field, code: "invalid_cursor" }] }
              })
            }
          }
          // From the start the new store sends the same events, with ids of its own log, which resume there.
          const fresh = await open(moved.url, "/events/stream")
          const after = events(await fresh.until((f) => f.some((x) => x.data?.id === last)))
          fresh.close()
          expect(after.map((f) => f.data.id)).toEqual(before.map((f) => f.data.id))
          expect(after.filter((f) => before.some((b) => b.id === f.id))).toEqual([])
          const resumed = await open(moved.url, "/events/stream", { headers: { "last-event-id": after[1]!.id! } })
          const rest = events(await resumed.until((f) => f.some((x) => x.data?.id === last)))
          resumed.close()
          expect(rest.map((f) => f.id)).toEqual(after.slice(2).map((f) => f.id))
        } finally {
          await Effect.runPromise(Scope.close(scope, Exit.void))
        }
      },
      60_000
    )
  })

acrossImport("memory", () => StoreMemory.layer)
for (const backend of TestDatabase.backends) acrossImport(backend.name, () => TestDatabase.layer(backend.database))

describe("events stream: a cursor without an epoch (decision 0033)", () => {
  it("resumes where the store may have sent it (a database that held events before its epoch), and is a 400 elsewhere", async () => {
    const { ids, refused, rest } = await Effect.runPromise(
      Effect.gen(function*() {
        const source = yield* LogStream.LogSource
        const contacts = yield* Contacts.Contacts
        const projectId = "legacy-cursors"
        yield* StoreContract.createContact(projectId, "legacy@example.com", [
          StoreContract.tracked("one"),
          StoreContract.tracked("two")
        ])
        const log = Chunk.toReadonlyArray(yield* Stream.runCollect(Stream.take(LogStream.events({ projectId }), 3)))
        // As the previous version wrote the first event's id.
        const legacy = `${log[0]!.transactionId.toString(36)}-${log[0]!.position.toString(36)}`
        const start = yield* EventStream.startOf(legacy, new URLSearchParams())
        const refused = yield* Effect.flip(EventStream.make(source, contacts, projectId, start))
        const upgraded = { ...source, identity: { ...source.identity, legacyCursors: true } }
        const stream = yield* EventStream.make(upgraded, contacts, projectId, start)
        const rest = Chunk.toReadonlyArray(yield* Stream.runCollect(Stream.take(stream, 2)))[1]!
        return { ids: log.map((e) => LogStream.encodeCursor(source.identity.epoch, e)), refused, rest }
      }).pipe(Effect.provide(Layer.merge(StoreMemory.layer, Ids.layer)), Effect.timeout("5 seconds"))
    )
    expect(refused).toMatchObject({
      status: 400,
      code: "VALIDATION_ERROR",
      errors: [{ field: "Last-Event-ID", code: "invalid_cursor" }]
    })
    // Strictly after that event, with ids of this log's epoch.
    expect([...rest.matchAll(/^id: (.+)$/gm)].map((m) => m[1])).toEqual(ids.slice(1))
  })
})

describe("events stream: two server processes on one PostgreSQL", () => {
  it("a subscriber on one sees every event written through both, once, in log order", async () => {
    const scope = Effect.runSync(Scope.make())
    try {
      const { a, b, logOrder } = await Effect.runPromise(Scope.extend(
        Effect.gen(function*() {
          const db = yield* TestDatabase.server
          // Each server its own store: its own pool and its own wake-up, as two processes have.
          const a = yield* start(StorePostgres.layer({ url: db.url, maxConnections: db.maxConnections }))
          const b = yield* start(StorePostgres.layer({ url: db.url, maxConnections: db.maxConnections }))
          const client = yield* Layer.build(StorePostgres.layerClient({ url: db.url, maxConnections: 1 }))
          const logOrder = () =>
            Effect.runPromise(
              Effect.flatMap(
                SqlClient.SqlClient,
                (sql) => sql<{ id: string }>`SELECT id FROM events ORDER BY transaction_id, global_position`
              ).pipe(
                Effect.map((rows) => rows.map((r) => r.id)),
                Effect.provide(client)
              )
            )
          return { a: a.url, b: b.url, logOrder }
        }),
        scope
      ))
      const stream = await open(b, "/events/stream?from=start")
      const answers = await Promise.all(
        Array.from({ length: 120 }, (_, i) =>
          request(i % 2 === 0 ? a : b, "POST", "/v1/track", {
            key: projectA.publicKey,
            body: { email: `two-${i % 15}@example.com`, event: "e", data: { i } }
          }))
      )
      expect(answers.every((x) => x.status === 200)).toBe(true)
      const wanted = new Set(answers.map((x) => x.body.data.event))
      const frames = await stream.until((f) => events(f).filter((x) => wanted.has(x.data.id)).length === wanted.size)
      stream.close()
      const ids = events(frames).map((f) => f.data.id)
      expect(ids).toEqual(await logOrder())
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }, 60_000)
})

describe("events stream at shutdown", () => {
  it("ends each open stream cleanly (its chunked reply closed), so its client reconnects with its last id", async () => {
    const scope = Effect.runSync(Scope.make())
    const started = await Effect.runPromise(Scope.extend(start(StoreMemory.layer), scope))
    const stream = await open(started.url, "/events/stream?from=now")
    await stream.until((f) => f.length >= 1)
    const how = new Promise<string>((resolve) => {
      stream.response.once("end", () => resolve("end"))
      stream.response.once("aborted", () => resolve("aborted"))
      stream.response.once("error", () => resolve("error"))
    })
    await Effect.runPromise(Scope.close(scope, Exit.void))
    expect(await how).toBe("end")
  })
})

describe("events stream: a contact it cannot look up", () => {
  it("ends the stream rather than skip that contact's events; the client resumes with its last id and gets them", async () => {
    // The memory store, its lookups by id failing while `failing` is set.
    let failing = false
    const store = Layer.effectContext(Effect.map(Layer.build(StoreMemory.layer), (context) => {
      const contacts = Context.get(context, Contacts.Contacts)
      return Context.add(context, Contacts.Contacts, {
        ...contacts,
        findById: (projectId, contactId) =>
          failing
            ? Effect.fail(new StoreError.StoreUnavailable({ reason: "lookup refused" }))
            : contacts.findById(projectId, contactId)
      })
    })).pipe(Layer.provide(Layer.scope))
    const scope = Effect.runSync(Scope.make())
    try {
      const { url } = await Effect.runPromise(Scope.extend(start(store), scope))
      const track = (body: unknown) => request(url, "POST", "/v1/track", { key: projectA.publicKey, body })
      // Created before the cursor: the stream must look its email up.
      const known = freshEmail("known")
      expect((await track({ email: known, event: "first" })).status).toBe(200)
      const all = await open(url, "/events/stream")
      const head = await all.until((f) => events(f).some((x) => x.data.name === "first"))
      all.close()
      const cursor = events(head).at(-1)!.id!
      const later = await track({ email: known, event: "later" })
      const other = await track({ email: freshEmail("other"), event: "other" })
      failing = true
      const broken = await open(url, `/events/stream?after=${encodeURIComponent(cursor)}`)
      const closed = new Promise<string>((resolve) => broken.response.once("close", () => resolve("closed")))
      const outcome = await Promise.race([closed, new Promise<string>((r) => setTimeout(() => r("still open"), 5000))])
      broken.close()
      expect(outcome).toBe("closed")
      // Nothing after the event it could not show: not the other contact's, which needs no lookup.
      expect(events(broken.frames)).toEqual([])
      failing = false
      const resumed = await open(url, `/events/stream?after=${encodeURIComponent(cursor)}`)
      const frames = await resumed.until((f) => events(f).some((x) => x.data.id === other.body.data.event))
      resumed.close()
      expect(events(frames).map((f) => `${f.event} ${f.data.name ?? ""} ${f.data.email === known}`)).toEqual([
        "event.tracked later true",
        "contact.created  false",
        "event.tracked other false"
      ])
      expect(events(frames).some((f) => f.data.id === later.body.data.event)).toBe(true)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })
})
