/**
 * Webhooks (behaviour §12) over real HTTP, on the memory store and PostgreSQL: endpoints made
 * through the API, deliveries to a real local receiver verified with `standardwebhooks`, retries on a
 * short schedule, order per contact, 410, redirects, private targets, erasure (behaviour §7).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Store from "@tracklog/core/Store"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { projectA, projectB, request, start } from "./TestServer.js"
import * as Receiver from "./webhookReceiver.js"

let counter = 0
const unique = (tag: string) => `${tag}-${Date.now().toString(36)}-${(counter++).toString(36)}`

const Delays = [Duration.millis(150), Duration.millis(150), Duration.millis(150)]

const suite = <E>(name: string, store: () => Layer.Layer<Store.Ports, E>, options: { readonly sql?: boolean } = {}) =>
  describe(`webhooks (behaviour §12): ${name}`, () => {
    const scope = Effect.runSync(Scope.make())
    let base = ""
    let strict = ""
    let context: Context.Context<never>
    const receivers: Array<Receiver.Receiver> = []
    beforeAll(async () => {
      context = await Effect.runPromise(Scope.extend(Layer.build(store()), scope)) as Context.Context<never>
      const ports = Layer.succeedContext(context as Context.Context<Store.Ports>)
      base = (await Effect.runPromise(Scope.extend(
        start(ports, { webhooks: { allowPrivate: true, delays: Delays, pollInterval: Duration.millis(20) } }),
        scope
      ))).url
      // A second server on the same store, as one run without TRACKLOG_WEBHOOK_ALLOW_PRIVATE: its
      // routes refuse private targets (its sender is not started: only the first one sends).
      strict = (await Effect.runPromise(Scope.extend(start(ports), scope))).url
    })
    afterEach(async () => {
      await Promise.all(receivers.splice(0).map((r) => r.close()))
    })
    afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

    const receiver = async () => {
      const r = await Receiver.start()
      receivers.push(r)
      return r
    }
    const api = (method: string, path: string, body?: unknown, key = projectA.secretKey, at = base) =>
      request(at, method, path, body === undefined ? { key } : { key, body })
    const track = (email: string, event: string, data: Record<string, unknown> = {}) =>
      api("POST", "/v1/track", { email, event, data }, projectA.publicKey)
    const endpoint = async (url: string, events: ReadonlyArray<string> = ["*"]) => {
      const made = await api("POST", "/webhooks", { url, events })
      expect(made.status, made.text).toBe(201)
      return made.body as { id: string; secret: string; url: string }
    }
    const deliveries = async (id: string, query = "") => (await api("GET", `/webhooks/${id}/deliveries${query}`)).body

    it("creates, reads, lists, changes and deletes an endpoint; the secret is shown only when made", async () => {
      const made = await api("POST", "/webhooks", {
        url: "https://example.com/hooks",
        events: ["purchase", "segment.vip.*"],
        description: "crm"
      })
      expect(made.status, made.text).toBe(201)
      expect(made.body).toMatchObject({
        url: "https://example.com/hooks",
        events: ["purchase", "segment.vip.*"],
        description: "crm",
        enabled: true
      })
      expect(made.body.secret).toMatch(/^whsec_/)
      const id = made.body.id as string
      const read = await api("GET", `/webhooks/${id}`)
      expect(read.status).toBe(200)
      expect(read.body.secret).toBeUndefined()
      expect((await api("GET", "/webhooks")).body.data.map((e: { id: string }) => e.id)).toContain(id)
      expect((await api("GET", `/webhooks/${id}`, undefined, projectB.secretKey)).body.error.code).toBe(
        "NOT_FOUND"
      )
      expect((await api("GET", `/webhooks/${id}`, undefined, projectA.publicKey)).status).toBe(403)
      const changed = await api("PATCH", `/webhooks/${id}`, { enabled: false, events: ["*"] })
      expect(changed.body).toMatchObject({ enabled: false, events: ["*"] })
      const invalid = await api("POST", "/webhooks", { url: "ftp://example.com", events: ["a*b"] })
      expect(invalid.status).toBe(422)
      expect(invalid.body.error.errors.map((e: { code: string }) => e.code).sort()).toEqual([
        "invalid_pattern",
        "url_not_allowed"
      ])
      expect((await api("DELETE", `/webhooks/${id}`)).status).toBe(204)
      expect((await api("GET", `/webhooks/${id}`)).status).toBe(404)
      expect((await api("DELETE", `/webhooks/${id}`)).status).toBe(404)
    })

    it("refuses loopback, private and link-local targets without the flag, at creation and on a change", async () => {
      const urls = [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        // A name that resolves to loopback (the system's resolver answers it without the network).
        "http://localhost:9/hook"
      ]
      for (const url of urls) {
        const refused = await api("POST", "/webhooks", { url, events: ["*"] }, projectA.secretKey, strict)
        expect(refused.status, url).toBe(422)
        expect(refused.body.error.errors, url).toEqual([
          expect.objectContaining({ field: "url", code: "url_not_allowed" })
        ])
        expect(refused.text, url).not.toContain('127.0.0.1"')
      }
      const made = await api(
        "POST",
        "/webhooks",
        { url: "https://93.184.216.34/x", events: ["never.tracked"] },
        projectA.secretKey,
        strict
      )
      expect(made.status, made.text).toBe(201)
      const moved = await api(
        "PATCH",
        `/webhooks/${made.body.id}`,
        { url: "http://192.168.1.1/" },
        projectA.secretKey,
        strict
      )
      expect(moved.status).toBe(422)
      await api("DELETE", `/webhooks/${made.body.id}`)
    })

    it("delivers a matching event, signed so that standardwebhooks verifies it; a tampered body or another secret fails", async () => {
      const r = await receiver()
      const hook = await endpoint(`${r.url}/in`, ["purchase"])
      const email = `${unique("signed")}@example.com`
      const tracked = await track(email, "purchase", { amount: 42 })
      await track(email, "ignored")
      await Receiver.until(() => r.received.length >= 1)
      const [delivery] = r.received
      expect(delivery!.path).toBe("/in")
      expect(delivery!.headers["content-type"]).toBe("application/json")
      const payload = Receiver.verify(hook.secret, delivery!) as any
      expect(payload).toEqual({
        type: "purchase",
        timestamp: tracked.body.data.timestamp,
        data: {
          id: tracked.body.data.event,
          contact: tracked.body.data.contact,
          email,
          name: "purchase",
          data: { amount: 42 },
          timestamp: tracked.body.data.timestamp
        }
      })
      expect(() => Receiver.verify(hook.secret, { ...delivery!, body: delivery!.body.replace("42", "43") })).toThrow()
      const other = (await endpoint("https://example.com/other", ["nothing"])).secret
      expect(() => Receiver.verify(other, delivery!)).toThrow()
      await new Promise((r) => setTimeout(r, 200))
      expect(r.received).toHaveLength(1)
      const listed = await deliveries(hook.id)
      expect(listed.data).toHaveLength(1)
      expect(listed.data[0]).toMatchObject({
        id: delivery!.headers["webhook-id"],
        status: "delivered",
        type: "purchase",
        attempts: [{ status: 200, error: null }]
      })
    })

    it("retries a failing receiver on the schedule with the same webhook-id; per contact in log order, others not waiting", async () => {
      const r = await receiver()
      const a = `${unique("order-a")}@example.com`
      const b = `${unique("order-b")}@example.com`
      // The first two attempts of a's first event fail; everything else is answered at once.
      let failures = 0
      r.respond = (request) => {
        const body = JSON.parse(request.body)
        if (body.type === "first" && body.data.email === a && failures < 2) {
          failures++
          return 500
        }
        return 204
      }
      const hook = await endpoint(r.url, ["first", "second", "third"])
      await track(a, "first")
      await track(a, "second")
      await track(a, "third")
      await track(b, "first")
      await Receiver.until(() => r.received.filter((x) => x.body.includes(a)).length >= 5, 10_000, "a's deliveries")
      const ofA = r.received.filter((x) => x.body.includes(a))
      expect(ofA.map((x) => JSON.parse(x.body).type)).toEqual(["first", "first", "first", "second", "third"])
      const ids = new Set(ofA.slice(0, 3).map((x) => x.headers["webhook-id"]))
      expect(ids.size).toBe(1)
      // b's message never waited behind a's retries.
      const ofB = r.received.findIndex((x) => x.body.includes(b))
      expect(ofB).toBeGreaterThanOrEqual(0)
      expect(ofB).toBeLessThan(r.received.indexOf(ofA[2]!))
      const listed = await deliveries(hook.id, "?status=delivered")
      const first = listed.data.find((d: any) => d.id === ofA[0]!.headers["webhook-id"])
      expect(first.attempts.map((x: any) => x.status)).toEqual([500, 500, 204])
    })

    it("a message out of attempts fails, and a manual retry sends it again", async () => {
      const r = await receiver()
      r.respond = () => 503
      const hook = await endpoint(r.url, ["doomed"])
      await track(`${unique("failed")}@example.com`, "doomed")
      // One attempt and three retries.
      await Receiver.until(() => r.received.length >= 4)
      await new Promise((res) => setTimeout(res, 300))
      const failed = await deliveries(hook.id, "?status=failed")
      expect(failed.data).toHaveLength(1)
      expect(failed.data[0].attempts).toHaveLength(4)
      expect(r.received).toHaveLength(4)
      r.respond = () => 200
      const retried = await api("POST", `/webhooks/${hook.id}/deliveries/${failed.data[0].id}/retry`)
      expect(retried.status, retried.text).toBe(200)
      expect(retried.body.status).toBe("pending")
      await Receiver.until(() => r.received.length >= 5)
      expect(r.received[4]!.headers["webhook-id"]).toBe(failed.data[0].id)
      expect((await api("POST", `/webhooks/${hook.id}/deliveries/msg_unknown/retry`)).body.error.code).toBe(
        "NOT_FOUND"
      )
    })

    it("410 Gone disables the endpoint; a redirect is not followed", async () => {
      const gone = await receiver()
      gone.respond = () => 410
      const hook = await endpoint(gone.url, ["bye"])
      const moved = await receiver()
      moved.respond = (request) =>
        request.path === "/elsewhere" ? 200 : { status: 307, headers: { location: `${moved.url}/elsewhere` } }
      const redirected = await endpoint(`${moved.url}/start`, ["bye"])
      await track(`${unique("gone")}@example.com`, "bye")
      await Receiver.until(() => gone.received.length >= 1 && moved.received.length >= 1)
      await new Promise((res) => setTimeout(res, 300))
      const read = await api("GET", `/webhooks/${hook.id}`)
      expect(read.body.enabled).toBe(false)
      expect(gone.received).toHaveLength(1)
      expect((await deliveries(hook.id)).data[0]).toMatchObject({ status: "failed", attempts: [{ status: 410 }] })
      expect(moved.received.every((x) => x.path === "/start")).toBe(true)
      const attempts = (await deliveries(redirected.id)).data[0].attempts
      expect(attempts[0]).toMatchObject({ status: 307, error: "redirect (307) not followed" })
    })

    it("during the 24 h after a rotation both secrets sign: a receiver with either verifies", async () => {
      const r = await receiver()
      const hook = await endpoint(r.url, ["rotated"])
      const rotation = await api("POST", `/webhooks/${hook.id}/rotate-secret`)
      expect(rotation.status).toBe(200)
      expect(rotation.body.secret).not.toBe(hook.secret)
      expect(Date.parse(rotation.body.previousSecretExpiresAt) - Date.now()).toBeGreaterThan(23 * 3600_000)
      await track(`${unique("rotate")}@example.com`, "rotated")
      await Receiver.until(() => r.received.length >= 1)
      expect(r.received[0]!.headers["webhook-signature"]!.split(" ")).toHaveLength(2)
      expect(Receiver.verify(hook.secret, r.received[0]!)).toMatchObject({ type: "rotated" })
      expect(Receiver.verify(rotation.body.secret, r.received[0]!)).toMatchObject({ type: "rotated" })
    })

    it("a rotation or a new URL applies to the next event, also right after a delivery to the endpoint", async () => {
      const r = await receiver()
      const moved = await receiver()
      const hook = await endpoint(r.url, ["fresh"])
      const email = `${unique("fresh")}@example.com`
      await track(email, "fresh")
      await Receiver.until(() => r.received.length >= 1)
      const rotation = await api("POST", `/webhooks/${hook.id}/rotate-secret`)
      expect(rotation.status).toBe(200)
      await track(email, "fresh")
      await Receiver.until(() => r.received.length >= 2)
      // A receiver that took the new secret at once verifies it.
      expect(Receiver.verify(rotation.body.secret, r.received[1]!)).toMatchObject({ type: "fresh" })
      const changed = await api("PATCH", `/webhooks/${hook.id}`, { url: moved.url })
      expect(changed.status, changed.text).toBe(200)
      await track(email, "fresh")
      await Receiver.until(() => moved.received.length >= 1)
      expect(r.received).toHaveLength(2)
    })

    it("erasure drops the contact's undelivered messages and their payloads", async () => {
      const r = await receiver()
      r.respond = () => 500
      const email = `${unique("erased")}@example.com`
      const hook = await endpoint(r.url, ["pending.*"])
      const tracked = await track(email, "pending.one", { secret: email })
      await track(email, "pending.two")
      await Receiver.until(() => r.received.length >= 1)
      expect((await api("DELETE", `/contacts/${tracked.body.data.contact}`)).status).toBe(204)
      const left = await deliveries(hook.id)
      expect(left.data).toEqual([])
      if (options.sql === true) {
        const rows = await Effect.runPromise(Effect.provide(
          Effect.flatMap(
            SqlClient.SqlClient,
            (sql) =>
              sql<{ n: number }>`SELECT count(*)::int AS n FROM webhook_messages WHERE payload LIKE ${`%${email}%`}`
          ),
          context as Context.Context<SqlClient.SqlClient>
        ))
        expect(rows[0]!.n).toBe(0)
      }
    })
  })

suite("memory", () => StoreMemory.layer)
suite(`postgres (${new URL(TestDatabase.adminUrl).host})`, () => TestDatabase.layer(), { sql: true })
