/**
 * The HTTP server: a lean `node:http` transport for the request pipeline (`Pipeline`), which
 * serves exactly the endpoints of `Api`. It only converts: the request line, headers and body
 * bytes in; status, headers and body bytes, or an event stream with backpressure, out. Its own
 * concerns: answers written per loop turn (decision 0008), shutdown, and the envelope for what
 * Node refuses before any request exists (`clientError`).
 *
 * Why not `HttpApiBuilder`: it costs ~5× the per-request time of this adapter on the track route
 * (docs/decisions/0003-lean-http-adapter.md); `Api` stays the one definition of the API.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import { randomUUID } from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import type { Duplex } from "node:stream"
import * as Answers from "./internal/answers.js"
import * as ApiError from "./ApiError.js"
import * as Pipeline from "./Pipeline.js"

/** How the server listens, and what its pipeline does. */
export interface Options extends Pipeline.Options {
  readonly port: number
  readonly host?: string | undefined
  /** How long shutdown waits for in-flight requests before closing their connections. */
  readonly shutdownTimeoutMillis?: number | undefined
  /**
   * How long an event stream waits for a client that does not read before it closes the
   * connection (default 30 s): the server never buffers without bound for it.
   */
  readonly streamStallMillis?: number | undefined
}

/** A running server. */
export interface Running {
  readonly server: Http.Server
  readonly port: number
  readonly url: string
  /** Event streams open now: each one a fiber that ends when its client goes away. */
  readonly openStreams?: () => number
}

// What a server's exchanges share.
interface Transport {
  readonly answers: { readonly write: (exchange: NodeExchange) => void }
  readonly runtime: Runtime.Runtime<never>
  /** Open event streams, ended at shutdown: they would otherwise hold it for its whole timeout. */
  readonly streams: Set<Fiber.RuntimeFiber<void, unknown>>
  readonly streamStall: number
  closing: boolean
}

/** One request on `node:http`: what the pipeline reads of it, and how its answer is written. */
class NodeExchange implements Pipeline.Exchange {
  readonly method: string
  readonly url: string
  readonly req: Http.IncomingMessage
  readonly res: Http.ServerResponse
  readonly transport: Transport
  answer: Pipeline.Answer | undefined = undefined

  constructor(req: Http.IncomingMessage, res: Http.ServerResponse, transport: Transport) {
    this.method = req.method ?? "GET"
    this.url = req.url ?? "/"
    this.req = req
    this.res = res
    this.transport = transport
  }

  header(name: string): string | undefined {
    const value = this.req.headers[name]
    return typeof value === "string" || value === undefined ? value : value.join(", ")
  }

  // Not `headersDistinct` for every request: that copies every header a second time; it is read
  // only for a header the request has.
  headerValues(name: string): ReadonlyArray<string> | undefined {
    return this.req.headers[name] === undefined ? undefined : this.req.headersDistinct[name]
  }

  readBody(limit: number, done: (body: Pipeline.Body) => void): void {
    readBody(this.req, limit, done)
  }

  skipBody(): void {
    this.req.resume()
  }

  respond(answer: Pipeline.Answer): void {
    if (answer.stream !== undefined) return serveStream(this, answer, answer.stream)
    this.answer = answer
    this.transport.answers.write(this)
  }

  /** Writes the answer: at the end of the loop turn, with the others of the turn (decision 0008). */
  write(): void {
    const answer = this.answer!
    const headers: Http.OutgoingHttpHeaders = answer.headers
    // A HEAD is answered as its GET: Node sends these headers, this length too, and drops the
    // body (RFC 9110 §9.3.2).
    if (answer.status !== 204) headers["content-length"] = Buffer.byteLength(answer.body)
    if (this.transport.closing) headers["connection"] = "close"
    this.res.writeHead(answer.status, headers)
    this.res.end(answer.body)
    answer.written()
  }
}

// A Server-Sent Events answer: each piece written as it comes, the next one pulled only once the
// socket has taken the last (its buffer bounded by the socket's high-water mark); a client that
// stops reading is dropped after `streamStall`, one that goes away stops it.
const serveStream = (exchange: NodeExchange, answer: Pipeline.Answer, stream: Stream.Stream<string>) => {
  const { res, transport } = exchange
  res.writeHead(answer.status, answer.headers)
  answer.written()
  // HEAD: the stream's headers, and the end; a stream never opened is never left open.
  if (exchange.method === "HEAD") return void res.end()
  const write = (text: string) =>
    Effect.async<void, "stalled">((resume) => {
      if (res.write(text)) return resume(Effect.void)
      const timer = setTimeout(() => {
        res.off("drain", drained)
        resume(Effect.fail("stalled"))
      }, transport.streamStall)
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
  const fiber = Runtime.runFork(transport.runtime)(Stream.runForEach(stream, write))
  transport.streams.add(fiber)
  res.once("close", () => fiber.unsafeInterruptAsFork(fiber.id()))
  fiber.addObserver((exit) => {
    transport.streams.delete(fiber)
    if (res.destroyed) return
    // A stalled client's unread buffer is dropped with its socket; it resumes from its last id.
    // At shutdown the reply is ended as a reply, not cut: the client sees a clean end and
    // reconnects (to another process) with its last id.
    if (Exit.isFailure(exit) && !(transport.closing && Exit.isInterrupted(exit))) res.destroy()
    else res.end()
  })
}

/** Starts the server for the scope; closing the scope drains it gracefully. */
export const make = (
  options: Options
): Effect.Effect<Running, never, Pipeline.Services> =>
  Effect.gen(function*() {
    const pipeline = yield* Pipeline.make(options)
    const { dispatch, log } = pipeline
    const transport: Transport = {
      answers: Answers.make<NodeExchange>(),
      runtime: pipeline.runtime,
      streams: new Set(),
      streamStall: options.streamStallMillis ?? 30_000,
      closing: false
    }
    const { streams } = transport
    let inFlight = 0
    // One function for every request, not a closure per request.
    const closed = () => {
      inFlight--
    }

    const listener = (req: Http.IncomingMessage, res: Http.ServerResponse) => {
      inFlight++
      res.once("close", closed)
      dispatch(new NodeExchange(req, res, transport))
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
          `content-type: ${Pipeline.Json}\r\ncontent-length: ${
            Buffer.byteLength(body)
          }\r\nx-request-id: ${requestId}\r\n` +
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
          transport.closing = true
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

// Reads up to `limit` bytes. Past it the answer is 413 at once; the rest of the upload is
// drained (not reset), so the client can read the answer, unless it goes on far past the limit.
const readBody = (req: Http.IncomingMessage, limit: number, done: (result: Pipeline.Body) => void) => {
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
