/**
 * A webhook receiver for tracklog (behaviour §12): a plain `node:http` server that verifies each
 * delivery with `standardwebhooks` before it trusts a byte of it, drops a `webhook-id` it has
 * already handled (deliveries are at least once), and answers 204 — or 401 to a forgery, which
 * tracklog retries and the forger gains nothing by.
 */
import * as Http from "node:http"
import { Webhook, WebhookVerificationError } from "standardwebhooks"

/** What tracklog sends: the event's name, its time, and its data as on the event stream. */
export interface Delivery {
  readonly type: string
  readonly timestamp: string
  readonly data: Record<string, unknown>
}

/** Starts a receiver on `port` (0: any free one) verifying with `secret` (`whsec_…`). */
export const start = (options: {
  readonly secret: string
  readonly port?: number
  readonly onDelivery: (delivery: Delivery, id: string) => void | Promise<void>
}): Promise<{ readonly url: string; readonly close: () => Promise<void> }> => {
  const webhook = new Webhook(options.secret)
  // A real service keeps these where it keeps the work they caused (a table, with a unique key).
  const seen = new Set<string>()
  const server = Http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", async () => {
      let delivery: Delivery
      try {
        // The raw body, exactly as sent: the signature covers its bytes.
        delivery = webhook.verify(
          Buffer.concat(chunks).toString("utf8"),
          req.headers as Record<string, string>
        ) as Delivery
      } catch (error) {
        res.writeHead(error instanceof WebhookVerificationError ? 401 : 400).end()
        return
      }
      const id = String(req.headers["webhook-id"])
      if (!seen.has(id)) {
        // Any failure here answers 500: tracklog tries again later, with the same webhook-id.
        try {
          await options.onDelivery(delivery, id)
        } catch {
          res.writeHead(500).end()
          return
        }
        seen.add(id)
      }
      res.writeHead(204).end()
    })
  })
  return new Promise((resolve) => {
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () => new Promise<void>((done) => server.close(() => done()))
      })
    })
  })
}
