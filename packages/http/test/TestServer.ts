/**
 * A real server on a random port for the tests, over a given store, with two projects whose
 * keys the tests know.
 */
import * as Commands from "@tracklog/core/Commands"
import * as Ids from "@tracklog/core/Ids"
import * as SegmentProcessor from "@tracklog/core/SegmentProcessor"
import * as Segments from "@tracklog/core/Segments"
import type * as Store from "@tracklog/core/Store"
import * as Webhooks from "@tracklog/webhooks/Webhooks"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Bootstrap from "../src/Bootstrap.js"
import * as Metrics from "../src/Metrics.js"
import type * as RateLimiter from "../src/RateLimiter.js"
import * as Server from "../src/Server.js"
import * as WebHandler from "../src/WebHandler.js"

export const projectA = { publicKey: "pk_test_a", secretKey: "sk_test_a" }
export const projectB = { publicKey: "pk_test_b", secretKey: "sk_test_b" }

/** Starts a server over the store layer; resolves to its base URL. */
export const start = <E>(
  store: Layer.Layer<Store.Ports, E>,
  options: {
    readonly bodyLimit?: number
    readonly requestTimeoutMillis?: number
    readonly batchBodyLimit?: number
    readonly streamStallMillis?: number
    readonly requestLog?: boolean
    readonly metrics?: boolean
    readonly rateLimit?: RateLimiter.Limit
    /** Runs the webhook dispatcher and sender with these settings (behaviour §12); neither when absent. */
    readonly webhooks?: Webhooks.Options
  } = {}
) =>
  Effect.gen(function*() {
    // Built into the caller's scope: the store lives as long as the server.
    const ports = options.metrics === true ? Metrics.instrumentStore(store) : store
    const context = yield* Layer.build(
      Layer.mergeAll(Commands.layer, Segments.layer, SegmentProcessor.layerWhereLive()).pipe(
        Layer.provideMerge(ports),
        Layer.provideMerge(Ids.layer)
      )
    )
    return yield* Effect.gen(function*() {
      yield* Bootstrap.run([projectA, projectB])
      if (options.webhooks !== undefined) yield* Webhooks.start(options.webhooks)
      const running = yield* Server.make({
        port: 0,
        host: "127.0.0.1",
        bodyLimit: options.bodyLimit ?? 1024 * 1024,
        requestTimeoutMillis: options.requestTimeoutMillis,
        batchBodyLimit: options.batchBodyLimit,
        streamStallMillis: options.streamStallMillis,
        // In-process test servers stay quiet unless a test reads the log.
        requestLog: options.requestLog ?? false,
        metrics: options.metrics,
        rateLimit: options.rateLimit
      })
      return { url: running.url, running }
    }).pipe(Effect.provide(context), Effect.provideService(Webhooks.Settings, options.webhooks ?? Webhooks.defaults))
  })

export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly body: any
  readonly text: string
}

/** A JSON request; `key` becomes the bearer token. */
export const request = async (
  base: string,
  method: string,
  path: string,
  options: {
    readonly key?: string
    readonly body?: unknown
    readonly raw?: string
    readonly headers?: Record<string, string>
  } = {}
): Promise<Answer> => {
  const headers: Record<string, string> = { ...options.headers }
  if (options.key !== undefined) headers["authorization"] = `Bearer ${options.key}`
  let body: string | undefined = options.raw
  if (options.body !== undefined) {
    body = JSON.stringify(options.body)
    headers["content-type"] ??= "application/json"
  }
  const response = await fetch(base + path, { method, headers, ...(body === undefined ? {} : { body }) })
  const text = await response.text()
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  return { status: response.status, headers: response.headers, body: parsed, text }
}

// Handlers called in-process: `fetch` to one of these origins calls the handler with the Request.
const inProcess = new Map<string, WebHandler.Handler>()
const realFetch = globalThis.fetch
const routedFetch: typeof fetch = (input, init) => {
  const url = input instanceof Request ? input.url : String(input)
  const handler = inProcess.get(new URL(url).origin)
  return handler === undefined ? realFetch(input, init) : handler(new Request(input, init))
}

/** The web handler over the store, called directly with `Request` objects through `fetch`. */
export const startWebHandler = <E>(
  store: Layer.Layer<Store.Ports, E>,
  options: {
    readonly bodyLimit?: number
    readonly requestTimeoutMillis?: number
    readonly metrics?: boolean
    readonly rateLimit?: RateLimiter.Limit
  } = {},
  /** Sees every request and a clone of its answer. */
  observe?: (request: Request, response: Response) => void
) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const web = await WebHandler.fromLayer(store, { requestLog: false, ...options, keys: [projectA, projectB] })
      const url = `http://web-handler-${inProcess.size}-${Math.random().toString(36).slice(2, 8)}.test`
      inProcess.set(
        url,
        observe === undefined ? web.handler : async (request) => {
          const response = await web.handler(request)
          observe(request, response.clone())
          return response
        }
      )
      globalThis.fetch = routedFetch
      return { url, web }
    }),
    ({ url, web }) =>
      Effect.promise(async () => {
        inProcess.delete(url)
        await web.dispose()
      })
  )
