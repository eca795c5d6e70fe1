/**
 * An open `GET /events/stream` lives no longer than its key (behaviour §5.1): revoked, or rotated
 * away, also by another process sharing the store, the stream ends within seconds and a reconnect
 * with the key is a 401. On each transport, on the memory store and on PostgreSQL.
 */
import * as ApiKey from "@tracklog/core/ApiKey"
import * as Projects from "@tracklog/core/Projects"
import type * as Store from "@tracklog/core/Store"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as StorePostgres from "@tracklog/store-postgres/StorePostgres"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { projectA, projectB, request, start, startWebHandler } from "./TestServer.js"

// Well under the 2–3 s a client may wait: the server checks each open stream's key every second.
const EndsWithinMillis = 3_000

/** The store a server runs on, and the `Projects` port an operator changes keys through. */
interface Setup {
  readonly name: string
  readonly make: Effect.Effect<
    { readonly store: Layer.Layer<Store.Ports>; readonly admin: Projects.Projects["Type"] },
    never,
    Scope.Scope
  >
}

const setups: ReadonlyArray<Setup> = [
  {
    // One store, the server's: the operator's change goes through its port, not the server's cache.
    name: "memory store",
    make: Effect.gen(function*() {
      const context = yield* Layer.build(StoreMemory.layer)
      return { store: Layer.succeedContext(context), admin: Context.get(context, Projects.Projects) }
    })
  },
  {
    // Another store instance on the database, as `pnpm tracklog keys …` in another process.
    name: `postgres (${new URL(TestDatabase.adminUrl).host})`,
    make: Effect.gen(function*() {
      const db = yield* TestDatabase.server
      const config = { url: db.url, maxConnections: db.maxConnections }
      const other = yield* Effect.orDie(Layer.build(StorePostgres.layer({ ...config, maxConnections: 1 })))
      return { store: StorePostgres.layer(config).pipe(Layer.orDie), admin: Context.get(other, Projects.Projects) }
    })
  }
]

const transports = [
  { name: "node server", start: (store: Layer.Layer<Store.Ports>) => Effect.map(start(store), (s) => s.url) },
  { name: "web handler", start: (store: Layer.Layer<Store.Ports>) => Effect.map(startWebHandler(store), (s) => s.url) }
] as const

/**
 * An open stream, read as text as it comes; `endedAt` is when the server ended it, `cut` whether
 * the connection broke instead of the reply ending (an EventSource would then retry at once).
 */
const follow = async (base: string, key: string) => {
  const response = await fetch(`${base}/events/stream?from=now`, { headers: { authorization: `Bearer ${key}` } })
  expect(response.status).toBe(200)
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let text = ""
  let endedAt: number | undefined
  let cut = false
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        text += decoder.decode(value, { stream: true })
      }
    } catch {
      cut = true
    }
    endedAt = Date.now()
  })()
  /** Waits until `done` holds, `millis` at most; says whether it did. */
  const until = async (done: () => boolean, millis: number) => {
    const deadline = Date.now() + millis
    while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    return done()
  }
  return {
    text: () => text,
    endedAt: () => endedAt,
    cut: () => cut,
    until,
    close: () => reader.cancel().catch(() => {})
  }
}

const hash = (key: string) => Effect.runPromise(ApiKey.hash(key))

for (const setup of setups) {
  for (const transport of transports) {
    describe(`events stream and its key: ${transport.name}, ${setup.name}`, () => {
      const scope = Effect.runSync(Scope.make())
      let base = ""
      let admin: Projects.Projects["Type"]
      beforeAll(async () => {
        const made = await Effect.runPromise(Scope.extend(setup.make, scope))
        admin = made.admin
        base = await Effect.runPromise(Scope.extend(transport.start(made.store), scope))
      }, 60_000)
      afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

      it("a revoked key's open stream ends within seconds and cannot reconnect; another key's goes on", async () => {
        const revoked = await follow(base, projectB.secretKey)
        const other = await follow(base, projectA.secretKey)
        try {
          expect(await revoked.until(() => revoked.text().startsWith("retry:"), 5_000)).toBe(true)
          expect(await other.until(() => other.text().startsWith("retry:"), 5_000)).toBe(true)
          const revokedHash = await hash(projectB.secretKey)
          const at = Date.now()
          await Effect.runPromise(admin.revoke(revokedHash))
          expect(await revoked.until(() => revoked.endedAt() !== undefined, 10_000), "the stream never ended").toBe(
            true
          )
          expect(revoked.endedAt()! - at).toBeLessThanOrEqual(EndsWithinMillis)
          expect(revoked.cut(), "the reply was cut, not ended").toBe(false)
          const again = await request(base, "GET", "/events/stream?from=now", { key: projectB.secretKey })
          expect(again.status).toBe(401)
          expect(again.body.error.code).toBe("INVALID_API_KEY")
          // Project A's stream is open still, and live.
          expect(other.endedAt()).toBeUndefined()
          const tracked = await request(base, "POST", "/v1/track", {
            key: projectA.publicKey,
            body: { email: "still-open@example.com", event: "after-revoke" }
          })
          expect(tracked.status).toBe(200)
          expect(await other.until(() => other.text().includes(tracked.body.data.event), 5_000)).toBe(true)
          expect(other.endedAt()).toBeUndefined()
        } finally {
          await revoked.close()
          await other.close()
        }
      })

      it("a key rotated away ends its open stream within seconds; the old key is a 401, the new one streams", async () => {
        const stream = await follow(base, projectA.secretKey)
        try {
          expect(await stream.until(() => stream.text().startsWith("retry:"), 5_000)).toBe(true)
          const grant = Option.getOrThrow(await Effect.runPromise(admin.findByKeyHash(await hash(projectA.secretKey))))
          const fresh = { publicKey: ApiKey.generate("public"), secretKey: ApiKey.generate("secret") }
          const keys = {
            projectId: grant.projectId,
            publicKeyHash: await hash(fresh.publicKey),
            secretKeyHash: await hash(fresh.secretKey)
          }
          const at = Date.now()
          await Effect.runPromise(admin.rotate(keys))
          expect(await stream.until(() => stream.endedAt() !== undefined, 10_000), "the stream never ended").toBe(true)
          expect(stream.endedAt()! - at).toBeLessThanOrEqual(EndsWithinMillis)
          expect(stream.cut(), "the reply was cut, not ended").toBe(false)
          const old = await request(base, "GET", "/events/stream?from=now", { key: projectA.secretKey })
          expect(old.status).toBe(401)
          const renewed = await follow(base, fresh.secretKey)
          expect(await renewed.until(() => renewed.text().startsWith("retry:"), 5_000)).toBe(true)
          await renewed.close()
        } finally {
          await stream.close()
        }
      })
    })
  }
}
