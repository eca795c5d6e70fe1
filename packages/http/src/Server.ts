/**
 * The HTTP server: a lean `node:http` adapter that serves exactly the endpoints of `Api`, with
 * the SPEC §2 envelope for every failure, request ids, CORS on the track route, a body limit
 * and one log line per request. Handlers run on the Effect runtime that built the server.
 *
 * Why not `HttpApiBuilder`: it costs ~5× the per-request time of this adapter on the track route
 * (docs/decisions/0003-lean-http-adapter.md); `Api` stays the one definition of the API.
 */
import * as HttpApiSwagger from "@effect/platform/HttpApiSwagger"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import { randomUUID } from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import type { Duplex } from "node:stream"
import * as Answers from "./internal/answers.js"
import * as Api from "./Api.js"
import * as ApiError from "./ApiError.js"
import * as Auth from "./Auth.js"
import * as Handlers from "./Handlers.js"
import * as Router from "./internal/router.js"
import * as Metrics from "./Metrics.js"
import * as RateLimiter from "./RateLimiter.js"
import * as RequestLog from "./RequestLog.js"

/** How the server listens. */
export interface Options {
  readonly port: number
  readonly host?: string | undefined
  /** Largest accepted request body, in bytes. */
  readonly bodyLimit: number
  /**
   * Longest a request may take, waiting included (default 10 s); past it the answer is 503. A
   * hung store then costs each request at most this, also when requests queue on one contact.
   */
  readonly requestTimeoutMillis?: number | undefined
  /** How long shutdown waits for in-flight requests before closing their connections. */
  readonly shutdownTimeoutMillis?: number | undefined
  /** Serve `GET /metrics` and record request metrics (default true; SPEC §9). */
  readonly metrics?: boolean | undefined
  /** Per-key token bucket (SPEC §9); none when undefined. */
  readonly rateLimit?: RateLimiter.Limit | undefined
}

/** A running server. */
export interface Running {
  readonly server: Http.Server
  readonly port: number
  readonly url: string
}

const Json = "application/json; charset=utf-8"
const TrackPath = "/v1/track"
const MetricsPath = "/metrics"
// The paths the server answers itself, outside `Api`, and their methods (for 405 + Allow).
const ownPaths: Record<string, string> = { "/openapi.json": "GET", "/docs": "GET", [MetricsPath]: "GET" }
const NoGrant = { projectId: "", kind: "public" } as const

const docsPage = Effect.promise(async () => {
  const { dispose, handler } = HttpLayerRouter.toWebHandler(
    HttpApiSwagger.layerHttpLayerRouter({ api: Api.Api, path: "/docs" }),
    { disableLogger: true }
  )
  const html = await (await handler(new Request("http://localhost/docs"))).text()
  await dispose()
  return html
})

/** Starts the server for the scope; closing the scope drains it gracefully. */
export const make = (
  options: Options
): Effect.Effect<Running, never, Scope.Scope | Handlers.Services | Auth.Services> =>
  Effect.gen(function*() {
    const handlers = yield* Handlers.make
    const auth = yield* Auth.make
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)
    const log = yield* RequestLog.make
    const metricsOn = options.metrics ?? true
    const recordRequest = metricsOn ? Metrics.makeRequestRecorder() : undefined
    const limiter = options.rateLimit === undefined ? undefined : RateLimiter.make(options.rateLimit)

    const routes = Router.fromApi(Api.Api).map((route) => {
      const handler = handlers[route.name]
      if (handler === undefined) throw new Error(`no handler for endpoint ${route.name}`)
      return { ...route, value: { handler, pattern: "/" + route.segments.join("/") } }
    })
    const match = Router.matcher(routes)
    const openApi = JSON.stringify(Api.openApi())
    let docs: string | undefined

    const answers = Answers.make()
    let inFlight = 0
    let closing = false

    // Request deadlines, swept by one timer: a timer per request would cost more than the request.
    const requestTimeout = options.requestTimeoutMillis ?? 10_000
    const overdue = new Set<{ readonly at: number; readonly expire: () => void }>()
    const sweeper = setInterval(() => {
      const now = Date.now()
      for (const deadline of overdue) {
        if (deadline.at <= now) {
          overdue.delete(deadline)
          deadline.expire()
        }
      }
    }, Math.min(250, Math.max(10, requestTimeout / 4)))
    sweeper.unref()

    const listener = (req: Http.IncomingMessage, res: Http.ServerResponse) => {
      const started = performance.now()
      const requestId = randomUUID()
      const method = req.method ?? "GET"
      const url = req.url ?? "/"
      const q = url.indexOf("?")
      const raw = q === -1 ? url : url.slice(0, q)
      // A trailing slash names the same resource (CORS included).
      const path = raw.length > 1 && raw.endsWith("/") ? raw.slice(0, -1) : raw
      let pattern = "(unmatched)"
      inFlight++
      res.once("close", () => inFlight--)

      const send = (status: number, body: string, contentType = Json, retryAfter = 1) => {
        const headers: Http.OutgoingHttpHeaders = {
          "content-type": contentType,
          "content-length": Buffer.byteLength(body),
          "x-request-id": requestId
        }
        if (path === TrackPath) Object.assign(headers, corsHeaders)
        if (closing) headers["connection"] = "close"
        if (status === 503 || status === 429) headers["retry-after"] = String(retryAfter)
        if (allow !== undefined) headers["allow"] = allow
        answers.write(() => {
          res.writeHead(status, headers)
          res.end(body)
          // The route pattern, never the raw path or query: those may hold emails or keys.
          const millis = performance.now() - started
          log.request(method, pattern, status, millis, requestId)
          recordRequest?.(method, pattern, status, millis)
        })
      }
      let allow: string | undefined
      const fail = (error: ApiError.ApiError, retryAfter?: number) =>
        send(error.status, ApiError.envelope(error, requestId), Json, retryAfter)

      if (method === "OPTIONS" && path === TrackPath) {
        pattern = TrackPath
        res.writeHead(204, { ...corsHeaders, "access-control-max-age": "86400", "x-request-id": requestId, "content-length": 0 })
        res.end()
        return log.request(method, pattern, 204, performance.now() - started, requestId)
      }
      if (method === "GET" && path === "/openapi.json") {
        pattern = path
        return send(200, openApi)
      }
      if (method === "GET" && path === MetricsPath && metricsOn) {
        pattern = path
        req.resume()
        if (limiter !== undefined) Metrics.rateLimitBuckets.unsafeUpdate(limiter.buckets(), noTags)
        return void Effect.runPromise(Metrics.render).then(
          (text) => send(200, text, Metrics.contentType),
          (cause: unknown) => {
            log.defect(requestId, Cause.die(cause))
            fail(ApiError.internal())
          }
        )
      }
      if (method === "GET" && path === "/docs") {
        pattern = path
        if (docs !== undefined) return send(200, docs, "text/html; charset=utf-8")
        return void Effect.runPromise(docsPage).then(
          (html) => {
            docs = html
            send(200, html, "text/html; charset=utf-8")
          },
          (cause: unknown) => {
            log.defect(requestId, Cause.die(cause))
            fail(ApiError.internal())
          }
        )
      }

      const found = match(method, path)
      if (found._tag === "NotFound") {
        req.resume()
        const own = ownPaths[path]
        if (own !== undefined && (path !== MetricsPath || metricsOn)) {
          pattern = path
          allow = own
          return fail(ApiError.methodNotAllowed([own]))
        }
        return fail(ApiError.notFound())
      }
      if (found._tag === "MethodNotAllowed") {
        req.resume()
        pattern = "(method not allowed)"
        // The track route also answers CORS preflights.
        const methods = path === TrackPath ? [...found.allow, "OPTIONS"] : found.allow
        allow = methods.join(", ")
        return fail(ApiError.methodNotAllowed(methods))
      }
      const { handler } = found.value
      pattern = found.value.pattern

      // Before the key is looked up: guesses at keys are throttled too (RateLimiter.ts).
      if (limiter !== undefined && handler.auth !== "none") {
        const key = Auth.keyOf(req.headers.authorization)
        if (key !== undefined) {
          const decision = limiter.take(Auth.hashOf(key))
          if (!decision.allowed) {
            req.resume()
            Metrics.rateLimited.unsafeUpdate(1, noTags)
            return fail(ApiError.rateLimited(), decision.retryAfterSeconds)
          }
        }
      }

      const run = (body: unknown) => {
        const authenticated = handler.auth === "none"
          ? Effect.succeed<Handlers.Request["grant"]>(NoGrant)
          : auth.authenticate(req.headers.authorization, handler.auth)
        const fiber = runFork(Effect.flatMap(authenticated, (grant) =>
          handler.handle({
            requestId,
            params: found.params,
            query: new URLSearchParams(q === -1 ? "" : url.slice(q + 1)),
            body,
            grant
          })))
        const deadline = { at: Date.now() + requestTimeout, expire: () => fiber.unsafeInterruptAsFork(fiber.id()) }
        overdue.add(deadline)
        fiber.addObserver((exit) => {
          overdue.delete(deadline)
          if (Exit.isInterrupted(exit)) return fail(ApiError.serviceUnavailable())
          if (Exit.isSuccess(exit)) return send(exit.value.status, exit.value.body)
          const failure = Cause.failureOption(exit.cause)
          if (Option.isSome(failure)) return fail(failure.value)
          log.defect(requestId, exit.cause)
          fail(ApiError.internal())
        })
      }

      if (!handler.body) {
        req.resume()
        return run(undefined)
      }
      readBody(req, options.bodyLimit, (result) => {
        if (result._tag === "TooLarge") return fail(ApiError.payloadTooLarge(options.bodyLimit))
        if (result.text.length === 0) return run({})
        let body: unknown
        try {
          body = JSON.parse(result.text)
        } catch {
          return fail(ApiError.invalidJson())
        }
        run(body)
      })
    }

    const server = Http.createServer({ keepAliveTimeout: 65_000 }, listener)
    // Requests Node rejects before they reach the listener (malformed, headers too large) get the
    // envelope too; SPEC §2 wants it on every non-2xx answer.
    server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
      if (error.code === "ECONNRESET" || !socket.writable) return socket.destroy()
      const requestId = randomUUID()
      const apiError = error.code === "HPE_HEADER_OVERFLOW"
        ? new ApiError.ApiError({ status: 413, code: "PAYLOAD_TOO_LARGE", message: "Request headers too large" })
        : new ApiError.ApiError({ status: 400, code: "VALIDATION_ERROR", message: "Malformed HTTP request" })
      const body = ApiError.envelope(apiError, requestId)
      socket.end(
        `HTTP/1.1 ${apiError.status} ${Http.STATUS_CODES[apiError.status]}\r\n` +
          `content-type: ${Json}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\n` +
          `connection: close\r\n\r\n${body}`
      )
      log.request("?", "(malformed)", apiError.status, 0, requestId)
    })
    const running = yield* Effect.acquireRelease(
      Effect.async<Running>((resume) => {
        server.listen(options.port, options.host, () => {
          const { port } = server.address() as AddressInfo
          resume(Effect.succeed({ server, port, url: `http://${options.host ?? "localhost"}:${port}` }))
        })
      }),
      () =>
        Effect.async<void>((resume) => {
          // Stop accepting, answer what is in flight, then close what is left.
          closing = true
          clearInterval(sweeper)
          server.close(() => resume(Effect.void))
          server.closeIdleConnections()
          const deadline = Date.now() + (options.shutdownTimeoutMillis ?? 10_000)
          const poll = setInterval(() => {
            if (inFlight === 0 || Date.now() > deadline) {
              clearInterval(poll)
              server.closeAllConnections()
            } else server.closeIdleConnections()
          }, 20)
        }).pipe(Effect.zipRight(log.flush))
    )
    return running
  })

const noTags: ReadonlyArray<never> = []

const corsHeaders = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "POST, OPTIONS",
  "access-control-allow-headers": "Authorization, Content-Type",
  "access-control-expose-headers": "X-Request-ID"
}

type BodyResult = { readonly _tag: "Body"; readonly text: string } | { readonly _tag: "TooLarge" }

// Reads up to `limit` bytes. Past it the answer is 413 at once; the rest of the upload is
// drained (not reset), so the client can read the answer, unless it goes on far past the limit.
const readBody = (req: Http.IncomingMessage, limit: number, done: (result: BodyResult) => void) => {
  const declared = Number(req.headers["content-length"])
  let tooLarge = declared > limit
  if (tooLarge) done({ _tag: "TooLarge" })
  const chunks: Array<Buffer> = []
  let size = 0
  req.on("data", (chunk: Buffer) => {
    size += chunk.length
    if (tooLarge) {
      if (size > limit * 16) req.destroy()
      return
    }
    if (size > limit) {
      tooLarge = true
      chunks.length = 0
      return done({ _tag: "TooLarge" })
    }
    chunks.push(chunk)
  })
  req.on("end", () => {
    if (!tooLarge) done({ _tag: "Body", text: Buffer.concat(chunks, size).toString("utf8") })
  })
  req.on("error", () => {})
}

/** The server as a scoped layer, for `Layer.launch`. */
export const layer = (options: Options) => Layer.scopedDiscard(make(options))
