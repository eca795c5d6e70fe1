/**
 * A webhook receiver for the tests: a `node:http` server on 127.0.0.1 that records every request
 * (headers, body, path) and answers with what the test's `respond` says (200 by default).
 */
import * as Http from "node:http"
import { Webhook } from "standardwebhooks"

export interface Received {
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: string
  readonly at: number
}

export interface Receiver {
  readonly url: string
  readonly received: Array<Received>
  /** The answer to a request; a number is its status, `{status, headers}` for a redirect. */
  respond: (request: Received, index: number) =>
    | number
    | { readonly status: number; readonly headers?: Record<string, string>; readonly delayMs?: number }
  readonly close: () => Promise<void>
}

/** Starts a receiver. */
export const start = (): Promise<Receiver> =>
  new Promise((resolve) => {
    const received: Array<Received> = []
    const receiver: Receiver = {
      url: "",
      received,
      respond: () => 200,
      close: () =>
        new Promise<void>((done) => {
          server.closeAllConnections()
          server.close(() => done())
        })
    }
    const server = Http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const headers: Record<string, string> = {}
        for (const [name, value] of Object.entries(req.headers)) {
          if (typeof value === "string") headers[name] = value
        }
        const request = { path: req.url ?? "", headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() }
        received.push(request)
        const answer = receiver.respond(request, received.length - 1)
        const { delayMs = 0, headers: out = {}, status } = typeof answer === "number" ? { status: answer } : answer
        setTimeout(() => {
          res.writeHead(status, out)
          res.end()
        }, delayMs)
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as { port: number }
      ;(receiver as { url: string }).url = `http://127.0.0.1:${address.port}`
      resolve(receiver)
    })
  })

/** Verifies a delivery as a receiver would, with `standardwebhooks`: the payload, or it throws. */
export const verify = (secret: string, request: Pick<Received, "body" | "headers">): unknown =>
  new Webhook(secret).verify(request.body, request.headers)

/** Waits until `check` holds, or fails after `ms`. */
export const until = async (check: () => boolean, ms = 10_000, what = "condition"): Promise<void> => {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
