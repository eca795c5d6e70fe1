/**
 * behaviour §1–§3 over real HTTP, row by row: status, envelope, field paths, stored state after the
 * call, and unchanged state after a rejected one. Run against each store.
 */
import type * as Store from "@tracklog/core/Store"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Answer, projectA, projectB, request, start as startServer } from "./TestServer.js"

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

let counter = 0
/** A fresh email per test, so tests never share a contact. */
const freshEmail = (tag: string) => `${tag}-${Date.now().toString(36)}-${counter++}@example.com`

const expectEnvelope = (answer: Answer, status: number, code: string) => {
  expect(answer.status).toBe(status)
  expect(answer.body).toMatchObject({ success: false, error: { code, statusCode: status } })
  expect(typeof answer.body.error.message).toBe("string")
  expect(answer.body.error.requestId).toMatch(/^[0-9a-f-]{36}$/)
  expect(answer.headers.get("x-request-id")).toBe(answer.body.error.requestId)
  expect(new Date(answer.body.timestamp).toISOString()).toBe(answer.body.timestamp)
  if (code !== "VALIDATION_ERROR" || status === 400) expect(answer.body.error.errors).toBeUndefined()
  // Every 401 says how to authenticate (RFC 9110 §11.6.1).
  if (status === 401) expect(answer.headers.get("www-authenticate")).toMatch(/^Bearer( |$)/)
}

/** How a target under test starts over a store: the node server unless told otherwise. */
export type Start = <E>(
  store: Layer.Layer<Store.Ports, E>,
  options: { readonly bodyLimit: number }
) => Effect.Effect<{ readonly url: string }, unknown, Scope.Scope>

export const conformance = <E>(
  name: string,
  store: () => Layer.Layer<Store.Ports, E>,
  start: Start = startServer
) =>
  describe(`HTTP conformance: ${name}`, () => {
    let base = ""
    const scope = Effect.runSync(Scope.make())
    beforeAll(async () => {
      base = (await Effect.runPromise(Scope.extend(start(store(), { bodyLimit: 64 * 1024 }), scope))).url
    })
    afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

    const track = (body: unknown, key = projectA.publicKey) => request(base, "POST", "/v1/track", { key, body })
    const get = (path: string, key = projectA.secretKey) => request(base, "GET", path, { key })
    const contactByEmail = async (email: string, key = projectA.secretKey) =>
      (await get(`/contacts?email=${encodeURIComponent(email)}`, key)).body.data[0]
    const eventsOf = async (contactId: string) => (await get(`/contacts/${contactId}/events?limit=1000`)).body.data

    describe("§1.1 auth", () => {
      it("no Authorization header → 401 MISSING_AUTH", async () => {
        expectEnvelope(
          await request(base, "POST", "/v1/track", { body: { email: "a@b.co", event: "e" } }),
          401,
          "MISSING_AUTH"
        )
      })

      it("a header that is not exactly `Bearer <token>` → 401 MISSING_AUTH", async () => {
        for (const header of ["Basic abc", "Bearer", "Bearer ", `Bearer ${projectA.publicKey} x`, projectA.publicKey]) {
          const answer = await request(base, "POST", "/v1/track", {
            body: { email: "a@b.co", event: "e" },
            headers: { authorization: header }
          })
          expectEnvelope(answer, 401, "MISSING_AUTH")
        }
      })

      it('every 401 carries WWW-Authenticate: Bearer, with error="invalid_token" only when a key was sent', async () => {
        const body = { email: "a@b.co", event: "e" }
        const missing = [
          await request(base, "POST", "/v1/track", { body }),
          await request(base, "POST", "/v1/track", { body, headers: { authorization: "Basic abc" } }),
          await request(base, "POST", "/v1/track/batch", { body: { events: [body] } }),
          await request(base, "GET", "/contacts"),
          await request(base, "GET", "/events/stream"),
          await request(base, "DELETE", "/suppressions?email=a%40b.co")
        ]
        for (const answer of missing) {
          expectEnvelope(answer, 401, "MISSING_AUTH")
          expect(answer.headers.get("www-authenticate")).toBe('Bearer realm="tracklog"')
        }
        const invalid = [
          await track(body, "pk_unknown"),
          await request(base, "POST", "/v1/track/batch", { key: "pk_unknown", body: { events: [body] } }),
          await get("/contacts", "sk_unknown"),
          await get("/events/stream", "sk_unknown")
        ]
        for (const answer of invalid) {
          expectEnvelope(answer, 401, "INVALID_API_KEY")
          expect(answer.headers.get("www-authenticate")).toBe('Bearer realm="tracklog", error="invalid_token"')
        }
        // Only a 401 challenges: a 403 (the key is known, of the wrong kind) and a 200 do not.
        expect((await get("/contacts", projectA.publicKey)).headers.get("www-authenticate")).toBeNull()
        expect((await get("/contacts")).headers.get("www-authenticate")).toBeNull()
      })

      it("one or more spaces between `Bearer` and the key (RFC 9110 §11.4: `1*SP`) name the key", async () => {
        for (const spaces of ["  ", "   ", " ".repeat(8)]) {
          const answer = await request(base, "POST", "/v1/track", {
            body: { email: freshEmail("spaces"), event: "e" },
            headers: { authorization: `Bearer${spaces}${projectA.publicKey}` }
          })
          expect(answer.status, JSON.stringify(spaces)).toBe(200)
          const read = await request(base, "GET", "/contacts?limit=1", {
            headers: { authorization: `Bearer${spaces}${projectA.secretKey}` }
          })
          expect(read.status, JSON.stringify(spaces)).toBe(200)
        }
        expectEnvelope(
          await request(base, "GET", "/contacts", { headers: { authorization: "Bearer  sk_nope" } }),
          401,
          "INVALID_API_KEY"
        )
      })

      it("an unknown key → 401 INVALID_API_KEY, also one shaped like a real key", async () => {
        for (const key of ["pk_unknown", "sk_unknown", "nonsense"]) {
          expectEnvelope(await track({ email: "a@b.co", event: "e" }, key), 401, "INVALID_API_KEY")
        }
      })

      it("both the public and the secret key work on /v1/track", async () => {
        expect((await track({ email: freshEmail("pk"), event: "e" }, projectA.publicKey)).status).toBe(200)
        expect((await track({ email: freshEmail("sk"), event: "e" }, projectA.secretKey)).status).toBe(200)
      })

      it("a public key on a secret-only route → 403 FORBIDDEN, on every read route", async () => {
        const { body } = await track({ email: freshEmail("forbidden"), event: "e" })
        for (
          const path of [
            "/contacts",
            `/contacts/${body.data.contact}`,
            `/contacts/${body.data.contact}/events`,
            "/contacts?email=a%40b.co"
          ]
        ) {
          expectEnvelope(await get(path, projectA.publicKey), 403, "FORBIDDEN")
        }
      })

      it("read routes need a key: none → 401 MISSING_AUTH, unknown → 401 INVALID_API_KEY", async () => {
        expectEnvelope(await request(base, "GET", "/contacts"), 401, "MISSING_AUTH")
        expectEnvelope(await get("/contacts", "sk_nope"), 401, "INVALID_API_KEY")
      })
    })

    describe("§1.2 request body", () => {
      it("a body that is not JSON → 400 VALIDATION_ERROR, and nothing is stored", async () => {
        const email = freshEmail("badjson")
        for (const raw of ["{bad", `{"email":"${email}","event":"e"`, "nul", "\u0000"]) {
          const answer = await request(base, "POST", "/v1/track", {
            key: projectA.publicKey,
            raw,
            headers: { "content-type": "application/json" }
          })
          expectEnvelope(answer, 400, "VALIDATION_ERROR")
          expect(answer.body.error.message).toBe("Invalid JSON in request body")
        }
        expect(await contactByEmail(email)).toBeUndefined()
      })

      it("a body that is not JSON without a usable key is refused for the key first (401, 403)", async () => {
        const raw = "{bad"
        const headers = { "content-type": "application/json" }
        expectEnvelope(await request(base, "POST", "/v1/track", { raw, headers }), 401, "MISSING_AUTH")
        expectEnvelope(
          await request(base, "POST", "/v1/track", { key: "pk_nope", raw, headers }),
          401,
          "INVALID_API_KEY"
        )
        expectEnvelope(
          await request(base, "POST", "/contacts/query", { key: projectA.publicKey, raw, headers }),
          403,
          "FORBIDDEN"
        )
        expectEnvelope(
          await request(base, "POST", "/contacts/query", { key: projectA.secretKey, raw, headers }),
          400,
          "VALIDATION_ERROR"
        )
      })

      it("each broken field rule → 422 with one errors[] item per rule, with field paths", async () => {
        const answer = await track({ email: "nope", event: "", subscribed: "yes", data: { locale: 3 } })
        expectEnvelope(answer, 422, "VALIDATION_ERROR")
        expect(answer.body.error.errors).toEqual([
          { field: "email", message: expect.any(String), code: "invalid_email" },
          { field: "event", message: expect.any(String), code: "too_short" },
          { field: "subscribed", message: expect.any(String), code: "invalid_type" },
          { field: "data.locale", message: expect.any(String), code: "invalid_type" }
        ])
      })

      it("missing email and event → 422 with both fields required; an empty body too", async () => {
        for (
          const answer of [
            await track({}),
            await request(base, "POST", "/v1/track", { key: projectA.publicKey, raw: "" })
          ]
        ) {
          expectEnvelope(answer, 422, "VALIDATION_ERROR")
          expect(answer.body.error.errors.map((e: { field: string; code: string }) => [e.field, e.code])).toEqual([
            ["email", "required"],
            ["event", "required"]
          ])
        }
      })

      it("email: trimmed and lowercased, valid, at most 254 characters", async () => {
        const email = freshEmail("Canon")
        const first = await track({ email: `  ${email.toUpperCase()}  `, event: "e" })
        const second = await track({ email, event: "e" })
        expect(first.body.data.contact).toBe(second.body.data.contact)
        expect((await contactByEmail(email)).email).toBe(email.toLowerCase())
        const long = `${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}.com`
        const answer = await track({ email: long, event: "e" })
        expectEnvelope(answer, 422, "VALIDATION_ERROR")
        expect(answer.body.error.errors[0].field).toBe("email")
        for (const bad of ["a@", "@b.co", "a b@c.de", 42, null]) {
          const rejected = await track({ email: bad, event: "e" })
          expectEnvelope(rejected, 422, "VALIDATION_ERROR")
          expect(rejected.body.error.errors[0].field).toBe("email")
        }
      })

      it("event: 1–256 characters, not all whitespace, stored verbatim", async () => {
        for (const event of ["", "   ", "x".repeat(257), 5]) {
          const answer = await track({ email: freshEmail("ev"), event })
          expectEnvelope(answer, 422, "VALIDATION_ERROR")
          expect(answer.body.error.errors[0].field).toBe("event")
        }
        const email = freshEmail("verbatim")
        const { body } = await track({ email, event: "  Signed Up " })
        expect((await eventsOf(body.data.contact))[0].name).toBe("  Signed Up ")
      })

      it("data must be an object: an array, a string, a number → 422 at data", async () => {
        for (const data of [[1, 2], "x", 7]) {
          const answer = await track({ email: freshEmail("data"), event: "e", data })
          expectEnvelope(answer, 422, "VALIDATION_ERROR")
          expect(answer.body.error.errors).toEqual([{
            field: "data",
            message: expect.any(String),
            code: "invalid_type"
          }])
        }
      })

      it("subscribed and preserveExistingSubscription must be booleans", async () => {
        const answer = await track({
          email: freshEmail("b"),
          event: "e",
          subscribed: 1,
          preserveExistingSubscription: "no"
        })
        expectEnvelope(answer, 422, "VALIDATION_ERROR")
        expect(answer.body.error.errors.map((e: { field: string }) => e.field)).toEqual([
          "subscribed",
          "preserveExistingSubscription"
        ])
      })

      it("unknown top-level fields are ignored", async () => {
        expect((await track({ email: freshEmail("extra"), event: "e", projectId: "x", whatever: [1] })).status).toBe(
          200
        )
      })

      it("a rejected request changes nothing", async () => {
        const email = freshEmail("unchanged")
        const { body } = await track({ email, event: "first", data: { plan: "free" } })
        const before = await get(`/contacts/${body.data.contact}`)
        const rejected = [
          await track({ email, event: "email.sent", data: { plan: "pro" } }),
          await track({ email, event: "e", subscribed: false, data: { plan: "pro", locale: 1 } }),
          await track({ email, event: "e", data: [1] })
        ]
        for (const answer of rejected) expect(answer.status).toBe(422)
        expect((await get(`/contacts/${body.data.contact}`)).body).toEqual(before.body)
        expect((await eventsOf(body.data.contact)).map((e: { name: string }) => e.name)).toEqual(["first"])
      })

      it("a body over the limit → 413 PAYLOAD_TOO_LARGE, and nothing is stored", async () => {
        const email = freshEmail("big")
        const answer = await track({ email, event: "e", data: { blob: "x".repeat(70 * 1024) } })
        expectEnvelope(answer, 413, "PAYLOAD_TOO_LARGE")
        expect(await contactByEmail(email)).toBeUndefined()
      })
    })

    describe("§1.3 reserved event names", () => {
      it("email.*, contact.subscribed, contact.unsubscribed, segment.<slug>.entry|exit → 422 reserved_event", async () => {
        for (
          const event of [
            "email.sent",
            "email.opened",
            "contact.subscribed",
            "contact.unsubscribed",
            "segment.vip.entry",
            "segment.vip.exit"
          ]
        ) {
          const answer = await track({ email: freshEmail("reserved"), event })
          expectEnvelope(answer, 422, "VALIDATION_ERROR")
          expect(answer.body.error.errors).toEqual([{
            field: "event",
            message: expect.any(String),
            code: "reserved_event"
          }])
        }
      })

      it("matching is case-sensitive: Email.sent and contact.created are accepted", async () => {
        for (const event of ["Email.sent", "contact.created", "Contact.subscribed", "segment.vip"]) {
          expect((await track({ email: freshEmail("ok"), event })).status).toBe(200)
        }
      })
    })

    describe("§1.4 contact upsert and subscribed", () => {
      it("a new contact is subscribed by default, with no subscription event", async () => {
        const email = freshEmail("new")
        const { body } = await track({ email, event: "signup" })
        expect((await contactByEmail(email)).subscribed).toBe(true)
        expect((await eventsOf(body.data.contact)).map((e: { name: string }) => e.name)).toEqual(["signup"])
      })

      it("a new contact takes an explicit subscribed: false", async () => {
        const email = freshEmail("newfalse")
        await track({ email, event: "signup", subscribed: false })
        expect((await contactByEmail(email)).subscribed).toBe(false)
      })

      it("an existing contact keeps its state when subscribed is omitted", async () => {
        const email = freshEmail("keep")
        await track({ email, event: "a", subscribed: false })
        await track({ email, event: "b" })
        expect((await contactByEmail(email)).subscribed).toBe(false)
      })

      it("a flip records contact.unsubscribed / contact.subscribed before the tracked event; no flip, no event", async () => {
        const email = freshEmail("flip")
        const { body } = await track({ email, event: "a" })
        await track({ email, event: "b", subscribed: false })
        await track({ email, event: "c", subscribed: false })
        await track({ email, event: "d", subscribed: true })
        const names = (await eventsOf(body.data.contact)).map((e: { name: string }) => e.name)
        expect(names).toEqual(["d", "contact.subscribed", "c", "b", "contact.unsubscribed", "a"])
        expect((await contactByEmail(email)).subscribed).toBe(true)
      })

      it("preserveExistingSubscription: true keeps an existing state, but applies to a new contact", async () => {
        const email = freshEmail("preserve")
        await track({ email, event: "a", subscribed: false, preserveExistingSubscription: true })
        expect((await contactByEmail(email)).subscribed).toBe(false)
        const { body } = await track({ email, event: "b", subscribed: true, preserveExistingSubscription: true })
        expect((await contactByEmail(email)).subscribed).toBe(false)
        expect((await eventsOf(body.data.contact)).map((e: { name: string }) => e.name)).toEqual(["b", "a"])
      })

      it("many concurrent first tracks for one new email → one contact, every event, no 5xx", async () => {
        const email = freshEmail("concurrent")
        const answers = await Promise.all(
          Array.from({ length: 40 }, (_, i) => track({ email: i % 2 ? email : email.toUpperCase(), event: `e${i}` }))
        )
        expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200))
        expect(new Set(answers.map((a) => a.body.data.contact)).size).toBe(1)
        expect(await eventsOf(answers[0]!.body.data.contact)).toHaveLength(40)
      })
    })

    describe("§1.5 data merge", () => {
      it("applies the merge table: reserved dropped, '' ignored, null deletes, one-shots not stored, wrappers unwrapped, values replaced whole", async () => {
        const email = freshEmail("merge")
        await track({
          email,
          event: "a",
          data: { plan: "free", name: "Ada", address: { city: "Paris", zip: "1" }, gone: 1 }
        })
        await track({
          email,
          event: "b",
          data: {
            id: "x",
            email: "evil@example.com",
            subscribed: false,
            createdAt: 1,
            updatedAt: 1,
            plunk_id: 1,
            plunk_email: 1,
            unsubscribeUrl: 1,
            subscribeUrl: 1,
            manageUrl: 1,
            name: "",
            gone: null,
            orderId: { value: "o-1", persistent: false },
            tier: { value: "gold", persistent: true },
            address: { city: "Lyon" },
            "a.b": [1, 2],
            locale: "fr"
          }
        })
        const contact = await contactByEmail(email)
        expect(contact.email).toBe(email)
        expect(contact.subscribed).toBe(true)
        expect(contact.data).toEqual({
          plan: "free",
          name: "Ada",
          address: { city: "Lyon" },
          tier: "gold",
          "a.b": [1, 2],
          locale: "fr"
        })
        expect(Object.keys(contact.data)).toEqual(["plan", "name", "address", "tier", "a.b", "locale"])
      })

      it("a contact with no keys left has data {}", async () => {
        const email = freshEmail("empty")
        await track({ email, event: "a", data: { k: 1 } })
        await track({ email, event: "b", data: { k: null } })
        expect((await contactByEmail(email)).data).toEqual({})
      })

      it("locale neither a string nor null → 422 at data.locale; null deletes it", async () => {
        const email = freshEmail("locale")
        for (const locale of [1, true, ["en"], { value: "en", persistent: true }]) {
          const answer = await track({ email, event: "e", data: { locale } })
          expectEnvelope(answer, 422, "VALIDATION_ERROR")
          expect(answer.body.error.errors).toEqual([{
            field: "data.locale",
            message: expect.any(String),
            code: "invalid_type"
          }])
        }
        await track({ email, event: "e", data: { locale: "en" } })
        await track({ email, event: "e", data: { locale: null } })
        expect((await contactByEmail(email)).data).toEqual({})
      })
    })

    describe("§1.6 the tracked event and §1.7 the response", () => {
      it("answers 200 {success, data: {contact, event, timestamp}}", async () => {
        const before = Date.now()
        const answer = await track({ email: freshEmail("resp"), event: "e" })
        expect(answer.status).toBe(200)
        expect(Object.keys(answer.body)).toEqual(["success", "data"])
        expect(answer.body.success).toBe(true)
        expect(Object.keys(answer.body.data).sort()).toEqual(["contact", "event", "timestamp"])
        expect(answer.body.data.contact).toMatch(uuid)
        expect(answer.body.data.event).toMatch(uuid)
        const at = Date.parse(answer.body.data.timestamp)
        expect(new Date(at).toISOString()).toBe(answer.body.data.timestamp)
        expect(at).toBeGreaterThanOrEqual(before - 5)
        expect(at).toBeLessThanOrEqual(Date.now() + 5)
        expect(answer.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
      })

      it("no idempotency: the same call twice records two events", async () => {
        const email = freshEmail("twice")
        const a = await track({ email, event: "same", data: { k: 1 } })
        const b = await track({ email, event: "same", data: { k: 1 } })
        expect(a.body.data.event).not.toBe(b.body.data.event)
        expect(await eventsOf(a.body.data.contact)).toHaveLength(2)
      })

      it("the event keeps its name and the full data as sent, one-shots and reserved keys included", async () => {
        const email = freshEmail("eventdata")
        const data = { orderId: { value: "o-9", persistent: false }, email: "x", plan: "pro", k: "" }
        const { body } = await track({ email, event: "purchase", data })
        const [event] = await eventsOf(body.data.contact)
        expect(event).toEqual({ id: body.data.event, name: "purchase", data, createdAt: body.data.timestamp })
        expect(Object.keys(event.data)).toEqual(Object.keys(data))
      })
    })

    describe("§2 envelope", () => {
      it("an unknown route → 404 NOT_FOUND in the envelope, with or without a key", async () => {
        expectEnvelope(await request(base, "GET", "/nope"), 404, "NOT_FOUND")
      })

      it("a known route with another method → 405 METHOD_NOT_ALLOWED in the envelope, with Allow (behaviour §9)", async () => {
        const track = await request(base, "GET", "/v1/track", { key: projectA.publicKey })
        expectEnvelope(track, 405, "METHOD_NOT_ALLOWED")
        expect(track.headers.get("allow")).toBe("POST, OPTIONS")
        const contacts = await request(base, "DELETE", "/contacts", { key: projectA.secretKey })
        expectEnvelope(contacts, 405, "METHOD_NOT_ALLOWED")
        expect(contacts.headers.get("allow")).toBe("GET, HEAD")
      })

      it("the Bearer scheme name is case-insensitive (behaviour §9)", async () => {
        const answer = await request(base, "POST", "/v1/track", {
          body: { email: freshEmail("bearer"), event: "e" },
          headers: { authorization: `bearer ${projectA.publicKey}` }
        })
        expect(answer.status).toBe(200)
      })

      it("X-Request-ID is on every response, unique per request", async () => {
        const answers = [
          await get("/contacts"),
          await get("/nope"),
          await track({ email: freshEmail("rid"), event: "e" })
        ]
        const ids = answers.map((a) => a.headers.get("x-request-id"))
        for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/)
        expect(new Set(ids).size).toBe(3)
      })

      it("CORS is open on /v1/track: preflight and response headers", async () => {
        const preflight = await fetch(`${base}/v1/track`, {
          method: "OPTIONS",
          headers: {
            origin: "https://shop.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type"
          }
        })
        expect(preflight.status).toBe(204)
        expect(preflight.headers.get("access-control-allow-origin")).toBe("*")
        expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization")
        expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("content-type")
        expect(preflight.headers.get("access-control-allow-methods")).toContain("POST")
        const answer = await request(base, "POST", "/v1/track", {
          key: projectA.publicKey,
          body: { email: freshEmail("cors"), event: "e" },
          headers: { origin: "https://shop.example" }
        })
        expect(answer.headers.get("access-control-allow-origin")).toBe("*")
        // With a trailing slash, the same route and the same CORS.
        const slashed = await request(base, "POST", "/v1/track/", {
          key: projectA.publicKey,
          body: { email: freshEmail("cors"), event: "e" }
        })
        expect(slashed.status).toBe(200)
        expect(slashed.headers.get("access-control-allow-origin")).toBe("*")
        expect((await fetch(`${base}/v1/track/`, { method: "OPTIONS" })).status).toBe(204)
      })
    })

    describe("§3 read API", () => {
      it("GET /contacts/:id → {id, email, subscribed, data, createdAt, updatedAt}", async () => {
        const email = freshEmail("read")
        const { body } = await track({ email, event: "e", data: { plan: "pro" } })
        const answer = await get(`/contacts/${body.data.contact}`)
        expect(answer.status).toBe(200)
        expect(answer.body).toEqual({
          id: body.data.contact,
          email,
          subscribed: true,
          data: { plan: "pro" },
          createdAt: body.data.timestamp,
          updatedAt: body.data.timestamp
        })
      })

      it("an unknown id, or another project's id → 404 CONTACT_NOT_FOUND", async () => {
        expectEnvelope(await get("/contacts/00000000-0000-7000-8000-000000000000"), 404, "CONTACT_NOT_FOUND")
        expectEnvelope(await get("/contacts/not-a-uuid"), 404, "CONTACT_NOT_FOUND")
        const { body } = await track({ email: freshEmail("other"), event: "e" }, projectB.publicKey)
        expectEnvelope(await get(`/contacts/${body.data.contact}`), 404, "CONTACT_NOT_FOUND")
        expectEnvelope(await get(`/contacts/${body.data.contact}/events`), 404, "CONTACT_NOT_FOUND")
        expect((await get(`/contacts/${body.data.contact}`, projectB.secretKey)).status).toBe(200)
      })

      it("GET /contacts lists with a cursor: default 20, max 100, no cursor on the last page, project-scoped", async () => {
        // Project B's list holds only what these tests put there.
        const mine: Array<string> = []
        for (let i = 0; i < 23; i++)
          mine.push(
            (await track({ email: freshEmail("list"), event: "e" }, projectB.publicKey)).body.data.contact
          )
        const all: Array<string> = []
        let cursor: string | undefined
        let first = true
        do {
          const page = await get(
            `/contacts${cursor === undefined ? "" : `?cursor=${encodeURIComponent(cursor)}`}`,
            projectB.secretKey
          )
          expect(page.status).toBe(200)
          if (first) expect(page.body.data).toHaveLength(20)
          first = false
          expect("cursor" in page.body).toBe(page.body.hasMore)
          all.push(...page.body.data.map((c: { id: string }) => c.id))
          cursor = page.body.cursor
        } while (cursor !== undefined)
        for (const id of mine) expect(all).toContain(id)
        expect(new Set(all).size).toBe(all.length)
        const big = await get("/contacts?limit=100", projectB.secretKey)
        expect(big.body.data.length).toBe(all.length <= 100 ? all.length : 100)
        const two = await get("/contacts?limit=2", projectB.secretKey)
        expect(two.body).toMatchObject({ hasMore: true })
        expect(two.body.data).toHaveLength(2)
      })

      it("limit outside 1–100 or not an integer → 422 at limit", async () => {
        for (const limit of ["0", "101", "abc", "1.5", "-1"]) {
          const answer = await get(`/contacts?limit=${limit}`)
          expectEnvelope(answer, 422, "VALIDATION_ERROR")
          expect(answer.body.error.errors[0].field).toBe("limit")
        }
      })

      it("GET /contacts?email= finds by canonical email, or is empty", async () => {
        const email = freshEmail("byemail")
        const { body } = await track({ email, event: "e" })
        const found = await get(`/contacts?email=${encodeURIComponent(` ${email.toUpperCase()} `)}`)
        expect(found.body).toEqual({
          data: [expect.objectContaining({ id: body.data.contact, email })],
          hasMore: false
        })
        expect((await get(`/contacts?email=${encodeURIComponent(freshEmail("absent"))}`)).body).toEqual({
          data: [],
          hasMore: false
        })
        expect((await get(`/contacts?email=${encodeURIComponent(email)}`, projectB.secretKey)).body.data).toEqual([])
      })

      it("GET /contacts/:id/events: newest first, {id, name, data, createdAt}, paged, limit 1–1000", async () => {
        const email = freshEmail("events")
        const ids: Array<string> = []
        for (let i = 0; i < 5; i++) ids.push((await track({ email, event: `e${i}`, data: { i } })).body.data.event)
        const contact = (await contactByEmail(email)).id
        const page1 = await get(`/contacts/${contact}/events?limit=2`)
        expect(page1.body.data.map((e: { id: string }) => e.id)).toEqual([ids[4], ids[3]])
        expect(Object.keys(page1.body.data[0]).sort()).toEqual(["createdAt", "data", "id", "name"])
        expect(page1.body.hasMore).toBe(true)
        const page2 = await get(`/contacts/${contact}/events?limit=2&cursor=${page1.body.cursor}`)
        const page3 = await get(`/contacts/${contact}/events?limit=2&cursor=${page2.body.cursor}`)
        expect(page3.body).toEqual({
          data: [expect.objectContaining({ id: ids[0], name: "e0", data: { i: 0 } })],
          hasMore: false
        })
        expect((await get(`/contacts/${contact}/events`)).body.data).toHaveLength(5)
        for (const limit of ["0", "1001", "x"])
          expectEnvelope(
            await get(`/contacts/${contact}/events?limit=${limit}`),
            422,
            "VALIDATION_ERROR"
          )
        expect((await get(`/contacts/${contact}/events?limit=1000`)).status).toBe(200)
      })
    })

    describe("docs and health", () => {
      it("GET /openapi.json describes POST /v1/track and the read routes", async () => {
        const answer = await request(base, "GET", "/openapi.json")
        expect(answer.status).toBe(200)
        expect(Object.keys(answer.body.paths)).toEqual(
          expect.arrayContaining(["/v1/track", "/contacts", "/contacts/{id}", "/contacts/{id}/events"])
        )
        expect(answer.body.paths["/v1/track"].post).toBeDefined()
      })

      it("GET /health → 200 {status: ok}", async () => {
        const answer = await request(base, "GET", "/health")
        expect(answer.status).toBe(200)
        expect(answer.body).toEqual({ status: "ok" })
      })
    })
  })
