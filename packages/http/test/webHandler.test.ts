/**
 * The web handler: the conformance suite with `Request` objects handed to it directly, an
 * aborted or failed first request that wedges nothing, and `dispose()` closing the store's pool.
 */
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as GlobalValue from "effect/GlobalValue"
import * as Scope from "effect/Scope"
import * as Exit from "effect/Exit"
import { describe, expect, it } from "vitest"
import * as WebHandler from "../src/WebHandler.js"
import { conformance } from "./conformance.js"
import { projectA, startWebHandler } from "./TestServer.js"

conformance("web handler, memory store", () => StoreMemory.layer, startWebHandler)

const track = (body: string | ReadableStream<Uint8Array>, init: RequestInit = {}) =>
  new Request("http://embedded.test/v1/track", {
    method: "POST",
    headers: { authorization: `Bearer ${projectA.publicKey}`, "content-type": "application/json" },
    body,
    // Node's Request needs this for a streamed body.
    ...({ duplex: "half" } as object),
    ...init
  })

const ok = JSON.stringify({ email: "first@example.com", event: "signup" })

describe("web handler", () => {
  it("keeps Effect's root fibers in slots, not a Set, once built (decision 0028)", async () => {
    const web = await WebHandler.fromLayer(StoreMemory.layer, { keys: [projectA] })
    try {
      const scope = GlobalValue.globalValue(Symbol.for("effect/FiberScope/Global"), () => {
        throw new Error("Effect has no global fiber scope yet")
      }) as { roots: unknown }
      expect(scope.roots).not.toBeInstanceOf(Set)
      const running = Effect.runFork(Effect.never)
      expect(Effect.runSync(Fiber.roots)).toContain(running)
      await Effect.runPromise(Fiber.interrupt(running))
      expect(Effect.runSync(Fiber.roots)).not.toContain(running)
      expect((await web.handler(track(ok))).status).toBe(200)
    } finally {
      await web.dispose()
    }
  })

  it("an aborted first request wedges nothing: later requests are answered", async () => {
    const web = await WebHandler.fromLayer(StoreMemory.layer, { keys: [projectA] })
    try {
      const controller = new AbortController()
      const stream = new ReadableStream<Uint8Array>({
        start: (c) => {
          c.enqueue(new TextEncoder().encode('{"email":'))
          // The client goes away mid-body.
          setTimeout(() => c.error(new Error("client aborted")), 10)
        }
      })
      const first = await web.handler(track(stream, { signal: controller.signal }))
      controller.abort()
      expect(first.status).toBe(400)
      expect(((await first.json()) as any).error.code).toBe("VALIDATION_ERROR")
      const later = await Promise.all([1, 2, 3].map(() => web.handler(track(ok))))
      expect(later.map((r) => r.status)).toEqual([200, 200, 200])
    } finally {
      await web.dispose()
    }
  })

  it("a failed first request (bad JSON, unknown route, an aborted signal) wedges nothing", async () => {
    const web = await WebHandler.fromLayer(StoreMemory.layer, { keys: [projectA] })
    try {
      const controller = new AbortController()
      controller.abort()
      const aborted = await web.handler(track(ok, { signal: controller.signal })).catch(() => undefined)
      expect(aborted === undefined || aborted.status === 200 || aborted.status === 400).toBe(true)
      expect((await web.handler(track("{bad"))).status).toBe(400)
      expect((await web.handler(new Request("http://embedded.test/nope"))).status).toBe(404)
      const answer = await web.handler(track(ok))
      expect(answer.status).toBe(200)
      expect(answer.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
      expect(((await answer.json()) as any).success).toBe(true)
    } finally {
      await web.dispose()
    }
  })

  it("building fails eagerly on a store that cannot start, and no request ever waits for it", async () => {
    await expect(
      WebHandler.fromLayer(StoreMemory.layer, {
        keys: [{ publicKey: "pk_a", secretKey: "sk_b" }, { publicKey: "pk_a", secretKey: "sk_c" }]
      })
    )
      .rejects.toBeDefined()
  })

  it("dispose() closes the store's pool and later requests get 503", async () => {
    const scope = Effect.runSync(Scope.make())
    try {
      const db = await Effect.runPromise(Scope.extend(TestDatabase.server, scope))
      const name = new URL(db.url).pathname.slice(1)
      const sessions = async () => {
        const rows = await Effect.runPromise(db.admin(
          db.backend === "postgres"
            ? `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${name}'`
            : "SELECT 0 AS n"
        )) as Array<{ n: number }>
        return rows[0]!.n
      }
      const { layer } = await import("@tracklog/store-postgres/StorePostgres")
      const web = await WebHandler.fromLayer(layer({ url: db.url, maxConnections: db.maxConnections }), {
        keys: [projectA]
      })
      expect((await web.handler(track(ok))).status).toBe(200)
      if (db.backend === "postgres") expect(await sessions()).toBeGreaterThan(0)
      await web.dispose()
      // The pool has ended every client; each server backend exits a moment after its socket closes
      // (more of them now that the webhook dispatcher and sender run too).
      if (db.backend === "postgres") await expect.poll(sessions, { timeout: 3000, interval: 50 }).toBe(0)
      const after = await web.handler(track(ok))
      expect(after.status).toBe(503)
      expect(((await after.json()) as any).error.code).toBe("SERVICE_UNAVAILABLE")
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })
})
