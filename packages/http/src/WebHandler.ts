/**
 * The whole API as a web-standard handler, `(request: Request) => Promise<Response>`, for Hono,
 * Bun, Deno, Next.js route handlers and the like: a transport for the request pipeline
 * (`Pipeline`), as the `node:http` server is. It only converts: a `Request` in (its body read up
 * to the limit), a `Response` out (an event stream as a `ReadableStream`), answers handed back per
 * loop turn.
 *
 * Built eagerly: `fromLayer` / `fromEnv` resolve once the store is up, before any request.
 * `HttpApiBuilder.toWebHandler` builds inside the first request instead, and an aborted first
 * request wedges every later one there (Effect-TS/effect#6319).
 */
import type * as CommandHandler from "@tracklog/core/CommandHandler"
import type * as Store from "@tracklog/core/Store"
import * as Webhooks from "@tracklog/webhooks/Webhooks"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Answers from "./internal/answers.js"
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

// Reads at most `limit` bytes; past it the rest is not read at all.
const readBody = async (request: Request, limit: number): Promise<Pipeline.Body> => {
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

// What a handler's exchanges share.
interface Transport {
  readonly answers: { readonly write: (exchange: WebExchange) => void }
  readonly runtime: Runtime.Runtime<never>
}

/** One `Request`: what the pipeline reads of it, and the `Response` its answer becomes. */
class WebExchange implements Pipeline.Exchange {
  readonly method: string
  readonly url: string
  readonly request: Request
  readonly transport: Transport
  readonly resolve: (response: Response) => void
  answer: Pipeline.Answer | undefined = undefined
  // The cancel of a body that is not read, waited for before the answer.
  skipping: Promise<unknown> | undefined = undefined

  constructor(request: Request, transport: Transport, resolve: (response: Response) => void) {
    const url = new URL(request.url)
    this.method = request.method
    this.url = url.pathname + url.search
    this.request = request
    this.transport = transport
    this.resolve = resolve
  }

  header(name: string): string | undefined {
    return this.request.headers.get(name) ?? undefined
  }

  // A header sent twice arrives joined with ", " here (the Fetch API keeps no duplicates), which a
  // handler that checks repeats sees.
  headerValues(name: string): ReadonlyArray<string> | undefined {
    const value = this.request.headers.get(name)
    return value === null ? undefined : [value]
  }

  readBody(limit: number, done: (body: Pipeline.Body) => void): void {
    void readBody(this.request, limit).then(done, () => done({ _tag: "Unreadable" }))
  }

  // Touching `request.body` can be costly (Hono on Node builds a whole undici Request for it):
  // only a request that declares a body gets its body discarded.
  skipBody(): void {
    const headers = this.request.headers
    if (headers.has("content-length") || headers.has("transfer-encoding")) {
      this.skipping = this.request.body?.cancel().catch(() => {})
    }
  }

  respond(answer: Pipeline.Answer): void {
    this.answer = answer
    if (this.skipping === undefined) this.transport.answers.write(this)
    else void this.skipping.then(() => this.transport.answers.write(this))
  }

  /**
   * Hands the answer back: at the end of the loop turn, with the others of the turn, as the node
   * server writes them (decision 0008): the transport then writes a batch, and the client wakes once.
   */
  write(): void {
    const answer = this.answer!
    this.resolve(toResponse(this.method, answer, this.transport.runtime))
    answer.written()
  }
}

const toResponse = (method: string, answer: Pipeline.Answer, runtime: Runtime.Runtime<never>): Response => {
  const { body, headers, status, stream } = answer
  // The stream is pulled as the client reads, and cancelled when the client goes away; a HEAD
  // gets the stream's headers only, and the stream never runs.
  if (stream !== undefined) {
    return new Response(
      method === "HEAD" ? null : Stream.toReadableStreamRuntime(Stream.encodeText(stream), runtime),
      { status, headers }
    )
  }
  if (status === 204) return new Response(null, { status, headers })
  // A HEAD is its GET's answer without the content, with the length the content would have
  // (RFC 9110 §9.3.2), as the node server sends it.
  if (method === "HEAD") {
    headers["content-length"] = String(encoder.encode(body).byteLength)
    return new Response(null, { status, headers })
  }
  return new Response(body, { status, headers })
}

/** The handler over the pipeline, for the scope (for Effect users composing their own runtime). */
export const make = (
  options: Options
): Effect.Effect<{ readonly handler: Handler; readonly stop: () => void }, never, Pipeline.Services> =>
  Effect.gen(function*() {
    const pipeline = yield* Pipeline.make(options)
    const { dispatch } = pipeline
    const transport: Transport = { answers: Answers.make<WebExchange>(), runtime: pipeline.runtime }
    const handler: Handler = (request) =>
      new Promise<Response>((resolve) => dispatch(new WebExchange(request, transport, resolve)))
    return { handler, stop: pipeline.stop }
  })

/**
 * Builds the handler over a store layer, now: resolves once the store is up and the projects of
 * `keys` exist, rejects if that fails.
 */
export const fromLayer = async <E>(
  store: Layer.Layer<Store.Ports, E>,
  options: Partial<Options> & {
    readonly keys?: ReadonlyArray<ServerConfig.KeyPair> | undefined
    /** The command handler's tuning: contact cache budget, idempotency TTL. */
    readonly handler?: CommandHandler.Options | undefined
    /** The webhook dispatcher and sender's settings (behaviour §12); `false` runs neither. */
    readonly webhooks?: Webhooks.Options | false | undefined
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
      const webhooks = options.webhooks ?? Webhooks.defaults
      if (webhooks !== false) yield* Webhooks.start(webhooks)
      const built = yield* Effect.provideService(
        make({
          bodyLimit: options.bodyLimit ?? 1024 * 1024,
          batchBodyLimit: options.batchBodyLimit,
          requestTimeoutMillis: options.requestTimeoutMillis,
          requestLog: options.requestLog,
          metrics,
          rateLimit: options.rateLimit
        }),
        Webhooks.Settings,
        webhooks === false ? Webhooks.defaults : webhooks
      )
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
    webhooks: { allowPrivate: config.webhookAllowPrivate, delays: config.webhookRetry },
    handler: { idempotencyTtlSeconds: config.idempotencyTtl, cacheBytes: config.contactCacheBytes }
  })
}
