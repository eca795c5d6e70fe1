/**
 * behaviour §9: Effect's own fiber metrics are not recorded where the runtime flag turns them off
 * (`main.ts`), also by what the server and the store run themselves (event streams, scrapes,
 * group commits).
 */
import * as StorePostgres from "@tracklog/store-postgres/StorePostgres"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Runtime from "effect/Runtime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Scope from "effect/Scope"
import { afterAll, describe, expect, it } from "vitest"
import { projectA, request, start } from "./TestServer.js"

/** Opens the event stream, reads up to its first event, then goes away. */
const readStream = async (base: string) => {
  const response = await fetch(`${base}/events/stream?from=start`, {
    headers: { authorization: `Bearer ${projectA.secretKey}` }
  })
  expect(response.status).toBe(200)
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let text = ""
  while (!text.includes("\nevent: ")) {
    const { done, value } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  await reader.cancel()
  expect(text).toContain("event: ")
}

/** Every kind of answer: tracks, a batch, an event stream, 400, 401, 404, 405, 422 and 429. */
const traffic = async (base: string) => {
  const track = (email: string, key = projectA.publicKey) =>
    request(base, "POST", "/v1/track", { key, body: { email, event: "signed-up", data: { plan: "pro" } } })
  for (let i = 0; i < 3; i++) expect((await track(`m${i}-${Math.random()}@example.com`)).status).toBe(200)
  const batch = await request(base, "POST", "/v1/track/batch", {
    key: projectA.publicKey,
    body: { events: [{ email: "b1@example.com", event: "e" }, { email: "b2@example.com", event: "e" }, { email: "x" }] }
  })
  expect(batch.status).toBe(200)
  expect((await request(base, "POST", "/v1/track", { key: projectA.publicKey, body: { email: "x" } })).status)
    .toBe(422)
  expect((await request(base, "POST", "/v1/track", { key: projectA.publicKey, raw: "{" })).status).toBe(400)
  expect((await request(base, "GET", "/contacts", { key: projectA.secretKey })).status).toBe(200)
  expect(
    (await request(base, "GET", "/contacts/0190c0de-0000-7000-8000-000000000000", { key: projectA.secretKey }))
      .status
  ).toBe(404)
  expect((await request(base, "GET", "/no-such-route")).status).toBe(404)
  expect((await request(base, "GET", "/v1/track", { key: projectA.publicKey })).status).toBe(405)
  expect((await request(base, "POST", "/metrics")).status).toBe(405)
  expect((await request(base, "GET", "/openapi.json")).status).toBe(200)
  await readStream(base)
  // An unknown key spends its own bucket (the limit applies before the lookup): 401s, then 429s.
  const flood = []
  for (let i = 0; i < 14; i++) flood.push((await track("flood@example.com", "pk_flood")).status)
  expect(flood).toContain(401)
  expect(flood).toContain(429)
}

const rateLimit = { perSecond: 1, burst: 10 }

describe("Effect's fiber metrics, off as main.ts asks (RuntimeFlags.disableRuntimeMetrics)", () => {
  const fiberStarted = Metric.counter("effect_fiber_started", { incremental: true })
  // Reading the registry on a runtime that records nothing: the read itself must not count.
  const quiet = Runtime.defaultRuntime.pipe(Runtime.disableRuntimeFlag(RuntimeFlags.RuntimeMetrics))
  const started = () => Runtime.runSync(quiet)(Metric.value(fiberStarted)).count

  const scope = Effect.runSync(Scope.make())
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

  it("no request, stream, scrape or group commit of the server starts a counted fiber (on PostgreSQL)", async () => {
    const db = await Effect.runPromise(Scope.extend(TestDatabase.server, scope))
    const postgres = StorePostgres.layer({ url: db.url, maxConnections: db.maxConnections })
    const server = await Effect.runPromise(
      Scope.extend(
        Effect.provide(start(postgres, { metrics: true, rateLimit }), RuntimeFlags.disableRuntimeMetrics),
        scope
      )
    )
    const before = started()
    await traffic(server.url)
    expect((await request(server.url, "GET", "/metrics")).status).toBe(200)
    expect(started() - before).toBe(0)
  }, 120_000)
})
