/**
 * One delivery attempt (webhooks, §12): `POST <url>` with the body and the Standard Webhooks
 * headers, over `node:http(s)`. A 2xx within the timeout delivers; the answer's status is all that
 * is read (its body is drained, unread). Redirects are answers, never followed. The target is
 * checked by `SsrfGuard` at each attempt: an IP literal before connecting, a name by the socket's
 * own `lookup`, so the address connected to is the one that was checked.
 */
import type * as WebhookSchedule from "@tracklog/core/WebhookSchedule"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Http from "node:http"
import * as Https from "node:https"
import * as SsrfGuard from "./SsrfGuard.js"

/** What an attempt sends. */
export interface Request {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** How attempts are made. */
export interface Options extends SsrfGuard.Options {
  /** Longest an attempt may wait for its answer's status (`WebhookSchedule.Timeout`, 15 s). */
  readonly timeout: Duration.Duration
}

// Connections are kept for the next attempt to the same receiver.
const httpAgent = new Http.Agent({ keepAlive: true, maxSockets: 64 })
const httpsAgent = new Https.Agent({ keepAlive: true, maxSockets: 64 })

const UserAgent = "tracklog-webhooks/0.1"

/** Sends one attempt; never fails: every way it can go is a `WebhookSchedule.Result`. */
export const send = (request: Request, options: Options): Effect.Effect<WebhookSchedule.Result> => {
  let url: URL
  try {
    url = new URL(request.url)
  } catch {
    return Effect.succeed({ _tag: "NotAllowed", message: "the URL cannot be parsed" })
  }
  // A literal is never looked up by the socket: checked here. A name is checked by `lookup`.
  const literal = SsrfGuard.classify(url.hostname) !== undefined
  const check = literal || url.protocol !== "http:" && url.protocol !== "https:"
    ? SsrfGuard.checkUrl(request.url, options)
    : Effect.void
  return check.pipe(
    Effect.matchEffect({
      onFailure: (error): Effect.Effect<WebhookSchedule.Result> =>
        Effect.succeed(
          error._tag === "UrlNotAllowed"
            ? { _tag: "NotAllowed", message: `not sent: ${error.message}` }
            : { _tag: "NetworkError", message: error.message }
        ),
      onSuccess: () => post(url, request, options)
    })
  )
}

const post = (url: URL, request: Request, options: Options): Effect.Effect<WebhookSchedule.Result> =>
  Effect.async<WebhookSchedule.Result>((resume) => {
    const https = url.protocol === "https:"
    const body = Buffer.from(request.body, "utf8")
    let done = false
    const finish = (result: WebhookSchedule.Result) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resume(Effect.succeed(result))
    }
    const req = (https ? Https : Http).request(url, {
      method: "POST",
      agent: https ? httpsAgent : httpAgent,
      lookup: SsrfGuard.lookup(options),
      headers: {
        ...request.headers,
        "content-type": "application/json",
        "content-length": String(body.byteLength),
        "user-agent": UserAgent
      }
    }, (res) => {
      // The status is the answer; the body is drained so the connection can be used again.
      res.resume()
      finish({ _tag: "Answered", status: res.statusCode ?? 0 })
    })
    const timer = setTimeout(() => {
      finish({ _tag: "TimedOut" })
      req.destroy()
    }, Duration.toMillis(options.timeout))
    req.on("error", (error: NodeJS.ErrnoException) => {
      finish(
        error.code === "ENOTALLOWED"
          ? { _tag: "NotAllowed", message: `not sent: ${error.message}` }
          : {
            _tag: "NetworkError",
            message: error.code === undefined ? error.message : `${error.code}: ${error.message}`
          }
      )
    })
    req.end(body)
    return Effect.sync(() => {
      done = true
      clearTimeout(timer)
      req.destroy()
    })
  })
