/**
 * behaviour §10 over real HTTP, on every store: `PATCH /contacts/:id` changes subscription, data and
 * email, records only what changed, refuses an email another contact holds, and its events replay
 * to the stored contact.
 */
import type * as Store from "@tracklog/core/Store"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Answer, projectA, projectB, request, start } from "./TestServer.js"

let counter = 0
const unique = (tag: string) => `${tag}-${Date.now().toString(36)}-${(counter++).toString(36)}@example.com`

const expectError = (answer: Answer, status: number, code: string) => {
  expect(answer.status, answer.text).toBe(status)
  expect(answer.body).toMatchObject({ success: false, error: { code, statusCode: status } })
}

const suite = <E>(name: string, store: () => Layer.Layer<Store.Ports, E>) =>
  describe(`PATCH /contacts/:id (behaviour §10): ${name}`, () => {
    const scope = Effect.runSync(Scope.make())
    let base = ""
    beforeAll(async () => {
      base = (await Effect.runPromise(Scope.extend(start(store()), scope))).url
    })
    afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

    const track = async (body: Record<string, unknown>) => {
      const answer = await request(base, "POST", "/v1/track", { key: projectA.publicKey, body })
      expect(answer.status, answer.text).toBe(200)
      return answer.body.data as { contact: string; event: string; timestamp: string }
    }
    const patch = (id: string, body: unknown, key = projectA.secretKey) =>
      request(base, "PATCH", `/contacts/${id}`, { key, body })
    const get = (path: string, key = projectA.secretKey) => request(base, "GET", path, { key })
    const timeline = async (id: string) =>
      ((await get(`/contacts/${id}/events`)).body.data as Array<{ name: string }>).map((e) => e.name)

    it("changes subscription, data and email at once; answers the contact as GET shows it", async () => {
      const email = unique("patch")
      const { contact } = await track({ email, event: "signup", data: { plan: "free", city: "Oslo" } })
      const before = (await get(`/contacts/${contact}`)).body
      const next = unique("moved")
      const answer = await patch(contact, {
        email: `  ${next.toUpperCase()} `,
        subscribed: false,
        data: { plan: "pro", city: null, seats: 3, id: "ignored" }
      })
      expect(answer.status, answer.text).toBe(200)
      expect(answer.body.success).toBe(true)
      const shown = (await get(`/contacts/${contact}`)).body
      expect(answer.body.data).toEqual(shown)
      expect(shown).toMatchObject({
        id: contact,
        email: next,
        subscribed: false,
        data: { plan: "pro", seats: 3 },
        createdAt: before.createdAt
      })
      expect(Date.parse(shown.updatedAt)).toBeGreaterThanOrEqual(Date.parse(before.updatedAt))
      // The email lookup follows: the new email finds it, the old one nothing.
      expect((await get(`/contacts?email=${encodeURIComponent(next)}`)).body.data.map((c: any) => c.id)).toEqual([
        contact
      ])
      expect((await get(`/contacts?email=${encodeURIComponent(email)}`)).body.data).toEqual([])
      // Only the flip is in the timeline; no tracked event is recorded.
      expect(await timeline(contact)).toEqual(["contact.unsubscribed", "signup"])
    })

    it("records nothing when nothing changes, and still answers 200", async () => {
      const email = unique("same")
      const { contact } = await track({ email, event: "signup", data: { a: 1 }, subscribed: true })
      const before = (await get(`/contacts/${contact}`)).body
      const answer = await patch(contact, { email: email.toUpperCase(), subscribed: true, data: { a: 1, b: "" } })
      expect(answer.status, answer.text).toBe(200)
      expect(answer.body.data).toEqual(before)
      expect(await timeline(contact)).toEqual(["signup"])
    })

    it("a data change and a flip back are recorded; the contact as it was before stays readable (?at)", async () => {
      const { contact, timestamp } = await track({ email: unique("at"), event: "e", data: { n: 1 } })
      await new Promise((resolve) => setTimeout(resolve, 5))
      expect((await patch(contact, { data: { n: 2 } })).status).toBe(200)
      expect((await patch(contact, { subscribed: false })).status).toBe(200)
      expect((await patch(contact, { subscribed: true })).status).toBe(200)
      expect(await timeline(contact)).toEqual(["contact.subscribed", "contact.unsubscribed", "e"])
      const then = (await get(`/contacts/${contact}?at=${encodeURIComponent(timestamp)}`)).body
      expect(then).toMatchObject({ data: { n: 1 }, subscribed: true })
      expect((await get(`/contacts/${contact}`)).body).toMatchObject({ data: { n: 2 }, subscribed: true })
    })

    it("an email another contact holds → 409 CONTACT_EXISTS, nothing changed", async () => {
      const taken = unique("taken")
      await track({ email: taken, event: "e" })
      const { contact } = await track({ email: unique("mover"), event: "e", data: { k: "v" } })
      const before = (await get(`/contacts/${contact}`)).body
      expectError(
        await patch(contact, { email: taken, data: { k: "changed" }, subscribed: false }),
        409,
        "CONTACT_EXISTS"
      )
      expect((await get(`/contacts/${contact}`)).body).toEqual(before)
      expect(await timeline(contact)).toEqual(["e"])
    })

    it("two updates racing for one free email: exactly one wins, the other is 409", async () => {
      const target = unique("race")
      const a = (await track({ email: unique("ra"), event: "e" })).contact
      const b = (await track({ email: unique("rb"), event: "e" })).contact
      const answers = await Promise.all([patch(a, { email: target }), patch(b, { email: target })])
      expect(answers.map((x) => x.status).sort()).toEqual([200, 409])
      const holders = (await get(`/contacts?email=${encodeURIComponent(target)}`)).body.data
      expect(holders).toHaveLength(1)
    })

    it("the old email is free again: a track for it creates a new contact", async () => {
      const old = unique("old")
      const { contact } = await track({ email: old, event: "e" })
      expect((await patch(contact, { email: unique("new") })).status).toBe(200)
      const fresh = await track({ email: old, event: "back" })
      expect(fresh.contact).not.toBe(contact)
    })

    it("a suppressed email may be set (suppression stops creation only)", async () => {
      const suppressed = unique("supp")
      const gone = await track({ email: suppressed, event: "e" })
      const erased = await request(base, "DELETE", `/contacts/${gone.contact}?suppress=true`, {
        key: projectA.secretKey
      })
      expect(erased.status).toBe(204)
      const { contact } = await track({ email: unique("keeper"), event: "e" })
      const answer = await patch(contact, { email: suppressed })
      expect(answer.status, answer.text).toBe(200)
      // The contact now holds the email, so a track for it goes on with that contact.
      const again = await track({ email: suppressed, event: "later" })
      expect(again.contact).toBe(contact)
    })

    it("unknown, another project's, erased, or not a uuid → 404 CONTACT_NOT_FOUND", async () => {
      const { contact } = await track({ email: unique("nf"), event: "e" })
      expectError(await patch("0190a000-0000-7000-8000-00000000dead", { subscribed: false }), 404, "CONTACT_NOT_FOUND")
      expectError(await patch(contact, { subscribed: false }, projectB.secretKey), 404, "CONTACT_NOT_FOUND")
      expectError(await patch("not-a-uuid", { subscribed: false }), 404, "CONTACT_NOT_FOUND")
      expect((await request(base, "DELETE", `/contacts/${contact}`, { key: projectA.secretKey })).status).toBe(204)
      expectError(await patch(contact, { subscribed: false }), 404, "CONTACT_NOT_FOUND")
    })

    it("bad input is a 4xx with every broken rule, and changes nothing", async () => {
      const { contact } = await track({ email: unique("bad"), event: "e", data: { keep: 1 } })
      const before = (await get(`/contacts/${contact}`)).body
      const empty = await patch(contact, {})
      expectError(empty, 422, "VALIDATION_ERROR")
      expect(empty.body.error.errors).toEqual([expect.objectContaining({ field: "body", code: "required" })])
      expectError(await patch(contact, { unknown: 1 }), 422, "VALIDATION_ERROR")
      const many = await patch(contact, {
        email: "not an email",
        subscribed: "yes",
        data: { once: { value: 1, persistent: false }, locale: 5 }
      })
      expectError(many, 422, "VALIDATION_ERROR")
      expect(many.body.error.errors.map((e: any) => `${e.field}:${e.code}`).sort()).toEqual([
        "data.locale:invalid_type",
        "data.once:invalid_type",
        "email:invalid_email",
        "subscribed:invalid_type"
      ])
      expectError(await patch(contact, { data: [1] }), 422, "VALIDATION_ERROR")
      const notJson = await request(base, "PATCH", `/contacts/${contact}`, { key: projectA.secretKey, raw: "{" })
      expectError(notJson, 400, "VALIDATION_ERROR")
      expectError(await patch(contact, { subscribed: false }, projectA.publicKey), 403, "FORBIDDEN")
      expect((await get(`/contacts/${contact}`)).body).toEqual(before)
      // A persistent wrapped value is stored unwrapped, as a track stores it (behaviour §1.5).
      const wrapped = await patch(contact, { data: { w: { value: [1], persistent: true } } })
      expect(wrapped.body.data.data).toEqual({ keep: 1, w: [1] })
    })

    it("an email change is on the stream as contact.updated with the new email", async () => {
      const { contact } = await track({ email: unique("sse"), event: "e" })
      const next = unique("sse-new")
      expect((await patch(contact, { email: next })).status).toBe(200)
      const controller = new AbortController()
      const response = await fetch(`${base}/events/stream?from=start`, {
        headers: { authorization: `Bearer ${projectA.secretKey}` },
        signal: controller.signal
      })
      const reader = response.body!.getReader()
      let text = ""
      const deadline = Date.now() + 10_000
      const wanted = `"email":"${next}"`
      while (!text.includes(wanted) && Date.now() < deadline) {
        const { done, value } = await reader.read()
        if (done) break
        text += new TextDecoder().decode(value)
      }
      controller.abort()
      const frame = text.split("\n\n").find((f) => f.includes(wanted) && f.includes(`"contact":"${contact}"`))
      expect(frame).toBeDefined()
      expect(frame).toContain("event: contact.updated")
      const data = JSON.parse(frame!.split("\n").find((l) => l.startsWith("data: "))!.slice(6))
      expect(data).toMatchObject({ contact, email: next, set: {}, unset: [] })
    })
  })

suite("memory store", () => StoreMemory.layer)
for (const backend of TestDatabase.backends) suite(backend.name, () => TestDatabase.layer(backend.database))
