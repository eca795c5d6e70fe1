/**
 * The HTTP server: a lean `node:http` adapter that serves exactly the endpoints of `Api`, with
 * the behaviour §2 envelope for every failure, request ids, CORS on the track route, a body limit
 * and one log line per request. Handlers run on the Effect runtime that built the server.
 *
 * Why not `HttpApiBuilder`: it costs ~5× the per-request time of this adapter on the track route
 * (docs/decisions/0003-lean-http-adapter.md); `Api` stays the one definition of the API.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import { randomUUID } from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import type { Duplex } from "node:stream"
import * as Answers from "./internal/answers.js"
import * as ApiError from "./ApiError.js"
import type * as Auth from "./Auth.js"
import * as Handlers from "./Handlers.js"
import * as Metrics from "./Metrics.js"
import * as Pipeline from "./Pipeline.js"

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
  /** Largest accepted body of `POST /v1/track/batch`, in bytes (default 10 MiB). */
  readonly batchBodyLimit?: number | undefined
  /** How long shutdown waits for in-flight requests before closing their connections. */
  readonly shutdownTimeoutMillis?: number | undefined
  /**
   * How long an event stream waits for a client that does not read before it closes the
   * connection (default 30 s): the server never buffers without bound for it.
   */
  readonly streamStallMillis?: number | undefined
  /** Whether each request writes a log line (default true; `TRACKLOG_LOG=off` in `ServerConfig`). */
  readonly requestLog?: boolean | undefined
  /** Serve `GET /metrics` and record request metrics (default true; behaviour §9). */
  readonly metrics?: Pipeline.Options["metrics"]
  /** Per-key token bucket (behaviour §9); none when undefined. */
  readonly rateLimit?: Pipeline.Options["rateLimit"]
}

/** A running server. */
export interface Running {
  readonly server: Http.Server
  readonly port: number
  readonly url: string
  /** Event streams open now: each one a fiber that ends when its client goes away. */
  readonly openStreams?: () => number
}

const { Json } = Pipeline

const noHeaders: Handlers.Request["headers"] = {}

// The headers handlers read, each as sent. Not `headersDistinct`: that copies every header of
// every request a second time, and a track reads none of them.
const headersOf = (req: Http.IncomingMessage): Handlers.Request["headers"] => {
  let out: Record<string, ReadonlyArray<string> | undefined> | undefined
  for (const name of Handlers.headerNames) {
    if (req.headers[name] !== undefined) (out ??= {})[name] = req.headersDistinct[name]
  }
  return out ?? noHeaders
}

/** Starts the server for the scope; closing the scope drains it gracefully. */
export const make = (
  options: Options
): Effect.Effect<Running, never, Scope.Scope | Handlers.Services | Auth.Services> =>
  Effect.gen(function*() {
    const pipeline = yield* Pipeline.make(options)
    const { bodyLimitOf, log, match, openApi, recordRequest, run } = pipeline

    const answers = Answers.make()
    // Open event streams, ended at shutdown: they would otherwise hold it for its whole timeout.
    const streams = new Set<Fiber.RuntimeFiber<void, unknown>>()
    const streamStall = options.streamStallMillis ?? 30_000
    let inFlight = 0
    let closing = false

    const listener = (req: Http.IncomingMessage, res: Http.ServerResponse) => {
      const started = performance.now()
      const requestId = randomUUID()
      const method = req.method ?? "GET"
      const url = req.url ?? "/"
      const { path, query } = Pipeline.splitUrl(url)
      let pattern = "(unmatched)"
      inFlight++
      res.once("close", () => inFlight--)

      const send = (status: number, body: string, contentType = Json, extra?: Readonly<Record<string, string>>) => {
        const headers: Http.OutgoingHttpHeaders = {
          "content-type": contentType,
          "content-length": Buffer.byteLength(body),
          "x-request-id": requestId
        }
        Pipeline.addAnswerHeaders(headers, path, status)
        if (extra !== undefined) Object.assign(headers, extra)
        if (allow !== undefined) headers["allow"] = allow
        if (closing) headers["connection"] = "close"
        // A 204 has no content, so no content headers either (RFC 9110 §8.6).
        if (status === 204) {
          delete headers["content-type"]
          delete headers["content-length"]
        }
        answers.write(() => {
          res.writeHead(status, headers)
          res.end(body)
          // The route pattern, never the raw path or query: those may hold emails or keys.
          const millis = performance.now() - started
          log.request(method, pattern, status, millis, requestId)
          recordRequest(method, pattern, status, millis)
        })
      }
      let allow: string | undefined
      const fail = (error: ApiError.ApiError, retryAfter?: number) =>
        send(
          error.status,
          ApiError.envelope(error, requestId),
          Json,
          retryAfter === undefined ? undefined : { "retry-after": String(retryAfter) }
        )

      // A Server-Sent Events reply: each piece written as it comes, the next one pulled only once
      // the socket has taken the last (its buffer bounded by the socket's high-water mark); a
      // client that stops reading is dropped after `streamStall`, one that goes away stops it.
      const serveStream = (stream: Stream.Stream<string>) => {
        res.writeHead(200, {
          "content-type": "text/event-stream",
          "cache-control": "no-cache",
          "x-accel-buffering": "no",
          "x-request-id": requestId
        })
        log.request(method, pattern, 200, performance.now() - started, requestId)
        // HEAD: the stream's headers, and the end; a stream never opened is never left open.
        if (method === "HEAD") return void res.end()
        const write = (text: string) =>
          Effect.async<void, "stalled">((resume) => {
            if (res.write(text)) return resume(Effect.void)
            const timer = setTimeout(() => {
              res.off("drain", drained)
              resume(Effect.fail("stalled"))
            }, streamStall)
            const drained = () => {
              clearTimeout(timer)
              resume(Effect.void)
            }
            res.once("drain", drained)
            return Effect.sync(() => {
              clearTimeout(timer)
              res.off("drain", drained)
            })
          })
        const fiber = Runtime.runFork(pipeline.runtime)(Stream.runForEach(stream, write))
        streams.add(fiber)
        res.once("close", () => fiber.unsafeInterruptAsFork(fiber.id()))
        fiber.addObserver((exit) => {
          streams.delete(fiber)
          if (res.destroyed) return
          // A stalled client's unread buffer is dropped with its socket; it resumes from its last id.
          // At shutdown the reply is ended as a reply, not cut: the client sees a clean end and
          // reconnects (to another process) with its last id.
          if (Exit.isFailure(exit) && !(closing && Exit.isInterrupted(exit))) res.destroy()
          else res.end()
        })
      }

      if (method === "OPTIONS" && Pipeline.isCorsPath(path)) {
        pattern = path
        res.writeHead(204, { ...Pipeline.preflightHeaders, "x-request-id": requestId, "content-length": 0 })
        res.end()
        return log.request(method, pattern, 204, performance.now() - started, requestId)
      }
      // A HEAD is answered as its GET: Node sends the headers of `send` (content-length too) and
      // drops the body (RFC 9110 §9.3.2).
      const get = Pipeline.isGet(method)
      if (get && path === Pipeline.OpenApiPath) {
        pattern = path
        return send(200, openApi)
      }
      if (get && path === Pipeline.MetricsPath && pipeline.metricsOn) {
        pattern = path
        req.resume()
        return void pipeline.metricsText().then(
          (text) => send(200, text, Metrics.contentType),
          (cause: unknown) => {
            log.defect(requestId, Cause.die(cause))
            fail(ApiError.internal())
          }
        )
      }
      if (get && path === Pipeline.DocsPath) {
        pattern = path
        return void pipeline.docs().then(
          (html) => send(200, html, Pipeline.Html),
          (cause: unknown) => {
            log.defect(requestId, Cause.die(cause))
            fail(ApiError.internal())
          }
        )
      }

      const found = match(method, path)
      if (found._tag === "NotFound") {
        req.resume()
        const own = pipeline.ownMethods(path)
        if (own !== undefined) {
          pattern = path
          allow = own.join(", ")
          return fail(ApiError.methodNotAllowed(own))
        }
        return fail(ApiError.notFound())
      }
      if (found._tag === "MethodNotAllowed") {
        req.resume()
        pattern = "(method not allowed)"
        allow = found.allow.join(", ")
        return fail(ApiError.methodNotAllowed(found.allow))
      }
      const endpoint = found.value
      pattern = endpoint.pattern

      const retryAfter = pipeline.limit(endpoint, req.headers.authorization)
      if (retryAfter !== undefined) {
        req.resume()
        return fail(ApiError.rateLimited(), retryAfter)
      }

      const respond = (body: unknown) =>
        run(
          endpoint,
          {
            requestId,
            authorization: req.headers.authorization,
            params: found.params,
            query,
            body,
            headers: headersOf(req)
          },
          (reply) =>
            reply.stream === undefined ? send(reply.status, reply.body, Json, reply.headers) : serveStream(reply.stream)
        )

      if (endpoint.body === "none") {
        req.resume()
        return respond(undefined)
      }
      const bodyLimit = bodyLimitOf(endpoint)
      readBody(req, bodyLimit, (result) => {
        if (result._tag === "TooLarge") return fail(ApiError.payloadTooLarge(bodyLimit))
        const parsed = Pipeline.parseBody(result.text)
        if (!parsed.ok) return fail(ApiError.invalidJson())
        respond(parsed.body)
      })
    }

    const server = Http.createServer({ keepAliveTimeout: 65_000 }, listener)
    // Requests Node rejects before they reach the listener (malformed, headers too large) get the
    // envelope too; behaviour §2 wants it on every non-2xx answer.
    server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
      if (error.code === "ECONNRESET" || !socket.writable) return socket.destroy()
      const requestId = randomUUID()
      const apiError = error.code === "HPE_HEADER_OVERFLOW"
        ? ApiError.headersTooLarge()
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
          resume(
            Effect.succeed({
              server,
              port,
              url: `http://${options.host ?? "localhost"}:${port}`,
              openStreams: () => streams.size
            })
          )
        })
      }),
      () =>
        Effect.async<void>((resume) => {
          // Stop accepting, answer what is in flight, then close what is left.
          closing = true
          for (const fiber of streams) fiber.unsafeInterruptAsFork(fiber.id())
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
    if (tooLarge) return
    // A small body arrives in one chunk: decoded as it is, without a copy into a new buffer.
    const text = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks, size).toString("utf8")
    done({ _tag: "Body", text })
  })
  req.on("error", () => {})
}

/** The server as a scoped layer, for `Layer.launch`. */
export const layer = (options: Options) => Layer.scopedDiscard(make(options))
