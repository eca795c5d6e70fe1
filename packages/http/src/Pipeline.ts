/**
 * The one HTTP dispatch, whatever the transport. `dispatch` takes every request through the same
 * steps, in this order: the CORS preflight, `/openapi.json`, `/metrics`, `/docs`, HEAD as GET, the
 * route over `Api`, 404 / 405 with `Allow`, the per-key rate limit, the body (its limit from `Api`,
 * then JSON), authentication (the key `Api` asks for), the handler under its deadline; every
 * failure in the behaviour §2 envelope, every answer with its request id, logged and counted.
 *
 * A transport hands a request over as an `Exchange` (method, target, headers, a way to read the
 * body) and writes the `Answer` it is given: the `node:http` server (`Server`) and the web handler
 * (`WebHandler`, and through it `RouterLayer`) only convert, plus what only they can do (writing
 * answers per loop turn, socket backpressure, shutdown). Decision 0017.
 */
import * as HttpApiSwagger from "@effect/platform/HttpApiSwagger"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as FiberRoots from "@tracklog/core/FiberRoots"
import * as SlotSet from "@tracklog/core/SlotSet"
import * as TrackBatch from "@tracklog/core/TrackBatch"
import { randomUUID } from "node:crypto"
import * as Api from "./Api.js"
import * as ApiError from "./ApiError.js"
import * as Auth from "./Auth.js"
import * as Handlers from "./Handlers.js"
import * as Router from "./internal/router.js"
import * as Metrics from "./Metrics.js"
import * as RateLimiter from "./RateLimiter.js"
import * as RequestLog from "./RequestLog.js"

/** What the pipeline needs to know of the transport's limits, and what it serves. */
export interface Options {
  /** Largest accepted request body, in bytes. */
  readonly bodyLimit: number
  /**
   * Longest a request may take, waiting included (default 10 s); past it the answer is 503. A
   * hung store then costs each request at most this, also when requests queue on one contact.
   */
  readonly requestTimeoutMillis?: number | undefined
  /** Largest accepted body of `POST /v1/track/batch`, in bytes (default 10 MiB). */
  readonly batchBodyLimit?: number | undefined
  /** Whether each request writes a log line (default true; `TRACKLOG_LOG=off` in `ServerConfig`). */
  readonly requestLog?: boolean | undefined
  /** Serve `GET /metrics` and record request metrics (default true; behaviour §9). */
  readonly metrics?: boolean | undefined
  /** Per-key token bucket (behaviour §9); none when undefined. */
  readonly rateLimit?: RateLimiter.Limit | undefined
}

/** A request body as a transport read it: its text, or past the limit, or broken off. */
export type Body =
  | { readonly _tag: "Body"; readonly text: string }
  | { readonly _tag: "TooLarge" }
  | { readonly _tag: "Unreadable" }

/**
 * One request as a transport hands it to `dispatch`, and where its answer goes. A transport makes
 * one per request, its methods on its class: a request costs no closure for them.
 */
export interface Exchange {
  readonly method: string
  /** The request target: its path and query string. */
  readonly url: string
  /** A request header by lowercase name, as one string; undefined when absent. */
  header(name: string): string | undefined
  /** Each value of a request header as sent, by lowercase name (a header sent twice has two); undefined when absent. */
  headerValues(name: string): ReadonlyArray<string> | undefined
  /**
   * Reads the body, at most `limit` bytes: past it `done` gets `TooLarge` at once, and the rest of
   * the upload is the transport's to drain or leave unread, so the client can read the 413.
   */
  readBody(limit: number, done: (body: Body) => void): void
  /** The body will not be read: the transport drains or discards it. */
  skipBody(): void
  /** Called once per request with its answer, for the transport to write (then `answer.written()`). */
  respond(answer: Answer): void
}

// A request on its way through the steps: what its answer and its log line need.
interface Call {
  readonly exchange: Exchange
  readonly requestId: string
  readonly method: string
  readonly path: string
  readonly started: number
  /** The route pattern for the log and the metrics; never the raw path, which may hold emails or keys. */
  pattern: string
}

// Where answers are logged and counted: one per pipeline.
interface Journal {
  readonly log: Effect.Effect.Success<ReturnType<typeof RequestLog.make>>
  readonly record: (method: string, pattern: string, status: number, millis: number) => void
}

/**
 * An answer for the transport to write: the status, the headers (`content-type` among them, none
 * on a 204; the transport adds the body's length), and the body text, or an event `stream` to write
 * as it comes, with backpressure. A HEAD gets its GET's answer (RFC 9110 §9.3.2): the transport
 * sends no body for it, and runs no stream. Once written, the transport calls `written()`.
 */
export class Answer {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string>,
    readonly body: string,
    readonly stream: Stream.Stream<string> | undefined,
    private readonly call: Call,
    private readonly journal: Journal,
    // Preflights and event streams are logged, not counted: neither is a request the duration
    // histogram is about (a stream's answer lasts as long as its client stays).
    private readonly counted: boolean
  ) {}

  /** The answer is written: the request's log line and its metrics, its duration up to now. */
  written(): void {
    const { call, journal } = this
    const millis = performance.now() - call.started
    journal.log.request(call.method, call.pattern, this.status, millis, call.requestId)
    if (this.counted) journal.record(call.method, call.pattern, this.status, millis)
  }
}

// A request's deadline: past `at`, the sweep interrupts its fiber.
interface Deadline {
  readonly at: number
  readonly expire: () => void
  slot: number
}

/** A routed endpoint: its handler, what `Api` says it requires, its path pattern. */
interface Endpoint extends Api.Requirements {
  readonly handler: Handlers.Handler
  readonly pattern: string
}

export const Json = "application/json; charset=utf-8"
const Html = "text/html; charset=utf-8"
export const TrackPath = "/v1/track"
export const BatchPath = "/v1/track/batch"
export const OpenApiPath = "/openapi.json"
export const DocsPath = "/docs"
export const MetricsPath = "/metrics"
/** The routes a browser may call with a public key, so CORS applies to them. */
const isCorsPath = (path: string) => path === TrackPath || path === BatchPath
const NoGrant = { projectId: "", kind: "public" } as const
// Handlers only read the parameters, so requests without a query (every track) share one.
const noQuery = new URLSearchParams()
const noHeaders: Handlers.Request["headers"] = {}
const noTags: ReadonlyArray<never> = []

const corsHeaders = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "POST, OPTIONS",
  "access-control-allow-headers": "Authorization, Content-Type, Idempotency-Key",
  "access-control-expose-headers": "X-Request-ID, Idempotent-Replayed, Retry-After"
}
const preflight = { "access-control-max-age": "86400" }
// A Server-Sent Events answer's headers besides its type: no cache, and no proxy buffering.
const eventStream = "text/event-stream"
const eventStreamHeaders = { "cache-control": "no-cache", "x-accel-buffering": "no" }

const unreadable = () =>
  new ApiError.ApiError({ status: 400, code: "VALIDATION_ERROR", message: "The request body could not be read" })

const docsPage = Effect.promise(async () => {
  const { dispose, handler } = HttpLayerRouter.toWebHandler(
    HttpApiSwagger.layerHttpLayerRouter({ api: Api.Api, path: DocsPath }),
    { disableLogger: true }
  )
  const html = await (await handler(new Request(`http://localhost${DocsPath}`))).text()
  await dispose()
  return html
})

/** Splits a request target into its path (a trailing slash dropped) and query string. */
const splitUrl = (url: string): { readonly path: string; readonly query: string } => {
  const q = url.indexOf("?")
  const raw = q === -1 ? url : url.slice(0, q)
  // A trailing slash names the same resource (CORS included).
  const path = raw.length > 1 && raw.endsWith("/") ? raw.slice(0, -1) : raw
  return { path, query: q === -1 ? "" : url.slice(q + 1) }
}

/** A body as the handlers see it: `{}` when empty, the parsed JSON, or the 400 of behaviour §1.2. */
const parseBody = (text: string): { readonly ok: true; readonly body: unknown } | { readonly ok: false } => {
  if (text.length === 0) return { ok: true, body: {} }
  try {
    return { ok: true, body: JSON.parse(text) }
  } catch {
    return { ok: false }
  }
}

// The headers handlers read (`Handlers.headerNames`), each as sent: a shared empty object when the
// request has none of them, as a track has (decision 0023).
const handlerHeaders = (exchange: Exchange): Handlers.Request["headers"] => {
  let out: Record<string, ReadonlyArray<string> | undefined> | undefined
  for (const name of Handlers.headerNames) {
    const values = exchange.headerValues(name)
    if (values !== undefined) (out ??= {})[name] = values
  }
  return out ?? noHeaders
}

/** Builds the pipeline for the scope: closing it stops the deadline timer. */
export const make = (options: Options) =>
  Effect.gen(function*() {
    const handlers = yield* Handlers.make
    const auth = yield* Auth.make
    // Each request runs as a root fiber: Effect's roots in slots, or overlapping requests are
    // promoted (decision 0028). Whatever the transport: server, web handler or router layer.
    FiberRoots.install()
    // Everything the pipeline runs, runs on the runtime that built it: its flags too (main.ts
    // turns Effect's fiber metrics off), which `Effect.runFork` and friends would not see.
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)
    const runPromise = Runtime.runPromise(runtime)
    const log = yield* RequestLog.make({ requests: options.requestLog ?? true })

    const requirements: Readonly<Record<string, Api.Requirements>> = Api.requirements()
    const routes = Router.fromApi(Api.Api).map((route) => {
      const handler = handlers[route.name]
      if (handler === undefined) throw new Error(`no handler for endpoint ${route.name}`)
      const { body, key } = requirements[route.name]!
      return { ...route, value: { handler, key, body, pattern: "/" + route.segments.join("/") } }
    })
    const route: (method: string, path: string) => Router.Match<Endpoint> = Router.matcher(routes)
    // HEAD is answered as GET on every GET route (RFC 9110 §9.3.2), so load balancers' `HEAD
    // /health` works. A known path with another method: HEAD is allowed wherever GET is, and the
    // routes a browser calls also answer CORS preflights, so their `Allow` names OPTIONS too.
    const match = (method: string, path: string): Router.Match<Endpoint> => {
      const found = route(method === "HEAD" ? "GET" : method, path)
      if (found._tag !== "MethodNotAllowed") return found
      const allow = found.allow.flatMap((m) => (m === "GET" ? ["GET", "HEAD"] : [m]))
      return { ...found, allow: isCorsPath(path) ? [...allow, "OPTIONS"] : allow }
    }
    const openApi = JSON.stringify(Api.openApi())
    let docsHtml: string | undefined
    const docs = (): Promise<string> =>
      docsHtml !== undefined ? Promise.resolve(docsHtml) : runPromise(docsPage).then((html) => (docsHtml = html))

    // Request deadlines, swept by one timer: a timer per request would cost more than the request.
    // In slots, not a `Set`: a `Set` would keep finished requests alive (core's `SlotSet`).
    const requestTimeout = options.requestTimeoutMillis ?? 10_000
    const overdue = SlotSet.make<Deadline>()
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        const timer = setInterval(() => {
          const now = Date.now()
          for (const deadline of overdue) {
            if (deadline.at <= now) {
              overdue.remove(deadline.slot, deadline)
              deadline.expire()
            }
          }
        }, Math.min(250, Math.max(10, requestTimeout / 4)))
        timer.unref()
        return timer
      }),
      (timer) => Effect.sync(() => clearInterval(timer))
    )

    // Metrics (behaviour §9): one recorder per pipeline, no-op when off.
    const metricsOn = options.metrics ?? true
    const journal: Journal = { log, record: metricsOn ? Metrics.makeRequestRecorder() : () => {} }
    const limiter = options.rateLimit === undefined ? undefined : RateLimiter.make(options.rateLimit)
    /** The Prometheus text of `GET /metrics`, the limiter's bucket count read now. */
    const metricsText = (): Promise<string> => {
      if (limiter !== undefined) Metrics.rateLimitBuckets.unsafeUpdate(limiter.buckets(), noTags)
      return runPromise(Metrics.render)
    }

    // The paths answered outside `Api`, and the methods each takes (for 405 + Allow): GET, and so HEAD.
    const readOnly = ["GET", "HEAD"] as const
    const ownPaths: Record<string, ReadonlyArray<string>> = { [OpenApiPath]: readOnly, [DocsPath]: readOnly }
    if (metricsOn) ownPaths[MetricsPath] = readOnly

    /**
     * The per-key rate limit, before the key is looked up (guesses at keys are throttled too,
     * `RateLimiter.ts`): the seconds to wait when the request is refused, counted; else undefined.
     */
    const limit = (endpoint: Endpoint, authorization: string | undefined): number | undefined => {
      if (limiter === undefined || endpoint.key === "none") return undefined
      const key = Auth.keyOf(authorization)
      if (key === undefined) return undefined
      const decision = limiter.take(Auth.hashOf(key))
      if (decision.allowed) return undefined
      Metrics.rateLimited.unsafeUpdate(1, noTags)
      return decision.retryAfterSeconds
    }

    /** The body limit of an endpoint with a body: the batch route has its own (`Api.BodyLimit`). */
    const bodyLimitOf = (endpoint: Endpoint) =>
      endpoint.body === "batch" ? options.batchBodyLimit ?? TrackBatch.DefaultBodyLimit : options.bodyLimit

    /**
     * Hands an answer to the transport. Every answer has `X-Request-ID`; the track routes' have
     * CORS, a 503's and a 429's `Retry-After` (`extra` may say another wait); a 204 has no content
     * headers (RFC 9110 §8.6).
     */
    const answer = (
      call: Call,
      status: number,
      body: string,
      contentType: string,
      extra?: Readonly<Record<string, string>>,
      stream?: Stream.Stream<string>,
      counted = stream === undefined
    ) => {
      const headers: Record<string, string> = status === 204
        ? { "x-request-id": call.requestId }
        : { "content-type": contentType, "x-request-id": call.requestId }
      if (isCorsPath(call.path)) Object.assign(headers, corsHeaders)
      if (status === 503 || status === 429) headers["retry-after"] = "1"
      if (extra !== undefined) Object.assign(headers, extra)
      call.exchange.respond(new Answer(status, headers, body, stream, call, journal, counted))
    }

    /** Answers the error's envelope (behaviour §2), with `WWW-Authenticate` on a 401. */
    const fail = (call: Call, error: ApiError.ApiError, extra?: Readonly<Record<string, string>>) => {
      const challenge = ApiError.headersOf(error)
      answer(
        call,
        error.status,
        ApiError.envelope(error, call.requestId),
        Json,
        challenge === undefined ? extra : extra === undefined ? challenge : { ...challenge, ...extra }
      )
    }

    // A defect outside a handler (rendering metrics or docs): logged with its request id, a 500.
    const defect = (call: Call, cause: unknown) => {
      log.defect(call.requestId, Cause.die(cause))
      fail(call, ApiError.internal())
    }

    /**
     * Authenticates as `Api` asks and runs the endpoint's handler on the pipeline's runtime, under
     * the request's deadline; answers its reply, or the envelope of its failure (503 past the
     * deadline, 500 for a defect, which is logged).
     */
    const run = (
      call: Call,
      endpoint: Endpoint,
      params: Readonly<Record<string, string>>,
      query: string,
      authorization: string | undefined,
      body: unknown
    ) => {
      const { handler, key } = endpoint
      const authenticated = key === "none"
        ? Effect.succeed<Handlers.Request["grant"]>(NoGrant)
        : handler.trustsGrant === true && key === "any"
        ? auth.authenticateTrusted(authorization)
        : auth.authenticate(authorization, key)
      const headers = handlerHeaders(call.exchange)
      const fiber = runFork(Effect.flatMap(authenticated, (grant) =>
        handler.handle({
          requestId: call.requestId,
          params,
          query: query === "" ? noQuery : new URLSearchParams(query),
          body,
          grant,
          headers
        })))
      const deadline: Deadline = {
        at: Date.now() + requestTimeout,
        expire: () => fiber.unsafeInterruptAsFork(fiber.id()),
        slot: 0
      }
      deadline.slot = overdue.add(deadline)
      fiber.addObserver((exit) => {
        overdue.remove(deadline.slot, deadline)
        if (Exit.isSuccess(exit)) {
          const reply = exit.value
          return reply.stream === undefined
            ? answer(call, reply.status, reply.body, Json, reply.headers)
            : answer(call, reply.status, "", eventStream, eventStreamHeaders, reply.stream)
        }
        if (Exit.isInterrupted(exit)) return fail(call, ApiError.serviceUnavailable())
        const failure = Cause.failureOption(exit.cause)
        if (Option.isSome(failure)) return fail(call, failure.value)
        log.defect(call.requestId, exit.cause)
        fail(call, ApiError.internal())
      })
    }

    let stopped = false

    /** Takes one request through every step; its answer goes to `exchange.respond`, once. */
    const dispatch = (exchange: Exchange): void => {
      const started = performance.now()
      const method = exchange.method
      const { path, query } = splitUrl(exchange.url)
      const call: Call = { exchange, requestId: randomUUID(), method, path, started, pattern: "(unmatched)" }

      if (stopped) {
        exchange.skipBody()
        return fail(call, ApiError.serviceUnavailable())
      }
      if (method === "OPTIONS" && isCorsPath(path)) {
        call.pattern = path
        exchange.skipBody()
        return answer(call, 204, "", Json, preflight, undefined, false)
      }
      const get = method === "GET" || method === "HEAD"
      if (get && path === OpenApiPath) {
        call.pattern = path
        exchange.skipBody()
        return answer(call, 200, openApi, Json)
      }
      if (get && path === MetricsPath && metricsOn) {
        call.pattern = path
        exchange.skipBody()
        return void metricsText().then(
          (text) => answer(call, 200, text, Metrics.contentType),
          (cause: unknown) => defect(call, cause)
        )
      }
      if (get && path === DocsPath) {
        call.pattern = path
        exchange.skipBody()
        return void docs().then((html) => answer(call, 200, html, Html), (cause: unknown) => defect(call, cause))
      }

      const found = match(method, path)
      if (found._tag === "NotFound") {
        exchange.skipBody()
        const own = ownPaths[path]
        if (own === undefined) return fail(call, ApiError.notFound())
        call.pattern = path
        return fail(call, ApiError.methodNotAllowed(own), { allow: own.join(", ") })
      }
      if (found._tag === "MethodNotAllowed") {
        exchange.skipBody()
        call.pattern = "(method not allowed)"
        return fail(call, ApiError.methodNotAllowed(found.allow), { allow: found.allow.join(", ") })
      }
      const endpoint = found.value
      call.pattern = endpoint.pattern

      const authorization = exchange.header("authorization")
      const retryAfter = limit(endpoint, authorization)
      if (retryAfter !== undefined) {
        exchange.skipBody()
        return fail(call, ApiError.rateLimited(), { "retry-after": String(retryAfter) })
      }

      if (endpoint.body === "none") {
        exchange.skipBody()
        return run(call, endpoint, found.params, query, authorization, undefined)
      }
      const bodyLimit = bodyLimitOf(endpoint)
      exchange.readBody(bodyLimit, (read) => {
        if (read._tag === "TooLarge") return fail(call, ApiError.payloadTooLarge(bodyLimit))
        if (read._tag === "Unreadable") return fail(call, unreadable())
        const parsed = parseBody(read.text)
        // Refused by a handler of its own, after the key as any request: one without a usable key
        // learns that first (401, 403). It writes nothing, so it trusts no cached grant: the key is read.
        if (!parsed.ok) {
          const refuse: Handlers.Handler = { handle: () => Effect.fail(ApiError.invalidJson()) }
          return run(call, { ...endpoint, handler: refuse }, found.params, query, authorization, undefined)
        }
        run(call, endpoint, found.params, query, authorization, parsed.body)
      })
    }

    return {
      dispatch,
      /** From now on every request is answered 503: the transport is closing its store. */
      stop: () => {
        stopped = true
      },
      log,
      /** The runtime that built the pipeline, for what a transport runs itself (an event stream). */
      runtime
    }
  })

/** A built pipeline. */
export type Pipeline = Effect.Effect.Success<ReturnType<typeof make>>

/** What building a pipeline needs. */
export type Services = Scope.Scope | Handlers.Services | Auth.Services
