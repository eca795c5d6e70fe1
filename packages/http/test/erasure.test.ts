/**
 * behaviour §7 over real HTTP, on every store: erasure, suppression and what a dump of the database
 * still holds afterwards. Each test uses fresh emails and unique marker strings.
 */
import * as Store from "@tracklog/core/Store"
import * as SqlClient from "@effect/sql/SqlClient"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Answer, projectA, projectB, request, start } from "./TestServer.js"

let counter = 0
/** A string found nowhere else: in an email, a data value, an event's data. */
const marker = (tag: string) =>
  `${tag}${Date.now().toString(36)}x${(counter++).toString(36)}${Math.random().toString(36).slice(2, 8)}`

const expectEnvelope = (answer: Answer, status: number, code: string) => {
  expect(answer.status, answer.text).toBe(status)
  expect(answer.body).toMatchObject({ success: false, error: { code, statusCode: status } })
  expect(answer.headers.get("x-request-id")).toBe(answer.body.error.requestId)
}

const expectNoContent = (answer: Answer) => {
  expect(answer.status, answer.text).toBe(204)
  expect(answer.text).toBe("")
  expect(answer.headers.get("content-type")).toBeNull()
  expect(answer.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
}

const erasure = <E>(
  name: string,
  store: () => Layer.Layer<Store.Ports, E>,
  options: { readonly database?: boolean } = {}
) =>
  describe(`erasure and suppression (behaviour §7): ${name}`, () => {
    const scope = Effect.runSync(Scope.make())
    let base = ""
    let context: Context.Context<never> = Context.empty()
    beforeAll(async () => {
      context = await Effect.runPromise(Scope.extend(Layer.build(store()), scope)) as Context.Context<never>
      const ports = Layer.succeedContext(context as Context.Context<Store.Ports>)
      base = (await Effect.runPromise(Scope.extend(start(ports), scope))).url
    })
    afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

    const track = (body: Record<string, unknown>, key = projectA.publicKey) =>
      request(base, "POST", "/v1/track", { key, body })
    const get = (path: string, key = projectA.secretKey) => request(base, "GET", path, { key })
    const del = (path: string, key = projectA.secretKey) => request(base, "DELETE", path, { key })
    const byEmail = async (email: string, key = projectA.secretKey) =>
      (await get(`/contacts?email=${encodeURIComponent(email)}`, key)).body.data

    /** Every row of every table of the store's database, as text. */
    const dump = () =>
      Effect.runPromise(
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const tables = yield* sql<{ name: string }>`
          SELECT table_name AS name FROM information_schema.tables
          WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
          expect(tables.map((t) => t.name)).toEqual(
            expect.arrayContaining(["events", "contacts", "streams", "suppressions", "projects"])
          )
          const rows: Array<string> = []
          for (const { name } of tables) {
            for (const row of yield* sql<{ row: string }>`SELECT t::text AS row FROM ${sql(name)} t`)
              rows.push(`${name}: ${row.row}`)
          }
          return rows.join("\n")
        }).pipe(Effect.provide(context as Context.Context<SqlClient.SqlClient>))
      )

    it("DELETE /contacts/:id → 204 with no body; then the contact, its events and its email lookup are gone", async () => {
      const email = `${marker("gone")}@example.com`
      const { body } = await track({ email, event: "signup", data: { plan: "pro" } })
      expect((await get(`/contacts/${body.data.contact}`)).status).toBe(200)
      expectNoContent(await del(`/contacts/${body.data.contact}`))
      expectEnvelope(await get(`/contacts/${body.data.contact}`), 404, "CONTACT_NOT_FOUND")
      expectEnvelope(await get(`/contacts/${body.data.contact}/events`), 404, "CONTACT_NOT_FOUND")
      expect(await byEmail(email)).toEqual([])
      const listed = await get("/contacts?limit=100")
      expect(listed.body.data.map((c: { id: string }) => c.id)).not.toContain(body.data.contact)
    })

    it("404 CONTACT_NOT_FOUND for a second erase, an unknown id, a non-UUID id and another project's contact", async () => {
      const email = `${marker("twice")}@example.com`
      const mine = (await track({ email, event: "e" })).body.data.contact
      const theirs = (await track({ email, event: "e", data: { kept: "yes" } }, projectB.publicKey)).body.data.contact
      expectEnvelope(await del(`/contacts/${theirs}`), 404, "CONTACT_NOT_FOUND")
      expectEnvelope(await del(`/contacts/${theirs}?suppress=true`), 404, "CONTACT_NOT_FOUND")
      expectEnvelope(await del("/contacts/01900000-0000-7000-8000-000000000000"), 404, "CONTACT_NOT_FOUND")
      expectEnvelope(await del("/contacts/not-a-uuid"), 404, "CONTACT_NOT_FOUND")
      expectNoContent(await del(`/contacts/${mine}`))
      expectEnvelope(await del(`/contacts/${mine}`), 404, "CONTACT_NOT_FOUND")
      // The other project's contact with the same email is untouched, and not suppressed.
      const kept = await get(`/contacts/${theirs}`, projectB.secretKey)
      expect(kept.body).toMatchObject({ id: theirs, email, data: { kept: "yes" } })
      expect((await get(`/contacts/${theirs}/events`, projectB.secretKey)).body.data).toHaveLength(1)
      const again = await track({ email, event: "again" }, projectB.publicKey)
      expect(again.body.data.contact).toBe(theirs)
    })

    it("the secret key is required: a public key → 403, none → 401; nothing is erased", async () => {
      const email = `${marker("auth")}@example.com`
      const id = (await track({ email, event: "e" })).body.data.contact
      expectEnvelope(await del(`/contacts/${id}`, projectA.publicKey), 403, "FORBIDDEN")
      expectEnvelope(await del(`/suppressions?email=${email}`, projectA.publicKey), 403, "FORBIDDEN")
      expectEnvelope(await request(base, "DELETE", `/contacts/${id}`), 401, "MISSING_AUTH")
      expectEnvelope(await request(base, "DELETE", `/suppressions?email=${email}`), 401, "MISSING_AUTH")
      expect((await get(`/contacts/${id}`)).status).toBe(200)
    })

    it("a suppress value other than true or false → 422, and the contact stays", async () => {
      const email = `${marker("bad")}@example.com`
      const id = (await track({ email, event: "e" })).body.data.contact
      for (const value of ["yes", "1", "TRUE", ""]) {
        const answer = await del(`/contacts/${id}?suppress=${value}`)
        expectEnvelope(answer, 422, "VALIDATION_ERROR")
        expect(answer.body.error.errors).toMatchObject([{ field: "suppress", code: "invalid_suppress" }])
      }
      expect((await get(`/contacts/${id}`)).status).toBe(200)
      expectNoContent(await del(`/contacts/${id}?suppress=false`))
      // Not suppressed: the email can be tracked, and lifting finds nothing.
      expectEnvelope(await del(`/suppressions?email=${email}`), 404, "NOT_FOUND")
    })

    it("a track after a plain erase creates a new contact, subscribed, with no old data", async () => {
      const email = `${marker("back")}@example.com`
      const old = (await track({ email, event: "e", subscribed: false, data: { plan: "pro" } })).body.data.contact
      expectNoContent(await del(`/contacts/${old}`))
      const fresh = await track({ email, event: "back" })
      expect(fresh.status).toBe(200)
      expect(fresh.body.data.contact).not.toBe(old)
      expect(await byEmail(email)).toMatchObject([{ id: fresh.body.data.contact, subscribed: true, data: {} }])
      expect((await get(`/contacts/${fresh.body.data.contact}/events`)).body.data.map((e: { name: string }) => e.name))
        .toEqual(["back"])
    })

    it("after suppress=true a track answers suppressed and stores nothing; DELETE /suppressions lifts it", async () => {
      const email = `${marker("supp")}@example.com`
      const old = (await track({ email, event: "e" })).body.data.contact
      expectNoContent(await del(`/contacts/${old}?suppress=true`))
      for (const sent of [email, `  ${email.toUpperCase()} `]) {
        for (const key of [projectA.publicKey, projectA.secretKey]) {
          const answer = await track({ email: sent, event: "again", data: { x: 1 } }, key)
          expect(answer.status, answer.text).toBe(200)
          expect(Object.keys(answer.body.data)).toEqual(["contact", "event", "timestamp", "suppressed"])
          expect(answer.body).toMatchObject({ success: true, data: { contact: null, event: null, suppressed: true } })
          expect(new Date(answer.body.data.timestamp).toISOString()).toBe(answer.body.data.timestamp)
        }
      }
      expect(await byEmail(email)).toEqual([])
      // Bad input is refused without lifting anything.
      expectEnvelope(await del("/suppressions"), 422, "VALIDATION_ERROR")
      expectEnvelope(await del("/suppressions?email=not-an-email"), 422, "VALIDATION_ERROR")
      expect((await track({ email, event: "still" })).body.data.suppressed).toBe(true)
      // The other project is not affected.
      expect((await track({ email, event: "elsewhere" }, projectB.publicKey)).body.data.contact).toEqual(
        expect.any(String)
      )

      expectNoContent(await del(`/suppressions?email=${encodeURIComponent(`  ${email.toUpperCase()}`)}`))
      expectEnvelope(await del(`/suppressions?email=${encodeURIComponent(email)}`), 404, "NOT_FOUND")
      const back = await track({ email, event: "back" })
      expect(back.body.data.contact).toEqual(expect.any(String))
      expect(back.body.data.contact).not.toBe(old)
      expect(back.body.data.suppressed).toBeUndefined()
      expect(await byEmail(email)).toMatchObject([{ id: back.body.data.contact, subscribed: true }])
    })

    it("a batch counts its suppressed items apart: accepted + rejected + suppressed = the items (behaviour §8)", async () => {
      const email = `${marker("bsupp")}@example.com`
      const kept = `${marker("bkept")}@example.com`
      const old = (await track({ email, event: "e" })).body.data.contact
      expectNoContent(await del(`/contacts/${old}?suppress=true`))
      const answer = await request(base, "POST", "/v1/track/batch", {
        key: projectA.publicKey,
        body: {
          events: [
            { email: kept, event: "a" },
            { email, event: "refused" },
            { email: "not-an-email", event: "x" },
            { email: kept, event: "b" }
          ]
        }
      })
      expect(answer.status, answer.text).toBe(200)
      expect(Object.keys(answer.body.data)).toEqual(["accepted", "rejected", "suppressed", "results"])
      expect(answer.body.data).toMatchObject({ accepted: 2, rejected: 1, suppressed: 1 })
      expect(answer.body.data.results[1]).toMatchObject({
        success: true,
        data: { contact: null, event: null, suppressed: true }
      })
      expect(await byEmail(email)).toEqual([])
    })

    it("an Idempotency-Key answer for a suppressed email is kept: replayed byte for byte, another body 422, also after the lift", async () => {
      const email = `${marker("keyed")}@example.com`
      const other = `${marker("keyedother")}@example.com`
      const old = (await track({ email, event: "e" })).body.data.contact
      expectNoContent(await del(`/contacts/${old}?suppress=true`))
      const key = marker("key")
      const keyed = (body: Record<string, unknown>) =>
        request(base, "POST", "/v1/track", { key: projectA.publicKey, body, headers: { "idempotency-key": key } })
      const body = { email, event: "again", data: { x: 1 } }
      const first = await keyed(body)
      expect(first.status, first.text).toBe(200)
      expect(first.body).toMatchObject({ success: true, data: { contact: null, event: null, suppressed: true } })
      expect(first.headers.get("idempotent-replayed")).toBeNull()
      // Replayed later: the same bytes (its first timestamp), said to be a replay.
      await new Promise((resolve) => setTimeout(resolve, 5))
      const again = await keyed(body)
      expect(again.status).toBe(200)
      expect(again.text).toBe(first.text)
      expect(again.headers.get("idempotent-replayed")).toBe("true")
      const reused = await keyed({ email: other, event: "e" })
      expectEnvelope(reused, 422, "IDEMPOTENCY_KEY_REUSED")
      expect(await byEmail(other)).toEqual([])
      // Lifting the suppression does not change what the key answers, and the retry stores nothing.
      expectNoContent(await del(`/suppressions?email=${encodeURIComponent(email)}`))
      const lifted = await keyed(body)
      expect(lifted.text).toBe(first.text)
      expect(lifted.headers.get("idempotent-replayed")).toBe("true")
      expect(await byEmail(email)).toEqual([])
    })

    it("a batch with an Idempotency-Key whose items are all suppressed keeps its answer, also after the lift", async () => {
      const email = `${marker("batchkeyed")}@example.com`
      const old = (await track({ email, event: "e" })).body.data.contact
      expectNoContent(await del(`/contacts/${old}?suppress=true`))
      const key = marker("batchkey")
      const batch = (events: ReadonlyArray<Record<string, unknown>>) =>
        request(base, "POST", "/v1/track/batch", {
          key: projectA.publicKey,
          body: { events },
          headers: { "idempotency-key": key }
        })
      const events = [{ email, event: "a" }, { email, event: "b", data: { n: 2 } }]
      const first = await batch(events)
      expect(first.status, first.text).toBe(200)
      expect(first.body.data.results.map((r: { data: { suppressed?: boolean } }) => r.data.suppressed)).toEqual([
        true,
        true
      ])
      const again = await batch(events)
      expect(again.text).toBe(first.text)
      expect(again.headers.get("idempotent-replayed")).toBe("true")
      expectEnvelope(
        await batch([{ email: `${marker("batchother")}@example.com`, event: "e" }]),
        422,
        "IDEMPOTENCY_KEY_REUSED"
      )
      expectNoContent(await del(`/suppressions?email=${encodeURIComponent(email)}`))
      const lifted = await batch(events)
      expect(lifted.text).toBe(first.text)
      expect(lifted.headers.get("idempotent-replayed")).toBe("true")
      expect(await byEmail(email)).toEqual([])
    })

    it("a track racing an erasure of the same contact: erased with it or a new contact, never half, never 5xx", async () => {
      for (let round = 0; round < 10; round++) {
        const email = `${marker("race")}@example.com`
        const old = (await track({ email, event: "first" })).body.data.contact
        const [erased, tracked] = await Promise.all([
          del(`/contacts/${old}`),
          track({ email, event: "racing", data: { round } })
        ])
        expectNoContent(erased)
        expect(tracked.status, tracked.text).toBe(200)
        expectEnvelope(await get(`/contacts/${old}`), 404, "CONTACT_NOT_FOUND")
        const found = await byEmail(email)
        if (tracked.body.data.contact === old) expect(found).toEqual([])
        else {
          expect(found).toMatchObject([{ id: tracked.body.data.contact, data: { round } }])
          const events = (await get(`/contacts/${tracked.body.data.contact}/events`)).body.data
          expect(events.map((e: { id: string }) => e.id)).toEqual([tracked.body.data.event])
        }
      }
    })

    if (options.database === true) {
      it("after erasure a dump of the whole database holds neither the email nor any data value of the contact or its events", async () => {
        const local = marker("mailpart")
        const email = `${local}@example.com`
        const values = [marker("dataval"), marker("eventval"), marker("oneshot"), marker("nested"), marker("unsetval")]
        const [dataValue, eventValue, oneShot, nested, unsetValue] = values as [string, string, string, string, string]
        const first = await track({ email, event: "signup", data: { plan: dataValue, gone: unsetValue } })
        await track({
          email,
          event: marker("eventname"),
          subscribed: false,
          data: { gone: null, note: { deep: [nested] } }
        })
        await track(
          { email, event: "buy", data: { tmp: { value: oneShot, persistent: false }, item: eventValue } },
          projectA.secretKey
        )
        // Another contact, in another project, whose values must survive: the dump does show data.
        const survivor = marker("survivor")
        await track({ email: `${survivor}@example.com`, event: "e", data: { v: survivor } }, projectB.publicKey)

        const before = await dump()
        for (const value of [local, ...values, survivor]) expect(before).toContain(value)

        expectNoContent(await del(`/contacts/${first.body.data.contact}?suppress=true`))
        const after = await dump()
        for (const value of [local, email, ...values]) expect(after).not.toContain(value)
        expect(after).toContain(survivor)
        // What remains: the marker (id and time only) and the keyed hash on the suppression list.
        expect(after).toContain(first.body.data.contact)
        expect(after).toMatch(/suppressions: \([^,]+,[0-9a-f]{64},/)
      })
    }
  })

erasure("memory store", () => StoreMemory.layer)
for (const backend of TestDatabase.backends) {
  erasure(backend.name, () => TestDatabase.layer(backend.database), { database: true })
}

// The memory store keeps its log as bytes: erased events must not be left in them.
describe("erasure in the memory store's log buffers", () => {
  it("the bytes of erased events are overwritten: no email or value of the contact is left in the process's log", async () => {
    const email = `${marker("mem")}@example.com`
    const value = marker("memval")
    const other = marker("memkeep")
    const held = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const ports = yield* StoreMemory.make
      const url = (yield* start(Layer.succeedContext(Store.context(ports)))).url
      const id = (yield* Effect.promise(() =>
        trackAt(url, { email, event: value, data: { v: value } })
      )).body.data.contact
      yield* Effect.promise(() => trackAt(url, { email: `${other}@example.com`, event: "e", data: { v: other } }))
      const before = text(ports.logBuffers())
      expect(before).toContain(value)
      expect(before).toContain(email)
      expectNoContent(
        yield* Effect.promise(() => request(url, "DELETE", `/contacts/${id}`, { key: projectA.secretKey }))
      )
      return text(ports.logBuffers())
    })))
    expect(held).not.toContain(value)
    expect(held).not.toContain(email)
    expect(held).toContain(other)
  })
})

const trackAt = (url: string, body: unknown) => request(url, "POST", "/v1/track", { key: projectA.publicKey, body })
const text = (buffers: ReadonlyArray<Uint8Array>) => buffers.map((b) => Buffer.from(b).toString("latin1")).join("")
