/**
 * The sender against a real local receiver (webhooks, §12), on the memory store and PostgreSQL:
 * the private-address guard at delivery time, two senders sharing one queue without sending a
 * message twice, and a slow receiver that does not hold up another endpoint. No test lets a
 * delivery leave for a non-loopback address: names resolve through an injected resolver.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Commands from "@tracklog/core/Commands"
import * as Ids from "@tracklog/core/Ids"
import type * as Store from "@tracklog/core/Store"
import * as StoreContract from "@tracklog/core/testing/StoreContract"
import * as WebhookEndpoints from "@tracklog/core/WebhookEndpoints"
import * as WebhookOutbox from "@tracklog/core/WebhookOutbox"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as WebhookSender from "@tracklog/webhooks/WebhookSender"
import * as Webhooks from "@tracklog/webhooks/Webhooks"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Http from "node:http"

interface Receiver {
  readonly url: string
  readonly received: Array<{ readonly id: string; readonly at: number; readonly body: string }>
}

// A receiver on 127.0.0.1 for the scope, answering 200 after `delayMs`.
const receiver = (delayMs = 0) =>
  Effect.acquireRelease(
    Effect.async<{ server: Http.Server; receiver: Receiver }>((resume) => {
      const received: Array<{ id: string; at: number; body: string }> = []
      const server = Http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          received.push({
            id: String(req.headers["webhook-id"]),
            at: Date.now(),
            body: Buffer.concat(chunks).toString()
          })
          setTimeout(() => res.writeHead(200).end(), delayMs)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as { port: number }).port
        resume(Effect.succeed({ server, receiver: { url: `http://127.0.0.1:${port}`, received } }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ receiver }) => receiver))

const until = <A, E, R>(effect: Effect.Effect<A, E, R>, check: (a: A) => boolean, what: string) =>
  effect.pipe(
    Effect.filterOrFail(check, () => new Error(`not yet: ${what}`)),
    Effect.retry(Schedule.spaced("25 millis")),
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`${what} within 10 s`) })
  )

const newProject = Effect.flatten(Effect.map(Ids.Ids, (ids) => ids.next))

const endpoint = (projectId: string, url: string, events: ReadonlyArray<string> = ["*"]) =>
  Effect.map(
    WebhookEndpoints.execute(projectId, { _tag: "CreateEndpoint", url, events, description: null }),
    (e) => e!
  )

const messages = (projectId: string, endpointId: string) =>
  Effect.flatMap(
    WebhookOutbox.WebhookOutbox,
    (outbox) => Effect.map(outbox.list(projectId, endpointId, { limit: 100 }), (page) => page.data)
  )

const fast = { delays: [Duration.millis(100)], pollInterval: Duration.millis(20) }

const suite = <E>(name: string, store: () => Layer.Layer<Store.Ports, E>) =>
  describe(`WebhookSender: ${name}`, () => {
    const provide = <A, E2>(effect: Effect.Effect<A, E2, any>) =>
      Effect.scoped(effect).pipe(
        Effect.provide(Commands.layer.pipe(Layer.provideMerge(Ids.layer), Layer.provideMerge(store())))
      ) as Effect.Effect<A, E2 | E>

    it.live("checks the target again at delivery: a name now resolving to loopback is not sent to", () =>
      provide(Effect.gen(function*() {
        const r = yield* receiver()
        const projectId = yield* newProject
        const port = new URL(r.url).port
        // Made while the flag was on (or the name public); the sender runs without the flag.
        const hook = yield* endpoint(projectId, `http://hooks.example.test:${port}/in`)
        const literal = yield* endpoint(projectId, `${r.url}/literal`)
        yield* Webhooks.start({
          ...fast,
          allowPrivate: false,
          resolve: (host) =>
            host === "hooks.example.test"
              ? Promise.resolve([{ address: "127.0.0.1", family: 4 }])
              : Promise.reject(new Error(`unexpected lookup of ${host}`))
        })
        yield* StoreContract.createContact(projectId, "guarded@example.com")
        const attempted = (id: string) =>
          until(messages(projectId, id), (m) => m.length === 1 && m[0]!.attempts.length >= 1, "an attempt")
        const [viaName] = yield* attempted(hook.id)
        const [viaLiteral] = yield* attempted(literal.id)
        expect(viaName!.attempts[0]).toMatchObject({ status: null, error: expect.stringContaining("loopback") })
        expect(viaLiteral!.attempts[0]).toMatchObject({ status: null, error: expect.stringContaining("loopback") })
        expect(r.received).toEqual([])
      })))

    it.live("the next attempt after a timeout is its delay after the attempt ended, not after it began", () =>
      provide(Effect.gen(function*() {
        const r = yield* receiver(2_000)
        const projectId = yield* newProject
        const hook = yield* endpoint(projectId, r.url)
        yield* Webhooks.start({
          allowPrivate: true,
          pollInterval: Duration.millis(20),
          timeout: Duration.millis(300),
          delays: [Duration.millis(500), Duration.seconds(30)]
        })
        yield* StoreContract.createContact(projectId, "timed-out@example.com")
        const [message] = yield* until(
          messages(projectId, hook.id),
          (m) => m.length === 1 && m[0]!.attempts.length >= 1,
          "an attempt"
        )
        const attempt = message!.attempts[0]!
        expect(attempt).toMatchObject({ status: null })
        expect(attempt.durationMs).toBeGreaterThanOrEqual(290)
        // Counted from the attempt's start, the retry would be due 500 ms after it, before it ended.
        expect(message!.nextAttemptAt!.getTime() - attempt.at.getTime()).toBeGreaterThanOrEqual(
          500 + attempt.durationMs - 5
        )
      })))

    it.live("two senders on one queue deliver every message, none twice at once", () =>
      provide(Effect.gen(function*() {
        const r = yield* receiver(5)
        const projectId = yield* newProject
        const hook = yield* endpoint(projectId, r.url)
        yield* Webhooks.start({ ...fast, allowPrivate: true })
        yield* Effect.forkScoped(
          WebhookSender.run({ ...fast, allowPrivate: true, timeout: Duration.seconds(15), owner: "second" })
        )
        for (let i = 0; i < 20; i++) yield* StoreContract.createContact(projectId, `shared-${i}@example.com`)
        yield* until(
          messages(projectId, hook.id),
          (m) => m.length === 20 && m.every((x) => x.status === "delivered"),
          "20 deliveries"
        )
        const ids = r.received.map((x) => x.id)
        expect(new Set(ids).size).toBe(20)
        expect(ids).toHaveLength(20)
      })))

    it.live("what the dispatcher queues goes to the sender beside it without a claim, but a message behind another", () =>
      provide(Effect.gen(function*() {
        const r = yield* receiver(100)
        const projectId = yield* newProject
        const hook = yield* endpoint(projectId, r.url)
        const claimed: Array<string> = []
        yield* Webhooks.start({ ...fast, allowPrivate: true }).pipe(
          Effect.updateService(WebhookOutbox.WebhookOutbox, (outbox) => ({
            ...outbox,
            claim: (options) =>
              Effect.tap(outbox.claim(options), (got) => Effect.sync(() => claimed.push(...got.map((m) => m.id))))
          }))
        )
        // One command: the contact's first message is leased as it is queued, the two after it wait.
        yield* StoreContract.createContact(projectId, "handed@example.com", [
          StoreContract.tracked("first"),
          StoreContract.tracked("second")
        ])
        yield* StoreContract.createContact(projectId, "alone@example.com")
        const done = yield* until(
          messages(projectId, hook.id),
          (m) => m.length === 4 && m.every((x) => x.status === "delivered"),
          "4 deliveries"
        )
        const [alone, ...handed] = [...done].sort((a, b) => b.seq - a.seq)
        const inOrder = handed.reverse()
        expect(inOrder.map((m) => m.type)).toEqual(["contact.created", "first", "second"])
        expect(claimed.filter((id) => done.some((m) => m.id === id))).toEqual([inOrder[1]!.id, inOrder[2]!.id])
        expect(claimed).not.toContain(alone!.id)
        expect(r.received.map((x) => x.id).filter((id) => inOrder.some((m) => m.id === id))).toEqual(
          inOrder.map((m) => m.id)
        )
      })))

    it.live("a slow receiver does not hold up another endpoint", () =>
      provide(Effect.gen(function*() {
        const slow = yield* receiver(1500)
        const quick = yield* receiver()
        const projectId = yield* newProject
        yield* endpoint(projectId, slow.url)
        const fastHook = yield* endpoint(projectId, quick.url)
        yield* Webhooks.start({ ...fast, allowPrivate: true })
        const started = Date.now()
        for (let i = 0; i < 40; i++) yield* StoreContract.createContact(projectId, `slow-${i}@example.com`)
        yield* until(
          messages(projectId, fastHook.id),
          (m) => m.filter((x) => x.status === "delivered").length === 40,
          "quick deliveries"
        )
        // Forty contacts at 1.5 s each would take a minute in line; the quick endpoint is done long before.
        expect(Date.now() - started).toBeLessThan(8000)
        expect(quick.received).toHaveLength(40)
      })))
  })

suite("memory", () => StoreMemory.layer)
suite(`postgres (${new URL(TestDatabase.adminUrl).host})`, () => TestDatabase.layer())
