/**
 * behaviour §6 (`Idempotency-Key`) and §8 (`POST /v1/track/batch`) over real HTTP, on the memory
 * store and on PostgreSQL — there also with two servers (each its own locks and cache, as two
 * processes have) sharing one database.
 */
import * as StorePorts from "@tracklog/core/Store"
import * as EventStore from "@tracklog/core/EventStore"
import * as StoreError from "@tracklog/core/StoreError"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as StorePostgres from "@tracklog/store-postgres/StorePostgres"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { projectA, request, start } from "./TestServer.js"

type Store = StorePorts.Ports

let counter = 0
const freshEmail = (tag: string) => `${tag}-${Date.now().toString(36)}-${counter++}@example.com`
const freshKey = (tag: string) => `${tag}-${Date.now().toString(36)}-${counter++}`

/** Starts a server for the file's duration; answers its URL. */
const serve = (store: () => Layer.Layer<Store, unknown>, options: { readonly batchBodyLimit?: number } = {}) => {
  const scope = Effect.runSync(Scope.make())
  let base = ""
  beforeAll(async () => {
    base = (await Effect.runPromise(Scope.extend(start(store(), options), scope))).url
  })
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  return () => base
}

const track = (base: string, body: unknown, headers: Record<string, string> = {}) =>
  request(base, "POST", "/v1/track", { key: projectA.publicKey, body, headers })
const trackRaw = (base: string, raw: string, headers: Record<string, string> = {}) =>
  request(base, "POST", "/v1/track", {
    key: projectA.publicKey,
    raw,
    headers: { "content-type": "application/json", ...headers }
  })
const batch = (base: string, body: unknown, headers: Record<string, string> = {}) =>
  request(base, "POST", "/v1/track/batch", { key: projectA.publicKey, body, headers })
const contactOf = async (base: string, email: string) =>
  (await request(base, "GET", `/contacts?email=${encodeURIComponent(email)}`, { key: projectA.secretKey })).body.data[0]
const trackedOf = async (base: string, contactId: string) =>
  ((await request(base, "GET", `/contacts/${contactId}/events?limit=1000`, { key: projectA.secretKey })).body
    .data as Array<{ name: string }>)
    .filter((e) => !e.name.startsWith("contact."))

// A request with a header sent twice: `fetch` would join the two values into one.
const rawRequest = (base: string, head: string, body: string) =>
  new Promise<{ status: number; text: string }>((resolve, reject) => {
    const url = new URL(base)
    const socket = Net.connect(Number(url.port), url.hostname, () => {
      socket.write(`${head}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
    })
    let text = ""
    socket.on("data", (chunk) => (text += chunk.toString("utf8")))
    socket.on("end", () => resolve({ status: Number(text.split(" ")[1]), text }))
    socket.on("error", reject)
  })

const suite = (name: string, store: () => Layer.Layer<Store, unknown>) =>
  describe(`Idempotency-Key and batches: ${name}`, () => {
    const url = serve(store, { batchBodyLimit: 2 * 1024 * 1024 })

    describe("§6 Idempotency-Key", () => {
      it("the same key and body twice: the same status and body, Idempotent-Replayed: true, one event", async () => {
        const email = freshEmail("replay")
        const key = freshKey("k")
        const body = { email, event: "purchase", data: { amount: 10 } }
        const first = await track(url(), body, { "idempotency-key": key })
        expect(first.status).toBe(200)
        expect(first.headers.get("idempotent-replayed")).toBeNull()
        const second = await track(url(), body, { "idempotency-key": key })
        expect(second.status).toBe(first.status)
        expect(second.text).toBe(first.text)
        expect(second.headers.get("idempotent-replayed")).toBe("true")
        expect(await trackedOf(url(), first.body.data.contact)).toHaveLength(1)
      })

      it("key order and whitespace do not matter; a quoted key is the same key", async () => {
        const email = freshEmail("canonical")
        const key = freshKey("k")
        const first = await trackRaw(url(), `{"email":"${email}","event":"e","data":{"a":1,"b":[1,2]}}`, {
          "idempotency-key": key
        })
        expect(first.status).toBe(200)
        const second = await trackRaw(
          url(),
          ` { "data" : { "b" : [ 1, 2 ], "a" : 1.0 },\n "event":"e", "email" : "${email}" } `,
          {
            "idempotency-key": `"${key}"`
          }
        )
        expect(second.text).toBe(first.text)
        expect(second.headers.get("idempotent-replayed")).toBe("true")
        expect(await trackedOf(url(), first.body.data.contact)).toHaveLength(1)
      })

      it("the same key with another body → 422 IDEMPOTENCY_KEY_REUSED, nothing appended", async () => {
        const email = freshEmail("reused")
        const key = freshKey("k")
        const first = await track(url(), { email, event: "purchase" }, { "idempotency-key": key })
        const other = await track(url(), { email, event: "refund" }, { "idempotency-key": key })
        expect(other.status).toBe(422)
        expect(other.body.error.code).toBe("IDEMPOTENCY_KEY_REUSED")
        expect(other.body.error.statusCode).toBe(422)
        expect(await trackedOf(url(), first.body.data.contact)).toEqual([expect.objectContaining({ name: "purchase" })])
      })

      it("without the header every call appends, as before", async () => {
        const email = freshEmail("plain")
        const a = await track(url(), { email, event: "e" })
        await track(url(), { email, event: "e" })
        expect(await trackedOf(url(), a.body.data.contact)).toHaveLength(2)
      })

      it("a failed request stores nothing: the key stays free", async () => {
        const email = freshEmail("free")
        const key = freshKey("k")
        const bad = await track(url(), { email, event: "email.sent" }, { "idempotency-key": key })
        expect(bad.status).toBe(422)
        expect(bad.body.error.code).toBe("VALIDATION_ERROR")
        const good = await track(url(), { email, event: "ok" }, { "idempotency-key": key })
        expect(good.status).toBe(200)
        expect(good.headers.get("idempotent-replayed")).toBeNull()
      })

      it("malformed keys and a header sent twice → 400 invalid_idempotency_key, nothing stored", async () => {
        const email = freshEmail("badkey")
        const bad = ["", "a b", "x".repeat(256), '""', '"a b"', "é", "tab\there", `"${"x".repeat(256)}"`]
        for (const value of bad) {
          const head =
            `POST /v1/track HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${projectA.publicKey}\r\ncontent-type: application/json\r\nidempotency-key: ${value}`
          const answer = await rawRequest(url(), head, JSON.stringify({ email, event: "e" }))
          expect(answer.status, value).toBe(400)
          const body = JSON.parse(answer.text.slice(answer.text.indexOf("\r\n\r\n") + 4))
          expect(body.error.errors, value).toEqual([
            expect.objectContaining({ field: "Idempotency-Key", code: "invalid_idempotency_key" })
          ])
        }
        const twice = await rawRequest(
          url(),
          `POST /v1/track HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${projectA.publicKey}\r\ncontent-type: application/json\r\nidempotency-key: a\r\nidempotency-key: a`,
          JSON.stringify({ email, event: "e" })
        )
        expect(twice.status).toBe(400)
        expect(twice.text).toContain("invalid_idempotency_key")
        const ok = await track(url(), { email, event: "e" }, { "idempotency-key": "x".repeat(255) })
        expect(ok.status).toBe(200)
        expect(await trackedOf(url(), ok.body.data.contact)).toHaveLength(1)
      })

      it("fuzzed header values: 200 exactly for a valid key, else 400 invalid_idempotency_key, never a 5xx", async () => {
        const email = freshEmail("fuzzkey")
        const value = FastCheck.string({
          unit: FastCheck.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
          maxLength: 300
        })
        await FastCheck.assert(
          FastCheck.asyncProperty(value, async (raw) => {
            // `fetch` trims header values, as every HTTP stack does.
            const sent = raw.trim()
            // One body for every run: a key drawn twice then replays instead of being "reused".
            const answer = await track(url(), { email, event: "e" }, { "idempotency-key": sent })
            const unquoted = sent.length >= 2 && sent.startsWith('"') && sent.endsWith('"') ? sent.slice(1, -1) : sent
            const valid = unquoted.length >= 1 && unquoted.length <= 255 && !unquoted.includes(" ")
            if (sent.length === 0) return answer.status === 200 || answer.status === 400
            expect(answer.status, JSON.stringify(sent)).toBe(valid ? 200 : 400)
            if (!valid) expect(answer.body.error.errors[0].code).toBe("invalid_idempotency_key")
          }),
          { numRuns: 60 }
        )
      })

      it("50 concurrent requests with one key append once; the others replay the same answer", async () => {
        const email = freshEmail("burst")
        const key = freshKey("k")
        const answers = await Promise.all(
          Array.from({ length: 50 }, () => track(url(), { email, event: "purchase" }, { "idempotency-key": key }))
        )
        const done = answers.filter((a) => a.status === 200)
        expect(answers.map((a) => a.status).filter((status) => status !== 200)).toEqual([])
        expect(done.filter((a) => a.headers.get("idempotent-replayed") === null)).toHaveLength(1)
        expect(new Set(done.map((a) => a.text)).size).toBe(1)
        expect(await trackedOf(url(), done[0]!.body.data.contact)).toHaveLength(1)
      })
    })

    describe("§8 POST /v1/track/batch", () => {
      it("1000 items with a few invalid: per-item answers in order, the valid ones applied by the rules of §1", async () => {
        const emails = Array.from({ length: 100 }, (_, i) => freshEmail(`b${i}`))
        const invalidAt = new Set([3, 250, 999])
        const events = Array.from({ length: 1000 }, (_, i) =>
          invalidAt.has(i)
            ? { email: "not-an-email", event: "x" }
            : { email: emails[i % 100]!, event: `e${i}`, data: { last: i } })
        const answer = await batch(url(), { events })
        expect(answer.status).toBe(200)
        expect(answer.body.success).toBe(true)
        expect(answer.body.data.accepted).toBe(997)
        expect(answer.body.data.rejected).toBe(3)
        const results = answer.body.data.results as Array<any>
        expect(results).toHaveLength(1000)
        results.forEach((r, i) => {
          if (invalidAt.has(i)) {
            expect(r).toEqual({
              success: false,
              error: {
                code: "VALIDATION_ERROR",
                errors: [expect.objectContaining({ field: "email", code: "invalid_email" })]
              }
            })
          } else {
            expect(r.success).toBe(true)
            expect(Object.keys(r.data).sort()).toEqual(["contact", "event", "timestamp"])
          }
        })
        // Items for one email apply in order: the last one's data wins, one contact, every event.
        const contact = await contactOf(url(), emails[7]!)
        expect(contact.data).toEqual({ last: 907 })
        expect(results[7].data.contact).toBe(contact.id)
        expect(results[907].data.contact).toBe(contact.id)
        const tracked = await trackedOf(url(), contact.id)
        expect(tracked.map((e) => e.name)).toEqual(Array.from({ length: 10 }, (_, j) => `e${907 - j * 100}`))
      })

      it("no events array, empty, over 1000, not an object → 422 for the whole request, nothing stored", async () => {
        const email = freshEmail("whole")
        const tooMany = Array.from({ length: 1001 }, () => ({ email, event: "e" }))
        for (
          const body of [{}, { events: [] }, { events: tooMany }, { events: "x" }, [{ email, event: "e" }], {
            events: null
          }]
        ) {
          const answer = await batch(url(), body)
          expect(answer.status).toBe(422)
          expect(answer.body.error.code).toBe("VALIDATION_ERROR")
          expect(answer.body.error.errors[0].field).toBe("events")
        }
        const notJson = await request(url(), "POST", "/v1/track/batch", {
          key: projectA.publicKey,
          raw: "{",
          headers: { "content-type": "application/json" }
        })
        expect(notJson.status).toBe(400)
        expect(await contactOf(url(), email)).toBeUndefined()
      })

      it("fuzzed items: every one rejected alone with 4xx-style errors, nothing stored, never a 5xx", async () => {
        const email = freshEmail("fuzz")
        const items: Array<unknown> = [
          null,
          1,
          "x",
          [],
          {},
          { email },
          { event: "e" },
          { email, event: "" },
          { email, event: "e", data: [] },
          { email, event: "e", data: { locale: 1 } },
          { email, event: "segment.a.entry" },
          { email: 7, event: "e" },
          { email, event: "e", subscribed: "yes" }
        ]
        const answer = await batch(url(), { events: items })
        expect(answer.status).toBe(200)
        expect(answer.body.data.accepted).toBe(0)
        expect(answer.body.data.rejected).toBe(items.length)
        expect(await contactOf(url(), email)).toBeUndefined()
        const big = await request(url(), "POST", "/v1/track/batch", {
          key: projectA.publicKey,
          raw: JSON.stringify({ events: [{ email, event: "e", data: { pad: "x".repeat(3 * 1024 * 1024) } }] }),
          headers: { "content-type": "application/json" }
        })
        expect(big.status).toBe(413)
        expect(await contactOf(url(), email)).toBeUndefined()
      })

      it("fuzzed items of any JSON: 200 with one result per item, never a 5xx", async () => {
        await FastCheck.assert(
          FastCheck.asyncProperty(
            FastCheck.array(FastCheck.jsonValue({ maxDepth: 3 }), { minLength: 1, maxLength: 20 }),
            async (items) => {
              const answer = await batch(url(), { events: items })
              expect(answer.status).toBe(200)
              expect(answer.body.data.results).toHaveLength(items.length)
              const { accepted, rejected, suppressed } = answer.body.data
              expect(accepted + rejected + suppressed).toBe(items.length)
            }
          ),
          { numRuns: 30 }
        )
      })

      it("a batch with a key replays byte for byte; another body under the key is refused", async () => {
        const key = freshKey("batch")
        const events = [{ email: freshEmail("kb"), event: "a" }, { email: freshEmail("kb"), event: "b" }, {
          email: "bad",
          event: "c"
        }]
        const first = await batch(url(), { events }, { "idempotency-key": key })
        const again = await batch(url(), { events }, { "idempotency-key": key })
        expect(first.status).toBe(200)
        expect(again.text).toBe(first.text)
        expect(again.headers.get("idempotent-replayed")).toBe("true")
        const other = await batch(url(), { events: events.slice(0, 1) }, { "idempotency-key": key })
        expect(other.body.error.code).toBe("IDEMPOTENCY_KEY_REUSED")
        expect(await trackedOf(url(), first.body.data.results[0].data.contact)).toHaveLength(1)
      })
    })
  })

suite("memory store", () => StoreMemory.layer)
suite(`postgres (${new URL(TestDatabase.adminUrl).host})`, () => TestDatabase.layer())

// The memory store with its multi-stream append broken in one of two ways: it commits and then
// fails (the answer lost after the commit), or it fails without committing.
const faultyStore = (mode: "after-commit" | "before-commit", faults: { remaining: number }) =>
  Layer.effectContext(Effect.gen(function*() {
    const ports = yield* StoreMemory.make
    const fault = Effect.fail(new StoreError.StoreUnavailable({ reason: "injected fault" }))
    const eventStore = EventStore.EventStore.of({
      ...ports.eventStore,
      appendAll: (input) => {
        if (faults.remaining <= 0) return ports.eventStore.appendAll(input)
        faults.remaining--
        return mode === "after-commit" ? Effect.zipRight(ports.eventStore.appendAll(input), fault) : fault
      }
    })
    return StorePorts.context({ ...ports, eventStore })
  }))

describe("faults around the commit", () => {
  describe("the answer is lost after the commit", () => {
    const faults = { remaining: 0 }
    const url = serve(() => faultyStore("after-commit", faults))

    it("the request answers 503; the retry with its key replays the committed answer; the log holds one event", async () => {
      const email = freshEmail("lost")
      const key = freshKey("k")
      faults.remaining = 1
      const lost = await track(url(), { email, event: "purchase" }, { "idempotency-key": key })
      expect(lost.status).toBe(503)
      const retry = await track(url(), { email, event: "purchase" }, { "idempotency-key": key })
      expect(retry.status).toBe(200)
      expect(retry.headers.get("idempotent-replayed")).toBe("true")
      const contact = await contactOf(url(), email)
      expect(retry.body.data.contact).toBe(contact.id)
      expect(await trackedOf(url(), contact.id)).toHaveLength(1)
    })
  })

  describe("nothing commits", () => {
    const faults = { remaining: 0 }
    const url = serve(() => faultyStore("before-commit", faults))

    it("a batch that cannot commit answers 503 and changes nothing; its key stays free", async () => {
      const emails = [freshEmail("nc"), freshEmail("nc")]
      const existing = await track(url(), { email: emails[0], event: "before" })
      const key = freshKey("k")
      faults.remaining = 1
      const failed = await batch(
        url(),
        { events: emails.map((email) => ({ email, event: "batch", data: { x: 1 } })) },
        { "idempotency-key": key }
      )
      expect(failed.status).toBe(503)
      expect(failed.body.error.code).toBe("SERVICE_UNAVAILABLE")
      expect(await contactOf(url(), emails[1]!)).toBeUndefined()
      expect((await contactOf(url(), emails[0]!)).data).toEqual({})
      expect(await trackedOf(url(), existing.body.data.contact)).toHaveLength(1)
      const retried = await batch(
        url(),
        { events: emails.map((email) => ({ email, event: "batch", data: { x: 1 } })) },
        { "idempotency-key": key }
      )
      expect(retried.status).toBe(200)
      expect(retried.headers.get("idempotent-replayed")).toBeNull()
      expect(retried.body.data.accepted).toBe(2)
    })
  })
})

describe("two servers on one PostgreSQL database", () => {
  const scope = Effect.runSync(Scope.make())
  const bases: Array<string> = []
  beforeAll(async () => {
    await Effect.runPromise(Scope.extend(
      Effect.gen(function*() {
        const db = yield* TestDatabase.server
        for (let i = 0; i < 2; i++) {
          const running = yield* start(StorePostgres.layer({ url: db.url, maxConnections: db.maxConnections }))
          bases.push(running.url)
        }
      }),
      scope
    ))
  })
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

  it("50 concurrent requests with one key, spread over both, append exactly once", async () => {
    const email = freshEmail("two")
    const key = freshKey("k")
    const answers = await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) => track(bases[i % 2]!, { email, event: "purchase" }, { "idempotency-key": key })
      )
    )
    expect(answers.map((a) => a.status).filter((status) => status !== 200)).toEqual([])
    const done = answers.filter((a) => a.status === 200)
    expect(done.filter((a) => a.headers.get("idempotent-replayed") === null)).toHaveLength(1)
    expect(new Set(done.map((a) => a.text)).size).toBe(1)
    expect(await trackedOf(bases[0]!, done[0]!.body.data.contact)).toHaveLength(1)
  })
})
