/**
 * Failures that are not the client's: a store that cannot be reached answers 503 (also a real
 * PostgreSQL database that refuses connections), a defect answers 500 without internals, both in
 * the behaviour §2 envelope.
 */
import * as Contacts from "@tracklog/core/Contacts"
import * as EventStore from "@tracklog/core/EventStore"
import * as Membership from "@tracklog/core/Membership"
import * as SegmentStore from "@tracklog/core/SegmentStore"
import * as WebhookEndpoints from "@tracklog/core/WebhookEndpoints"
import * as WebhookOutbox from "@tracklog/core/WebhookOutbox"
import * as Store from "@tracklog/core/Store"
import * as StoreError from "@tracklog/core/StoreError"
import * as Suppressions from "@tracklog/core/Suppressions"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as StorePostgres from "@tracklog/store-postgres/StorePostgres"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { projectA, request, start } from "./TestServer.js"

// The memory store, with the log and the projection reads replaced: projects still resolve keys.
const brokenStore = (failure: Effect.Effect<never, StoreError.StoreUnavailable>) =>
  Layer.effectContext(Effect.gen(function*() {
    const { projects } = yield* StoreMemory.make
    const eventStore = EventStore.EventStore.of({
      append: () => failure,
      appendAll: () => failure,
      findIdempotency: () => failure,
      expireIdempotency: () => failure,
      readStream: () => failure,
      readAll: () => failure
    })
    const contacts = Contacts.Contacts.of({
      findById: () => failure,
      findByEmail: () => failure,
      findManyByEmail: () => failure,
      list: () => failure,
      timeline: () => failure
    })
    const suppressions = Suppressions.Suppressions.of({
      isSuppressed: () => failure,
      suppressedAmong: () => failure,
      lift: () => failure
    })
    const segmentStore = SegmentStore.SegmentStore.of({
      list: () => failure,
      get: () => failure,
      all: failure,
      update: () => failure
    })
    const membershipStore = Membership.MembershipStore.of({
      snapshots: () => failure,
      due: () => failure,
      page: () => failure,
      scan: () => failure,
      write: () => failure,
      members: () => failure,
      count: () => failure,
      segmentsOf: () => failure,
      rebuild: () => failure
    })
    const webhookEndpoints = WebhookEndpoints.WebhookEndpoints.of({
      get: () => failure,
      list: () => failure,
      enabled: failure,
      save: () => failure
    })
    const webhookOutbox = WebhookOutbox.WebhookOutbox.of({
      enqueue: () => failure,
      claim: () => failure,
      settle: () => failure,
      list: () => failure,
      retry: () => failure,
      depth: failure
    })
    return Store.context({
      contacts,
      eventStore,
      projects,
      suppressions,
      segmentStore,
      membershipStore,
      webhookEndpoints,
      webhookOutbox
    })
  }))

const serve = (
  failure: Effect.Effect<never, StoreError.StoreUnavailable>,
  options: { readonly requestTimeoutMillis?: number } = {}
) => {
  const scope = Effect.runSync(Scope.make())
  let base = ""
  beforeAll(async () => {
    base = (await Effect.runPromise(Scope.extend(start(brokenStore(failure), options), scope))).url
  })
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  return () => base
}

describe("a store that cannot be reached", () => {
  const base = serve(Effect.fail(new StoreError.StoreUnavailable({ reason: "connection refused" })))

  it("answers 503 SERVICE_UNAVAILABLE in the envelope, with Retry-After, on every route", async () => {
    const answers = [
      await request(base(), "POST", "/v1/track", { key: projectA.publicKey, body: { email: "a@b.co", event: "e" } }),
      await request(base(), "GET", "/contacts", { key: projectA.secretKey }),
      await request(base(), "GET", "/health")
    ]
    for (const answer of answers) {
      expect(answer.status).toBe(503)
      expect(answer.body).toMatchObject({ success: false, error: { code: "SERVICE_UNAVAILABLE", statusCode: 503 } })
      expect(answer.headers.get("retry-after")).toBe("1")
    }
  })

  it("still answers bad input with 4xx, not 503", async () => {
    const answer = await request(base(), "POST", "/v1/track", {
      key: projectA.publicKey,
      body: { email: "nope", event: "e" }
    })
    expect(answer.status).toBe(422)
  })
})

describe("a defect", () => {
  const base = serve(Effect.die(new Error("secret internals at /srv/app.ts:42")))

  it("answers 500 INTERNAL_SERVER_ERROR without a stack trace or the error's text", async () => {
    const answer = await request(base(), "POST", "/v1/track", {
      key: projectA.publicKey,
      body: { email: "a@b.co", event: "e" }
    })
    expect(answer.status).toBe(500)
    expect(answer.body).toMatchObject({ success: false, error: { code: "INTERNAL_SERVER_ERROR", statusCode: 500 } })
    expect(answer.text).not.toContain("secret internals")
    expect(answer.text).not.toContain("app.ts")
    expect(answer.headers.get("x-request-id")).toBe(answer.body.error.requestId)
  })
})

describe("a store that hangs", () => {
  const base = serve(Effect.never, { requestTimeoutMillis: 400 })

  it("answers 503 once the request deadline passes, also for requests queued on one contact", async () => {
    const started = Date.now()
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        request(base(), "POST", "/v1/track", {
          key: projectA.publicKey,
          body: { email: "hang@example.com", event: "e" }
        }))
    )
    const took = Date.now() - started
    for (const answer of answers) {
      expect(answer.status).toBe(503)
      expect(answer.body).toMatchObject({ success: false, error: { code: "SERVICE_UNAVAILABLE" } })
    }
    // One deadline for all of them, not one per request in the queue.
    expect(took).toBeLessThan(2_000)
  })
})

describe("a PostgreSQL database that refuses connections", () => {
  const scope = Effect.runSync(Scope.make())
  let base = ""
  let db: TestDatabase.Database | undefined
  const name = () => new URL(db!.url).pathname.slice(1)
  beforeAll(async () => {
    db = await Effect.runPromise(Scope.extend(TestDatabase.server, scope))
    const store = StorePostgres.layer({ url: db.url, maxConnections: db.maxConnections })
    base = (await Effect.runPromise(Scope.extend(start(store), scope))).url
  })
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

  it("answers 503 with Retry-After while it refuses (not 500), and serves again once it accepts", async () => {
    // Refusing connections is the server's to do; the embedded Postgres has no other sessions.
    expect(db!.backend).toBe("postgres")
    const track = (email: string) =>
      request(base, "POST", "/v1/track", { key: projectA.publicKey, body: { email, event: "e" } })
    expect((await track("before@example.com")).status).toBe(200)
    // What an operator's `ALTER DATABASE … ALLOW_CONNECTIONS false` does to the pool: its
    // connections are gone, and every new one is refused (55000).
    await Effect.runPromise(db!.admin(`ALTER DATABASE ${name()} ALLOW_CONNECTIONS false`))
    await Effect.runPromise(
      db!.admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name()}'`)
    )
    try {
      const answers = [
        await track("during@example.com"),
        await request(base, "GET", "/contacts", { key: projectA.secretKey }),
        await request(base, "GET", "/events/stream", { key: projectA.secretKey }),
        await request(base, "GET", "/health")
      ]
      for (const answer of answers) {
        expect(answer.status).toBe(503)
        expect(answer.body).toMatchObject({ success: false, error: { code: "SERVICE_UNAVAILABLE", statusCode: 503 } })
        expect(answer.headers.get("retry-after")).toBe("1")
      }
    } finally {
      await Effect.runPromise(db!.admin(`ALTER DATABASE ${name()} ALLOW_CONNECTIONS true`))
    }
    expect((await track("after@example.com")).status).toBe(200)
  }, 60_000)
})
