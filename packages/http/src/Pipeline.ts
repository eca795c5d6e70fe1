/**
 * The request pipeline every transport shares: routing over `Api`, the static routes (preflight,
 * OpenAPI document, docs page, `GET /metrics`) and their 405s, the per-key rate limit, request
 * metrics, authentication, running a handler under a deadline, and the behaviour §2 envelope for
 * every failure. The `node:http` server (`Server`) and the web handler
 * (`WebHandler`) only read bodies and write answers in their own way around it.
 */
import * as HttpApiSwagger from "@effect/platform/HttpApiSwagger"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as FiberRoots from "@tracklog/core/FiberRoots"
import * as SlotSet from "@tracklog/core/SlotSet"
import * as TrackBatch from "@tracklog/core/TrackBatch"
import * as Api from "./Api.js"
import * as ApiError from "./ApiError.js"
import * as Auth from "./Auth.js"
import * as Handlers from "./Handlers.js"
import * as Router from "./internal/router.js"
import * as Metrics from "./Metrics.js"
import * as RateLimiter from "./RateLimiter.js"
import * as RequestLog from "./RequestLog.js"

// A request's deadline: past `at`, the sweep interrupts its fiber.
interface Deadline {
  readonly at: number
  readonly expire: () => void
  slot: number
}

/** What the pipeline needs to know of the transport's limits. */
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

/**
 * A routed endpoint: its handler, what `Api` says it requires (its key, its body), and its path
 * pattern (for the log; never the raw path).
 */
export interface Endpoint extends Api.Requirements {
  readonly handler: Handlers.Handler
  readonly pattern: string
}

/** What the handler run needs from the request, whatever its transport. */
export interface Input {
  readonly requestId: string
  readonly authorization: string | undefined
  readonly params: Readonly<Record<string, string>>
  /** The query string, without its `?`. */
  readonly query: string
  readonly body: unknown
  /** Request headers by lowercase name, each value as sent (a header sent twice has two). */
  readonly headers?: Handlers.Request["headers"]
}

export const Json = "application/json; charset=utf-8"
export const Html = "text/html; charset=utf-8"
export const TrackPath = "/v1/track"
export const BatchPath = "/v1/track/batch"
export const OpenApiPath = "/openapi.json"
export const DocsPath = "/docs"
export const MetricsPath = "/metrics"
/**
 * Whether a method reads as GET: HEAD is answered as GET without a body (RFC 9110 §9.3.2) on every
 * GET route, so load balancers' `HEAD /health` works.
 */
export const isGet = (method: string) => method === "GET" || method === "HEAD"
/** The routes a browser may call with a public key, so CORS applies to them. */
export const isCorsPath = (path: string) => path === TrackPath || path === BatchPath
const NoGrant = { projectId: "", kind: "public" } as const
// Handlers only read the parameters, so requests without a query (every track) share one.
const noQuery = new URLSearchParams()
const noTags: ReadonlyArray<never> = []

export const corsHeaders = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "POST, OPTIONS",
  "access-control-allow-headers": "Authorization, Content-Type, Idempotency-Key",
  "access-control-expose-headers": "X-Request-ID, Idempotent-Replayed, Retry-After"
}

/** The headers every transport adds to an answer of `status`: CORS, `Retry-After`. */
export const answerHeaders = (path: string, status: number): Record<string, string> =>
  addAnswerHeaders({}, path, status)

/** Adds `answerHeaders` to `headers` in place (no copy on every answer); returns it. */
export const addAnswerHeaders = <H extends Record<string, unknown>>(headers: H, path: string, status: number): H => {
  if (isCorsPath(path)) Object.assign(headers, corsHeaders)
  if (status === 503 || status === 429) (headers as Record<string, unknown>)["retry-after"] = "1"
  return headers
}

/** The preflight answer's headers, without the request id. */
export const preflightHeaders = { ...corsHeaders, "access-control-max-age": "86400" }

export const docsPage = Effect.promise(async () => {
  const { dispose, handler } = HttpLayerRouter.toWebHandler(
    HttpApiSwagger.layerHttpLayerRouter({ api: Api.Api, path: DocsPath }),
    { disableLogger: true }
  )
  const html = await (await handler(new Request(`http://localhost${DocsPath}`))).text()
  await dispose()
  return html
})

/** Splits a request target into its path (a trailing slash dropped) and query string. */
export const splitUrl = (url: string): { readonly path: string; readonly query: string } => {
  const q = url.indexOf("?")
  const raw = q === -1 ? url : url.slice(0, q)
  // A trailing slash names the same resource (CORS included).
  const path = raw.length > 1 && raw.endsWith("/") ? raw.slice(0, -1) : raw
  return { path, query: q === -1 ? "" : url.slice(q + 1) }
}

/** A body as the handlers see it: `{}` when empty, the parsed JSON, or the 400 of behaviour §1.2. */
export const parseBody = (text: string): { readonly ok: true; readonly body: unknown } | { readonly ok: false } => {
  if (text.length === 0) return { ok: true, body: {} }
  try {
    return { ok: true, body: JSON.parse(text) }
  } catch {
    return { ok: false }
  }
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
    // A known path with another method: HEAD is allowed wherever GET is, and the routes a browser
    // calls also answer CORS preflights, so their `Allow` names OPTIONS too.
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

    /**
     * Authenticates and runs the endpoint's handler; `done` gets the status and JSON body, the
     * envelope on failure (503 past the deadline, 500 for a defect, which is logged).
     */
    const run = (endpoint: Endpoint, input: Input, done: (reply: Handlers.Reply) => void) => {
      const { handler, key } = endpoint
      const authenticated = key === "none"
        ? Effect.succeed<Handlers.Request["grant"]>(NoGrant)
        : handler.trustsGrant === true && key === "any"
        ? auth.authenticateTrusted(input.authorization)
        : auth.authenticate(input.authorization, key)
      const fiber = runFork(Effect.flatMap(authenticated, (grant) =>
        handler.handle({
          requestId: input.requestId,
          params: input.params,
          query: input.query === "" ? noQuery : new URLSearchParams(input.query),
          body: input.body,
          grant,
          headers: input.headers
        })))
      const fail = (error: ApiError.ApiError) =>
        done({
          status: error.status,
          body: ApiError.envelope(error, input.requestId),
          headers: ApiError.headersOf(error)
        })
      const deadline: Deadline = {
        at: Date.now() + requestTimeout,
        expire: () => fiber.unsafeInterruptAsFork(fiber.id()),
        slot: 0
      }
      deadline.slot = overdue.add(deadline)
      fiber.addObserver((exit) => {
        overdue.remove(deadline.slot, deadline)
        if (Exit.isInterrupted(exit)) return fail(ApiError.serviceUnavailable())
        if (Exit.isSuccess(exit)) return done(exit.value)
        const failure = Cause.failureOption(exit.cause)
        if (Option.isSome(failure)) return fail(failure.value)
        log.defect(input.requestId, exit.cause)
        fail(ApiError.internal())
      })
    }

    /** The body limit of an endpoint: the batch route has its own. */
    const bodyLimitOf = (endpoint: Endpoint) =>
      endpoint.body === "batch" ? options.batchBodyLimit ?? TrackBatch.DefaultBodyLimit : options.bodyLimit

    // Metrics (behaviour §9): one recorder per pipeline, no-op when off.
    const metricsOn = options.metrics ?? true
    const recordRequest: (method: string, pattern: string, status: number, millis: number) => void = metricsOn
      ? Metrics.makeRequestRecorder()
      : () => {}
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
    /** The methods a path answered outside `Api` takes, if it is one. */
    const ownMethods = (path: string): ReadonlyArray<string> | undefined => ownPaths[path]

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

    return {
      match,
      run,
      openApi,
      docs,
      log,
      bodyLimitOf,
      metricsOn,
      metricsText,
      recordRequest,
      ownMethods,
      limit,
      /** The runtime that built the pipeline, for what a transport runs itself (an event stream). */
      runtime
    }
  })

/** A built pipeline. */
export type Pipeline = Effect.Effect.Success<ReturnType<typeof make>>

/** What building a pipeline needs. */
export type Services = Scope.Scope | Handlers.Services | Auth.Services
