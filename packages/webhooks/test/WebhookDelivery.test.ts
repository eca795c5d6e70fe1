// One attempt against receivers on 127.0.0.1 (the flag on), and the guard refusing without it: no
// test sends anything to a non-loopback address.
import { describe, expect, it } from "@effect/vitest"
import * as WebhookDelivery from "@tracklog/webhooks/WebhookDelivery"
import * as WebhookSender from "@tracklog/webhooks/WebhookSender"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Http from "node:http"

const server = (handler: Http.RequestListener) =>
  Effect.acquireRelease(
    Effect.async<Http.Server>((resume) => {
      const s = Http.createServer(handler)
      s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
    }),
    (s) =>
      Effect.async<void>((resume) => {
        s.closeAllConnections()
        s.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map((s) => `http://127.0.0.1:${(s.address() as { port: number }).port}`))

const options = { allowPrivate: true, timeout: Duration.millis(300) }
const send = (url: string, opts: WebhookDelivery.Options = options) =>
  WebhookDelivery.send({ url, headers: { "webhook-id": "msg_1" }, body: '{"a":1}' }, opts)

describe("WebhookDelivery.send", () => {
  it.scoped("sends the body and headers as given, and answers the status", () =>
    Effect.gen(function*() {
      let seen: { headers: Http.IncomingHttpHeaders; body: string } | undefined
      const url = yield* server((req, res) => {
        let body = ""
        req.on("data", (c) => (body += c))
        req.on("end", () => {
          seen = { headers: req.headers, body }
          res.writeHead(202).end("ignored")
        })
      })
      expect(yield* send(`${url}/in`)).toEqual({ _tag: "Answered", status: 202 })
      expect(seen?.body).toBe('{"a":1}')
      expect(seen?.headers).toMatchObject({ "webhook-id": "msg_1", "content-type": "application/json" })
    }))

  it.scoped("a redirect is an answer, not followed", () =>
    Effect.gen(function*() {
      const paths: Array<string> = []
      const url = yield* server((req, res) => {
        paths.push(req.url ?? "")
        res.writeHead(301, { location: "/moved" }).end()
      })
      expect(yield* send(`${url}/in`)).toEqual({ _tag: "Answered", status: 301 })
      expect(paths).toEqual(["/in"])
    }))

  it.scoped("no status within the timeout is TimedOut; a closed port a NetworkError", () =>
    Effect.gen(function*() {
      const url = yield* server(() => {})
      const started = Date.now()
      expect(yield* send(url)).toEqual({ _tag: "TimedOut" })
      expect(Date.now() - started).toBeLessThan(3000)
      const closed = yield* Effect.scoped(server(() => {}))
      expect((yield* send(closed))._tag).toBe("NetworkError")
    }))

  it.effect("without the flag, a private literal or a name resolving to loopback is not sent to", () =>
    Effect.gen(function*() {
      const strict = {
        allowPrivate: false,
        timeout: Duration.millis(300),
        resolve: () => Promise.resolve([{ address: "127.0.0.1", family: 4 }])
      }
      for (const url of ["http://127.0.0.1:9/x", "http://10.0.0.1/x", "http://[::1]/x", "http://hooks.test/x"]) {
        const result = yield* send(url, strict)
        expect(result._tag, url).toBe("NotAllowed")
      }
    }))
})

describe("WebhookSender.next", () => {
  const delays = [Duration.seconds(5), Duration.minutes(5)]
  const at = new Date("2026-01-01T00:00:00Z")
  it("a 2xx delivers, 410 fails and disables, anything else retries on the schedule, then fails", () => {
    expect(WebhookSender.next({ _tag: "Answered", status: 204 }, 0, at, delays).settlement).toEqual({
      _tag: "Delivered"
    })
    expect(WebhookSender.next({ _tag: "Answered", status: 410 }, 0, at, delays)).toEqual({
      settlement: { _tag: "Failed" },
      outcome: "gone"
    })
    expect(WebhookSender.next({ _tag: "Answered", status: 500 }, 0, at, delays).settlement).toEqual({
      _tag: "RetryAt",
      at: new Date("2026-01-01T00:00:05Z")
    })
    expect(WebhookSender.next({ _tag: "TimedOut" }, 1, at, delays).settlement).toEqual({
      _tag: "RetryAt",
      at: new Date("2026-01-01T00:05:00Z")
    })
    expect(WebhookSender.next({ _tag: "Answered", status: 302 }, 2, at, delays)).toEqual({
      settlement: { _tag: "Failed" },
      outcome: "failed"
    })
  })
})
