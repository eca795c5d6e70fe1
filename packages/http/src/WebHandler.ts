/**
 * The whole API as a web-standard handler, `(request: Request) => Promise<Response>`, for Hono,
 * Bun, Deno, Next.js route handlers and the like: the same pipeline as the `node:http` server
 * (`Pipeline`): routes, envelope, auth, request ids, CORS, body limit, OpenAPI document and docs,
 * `GET /metrics` and request metrics, the per-key rate limit.
 *
 * Built eagerly: `fromLayer` / `fromEnv` resolve once the store is up, before any request.
 * `HttpApiBuilder.toWebHandler` builds inside the first request instead, and an aborted first
 * request wedges every later one there (Effect-TS/effect#6319).
 */
import type * as Store from "@tracklog/core/Store"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as ApiError from "./ApiError.js"
import * as Answers from "./internal/answers.js"
import type * as CommandHandler from "@tracklog/core/CommandHandler"
import * as Bootstrap from "./Bootstrap.js"
import * as Metrics from "./Metrics.js"
import * as Pipeline from "./Pipeline.js"
import * as ServerConfig from "./ServerConfig.js"
import * as StoreLayer from "./StoreLayer.js"

const encoder = new TextEncoder()

/** A request handler of the whole API. */
export type Handler = (request: Request) => Promise<Response>

/** A built web handler and the way to release its store. */
export interface WebHandler {
  readonly handler: Handler
  /** Stops answering (503 from then on) and closes the store: its pool, the embedded Postgres. */
  readonly dispose: () => Promise<void>
  /** The key pair generated for an empty store when none was configured (see `Bootstrap`). */
  readonly created?: { readonly projectId: string; readonly publicKey: string; readonly secretKey: string } | undefined
}

/** How the handler behaves. */
export interface Options extends Pipeline.Options {}

// Touching `request.body` can be costly (Hono on Node builds a whole undici Request for it):
// only a request that declares a body gets its body discarded.
const discardBody = (request: Request) =>
  request.headers.has("content-length") || request.headers.has("transfer-encoding")
    ? request.body?.cancel().catch(() => {})
    : undefined

type Body = { readonly _tag: "Body"; readonly text: string } | { readonly _tag: "TooLarge" } | {
  readonly _tag: "Unreadable"
}

// Reads at most `limit` bytes; past it the rest is not read at all.
const readBody = async (request: Request, limit: number): Promise<Body> => {
  const declared = request.headers.get("content-length")
  // Over the limit: the body is left unread, not cancelled; the transport drains or closes it
  // (cancelling resets the connection under some, before the client reads the 413).
  if (Number(declared) > limit) return { _tag: "TooLarge" }
  // A declared length within the limit is held to by the transport's framing: read it whole.
  // Reading `request.body` chunk by chunk instead costs Hono on Node ~10× the request.
  if (declared !== null && declared !== "") {
    try {
      return { _tag: "Body", text: await request.text() }
    } catch {
      return { _tag: "Unreadable" }
    }
  }
  if (request.body === null) return { _tag: "Body", text: "" }
  const reader = request.body.getReader()
  const chunks: Array<Uint8Array> = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > limit) {
        await reader.cancel().catch(() => {})
        return { _tag: "TooLarge" }
      }
      chunks.push(value)
    }
  } catch {
    return { _tag: "Unreadable" }
  }
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return { _tag: "Body", text: new TextDecoder().decode(bytes) }
}

/** The handler over the pipeline, for the scope (for Effect users composing their own runtime). */
// Headers by lowercase name, as the handlers read them; a header sent twice arrives joined
// with ", " here (the Fetch API keeps no duplicates), which a handler that checks repeats sees.
const headersOf = (request: Request): Record<string, ReadonlyArray<string>> => {
  const out: Record<string, Array<string>> = {}
  request.headers.forEach((value, name) => {
    out[name] = [value]
  })
  return out
}

export const make = (
  options: Options
): Effect.Effect<{ readonly handler: Handler; readonly stop: () => void }, never, Pipeline.Services> =>
  Effect.gen(function*() {
    const pipeline = yield* Pipeline.make(options)
    const { log, match, openApi, recordRequest, run } = pipeline
    // Answers are handed back together at the end of the loop turn, as the node server writes
    // them (docs/decisions/0008): the transport then writes a batch, and the client wakes once.
    const answers = Answers.make()
    let stopped = false

    const handler: Handler = async (request) => {
      const started = performance.now()
      const requestId = crypto.randomUUID()
      const method = request.method
      const url = new URL(request.url)
      const { path, query } = Pipeline.splitUrl(url.pathname + url.search)
      let pattern = "(unmatched)"

      const send = (
        status: number,
        body: string,
        contentType = Pipeline.Json,
        extra?: Readonly<Record<string, string>>
      ): Response => {
        const headers: Record<string, string> = { "content-type": contentType, "x-request-id": requestId }
        Object.assign(headers, Pipeline.answerHeaders(path, status))
        if (extra !== undefined) Object.assign(headers, extra)
        // The route pattern, never the raw path or query: those may hold emails or keys.
        const millis = performance.now() - started
        log.request(method, pattern, status, millis, requestId)
        recordRequest(method, pattern, status, millis)
        // A 204 has no content (RFC 9110 §8.6).
        if (status === 204) {
          delete headers["content-type"]
          return new Response(null, { status, headers })
        }
        // A HEAD is its GET's answer without the content, with the length the content would have
        // (RFC 9110 §9.3.2), as the node server sends it.
        if (method === "HEAD") {
          headers["content-length"] = String(encoder.encode(body).byteLength)
          return new Response(null, { status, headers })
        }
        return new Response(body, { status, headers })
      }
      // A Server-Sent Events reply: the stream is pulled as the client reads, and cancelled when
      // the client goes away.
      const serveStream = (stream: Stream.Stream<string>): Response => {
        log.request(method, pattern, 200, performance.now() - started, requestId)
        const headers = { "content-type": "text/event-stream", "cache-control": "no-cache", "x-request-id": requestId }
        // HEAD: the stream's headers only; the stream is never run.
        if (method === "HEAD") return new Response(null, { status: 200, headers })
        return new Response(Stream.toReadableStreamRuntime(Stream.encodeText(stream), pipeline.runtime), {
          status: 200,
          headers
        })
      }
      const fail = (error: ApiError.ApiError, extra?: Readonly<Record<string, string>>) =>
        send(error.status, ApiError.envelope(error, requestId), Pipeline.Json, extra)

      if (stopped) return fail(ApiError.serviceUnavailable())
      if (method === "OPTIONS" && Pipeline.isCorsPath(path)) {
        pattern = path
        log.request(method, pattern, 204, performance.now() - started, requestId)
        return new Response(null, { status: 204, headers: { ...Pipeline.preflightHeaders, "x-request-id": requestId } })
      }
      const get = Pipeline.isGet(method)
      if (get && path === Pipeline.OpenApiPath) {
        pattern = path
        return send(200, openApi)
      }
      if (get && path === Pipeline.MetricsPath && pipeline.metricsOn) {
        pattern = path
        await discardBody(request)
        try {
          return send(200, await pipeline.metricsText(), Metrics.contentType)
        } catch (cause) {
          log.defect(requestId, Cause.die(cause))
          return fail(ApiError.internal())
        }
      }
      if (get && path === Pipeline.DocsPath) {
        pattern = path
        try {
          return send(200, await pipeline.docs(), Pipeline.Html)
        } catch (cause) {
          log.defect(requestId, Cause.die(cause))
          return fail(ApiError.internal())
        }
      }

      const found = match(method, path)
      if (found._tag === "NotFound") {
        await discardBody(request)
        const own = pipeline.ownMethods(path)
        if (own !== undefined) {
          pattern = path
          return fail(ApiError.methodNotAllowed(own), { allow: own.join(", ") })
        }
        return fail(ApiError.notFound())
      }
      if (found._tag === "MethodNotAllowed") {
        await discardBody(request)
        pattern = "(method not allowed)"
        return fail(ApiError.methodNotAllowed(found.allow), { allow: found.allow.join(", ") })
      }
      const endpoint = found.value
      pattern = endpoint.pattern

      const authorization = request.headers.get("authorization") ?? undefined
      const retryAfter = pipeline.limit(endpoint, authorization)
      if (retryAfter !== undefined) {
        await discardBody(request)
        return fail(ApiError.rateLimited(), { "retry-after": String(retryAfter) })
      }

      let body: unknown = undefined
      if (endpoint.body !== "none") {
        const limit = pipeline.bodyLimitOf(endpoint)
        const read = await readBody(request, limit)
        if (read._tag === "TooLarge") return fail(ApiError.payloadTooLarge(limit))
        if (read._tag === "Unreadable") {
          return fail(
            new ApiError.ApiError({
              status: 400,
              code: "VALIDATION_ERROR",
              message: "The request body could not be read"
            })
          )
        }
        const parsed = Pipeline.parseBody(read.text)
        if (!parsed.ok) return fail(ApiError.invalidJson())
        body = parsed.body
      } else {
        await discardBody(request)
      }
      return new Promise<Response>((resolve) =>
        run(endpoint, {
          requestId,
          authorization,
          params: found.params,
          query,
          body,
          headers: headersOf(request)
        }, (reply) =>
          answers.write(() =>
            resolve(
              reply.stream === undefined
                ? send(reply.status, reply.body, Pipeline.Json, reply.headers)
                : serveStream(reply.stream)
            )
          ))
      )
    }
    return { handler, stop: () => (stopped = true) }
  })

/** What a store layer must provide: `Store.Ports`. */
export type StorePorts = Store.Ports

/**
 * Builds the handler over a store layer, now: resolves once the store is up and the projects of
 * `keys` exist, rejects if that fails.
 */
export const fromLayer = async <E>(
  store: Layer.Layer<StorePorts, E>,
  options: Partial<Options> & {
    readonly keys?: ReadonlyArray<ServerConfig.KeyPair> | undefined
    /** The command handler's tuning: contact cache budget, idempotency TTL. */
    readonly handler?: CommandHandler.Options | undefined
  } = {}
): Promise<WebHandler> => {
  const scope = Effect.runSync(Scope.make())
  const build = Effect.gen(function*() {
    // Store operations are timed into the metrics when they are served, as the server does.
    const metrics = options.metrics ?? true
    const context = yield* Layer.build(
      StoreLayer.services(metrics ? Metrics.instrumentStore(store) : store, options.handler)
    )
    return yield* Effect.gen(function*() {
      const created = yield* Bootstrap.run(options.keys ?? [])
      const built = yield* make({
        bodyLimit: options.bodyLimit ?? 1024 * 1024,
        batchBodyLimit: options.batchBodyLimit,
        requestTimeoutMillis: options.requestTimeoutMillis,
        requestLog: options.requestLog,
        metrics,
        rateLimit: options.rateLimit
      })
      return { ...built, created }
    }).pipe(Effect.provide(context))
  })
  const exit = await Effect.runPromiseExit(Scope.extend(build, scope))
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, exit))
    throw Cause.squash(exit.cause)
  }
  const { created, handler, stop } = exit.value
  let disposed: Promise<void> | undefined
  return {
    handler,
    created,
    dispose: () => {
      stop()
      return disposed ??= Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
}

/**
 * Builds the handler from the environment, as the server reads it: `TRACKLOG_STORE`,
 * `DATABASE_URL`, `TRACKLOG_DATA_DIR`, `TRACKLOG_PROJECT_KEYS`, `TRACKLOG_BODY_LIMIT`, `TRACKLOG_METRICS`,
 * `TRACKLOG_RATE_LIMIT` and the rest of `ServerConfig`.
 */
export const fromEnv = async (): Promise<WebHandler> => {
  const config = await Effect.runPromise(ServerConfig.ServerConfig)
  return fromLayer(StoreLayer.storeLayer(config.store), {
    bodyLimit: config.bodyLimit,
    batchBodyLimit: config.batchBodyLimit,
    requestLog: config.requestLog,
    metrics: config.metrics,
    rateLimit: config.rateLimit._tag === "Some" ? config.rateLimit.value : undefined,
    keys: config.keys,
    handler: { idempotencyTtlSeconds: config.idempotencyTtl, cacheBytes: config.contactCacheBytes }
  })
}
