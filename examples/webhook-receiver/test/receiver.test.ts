/**
 * The receiver against a real tracklog (the web handler on the memory store, its webhook sender
 * running): every tracked event it subscribed to arrives verified, once; a forged delivery is refused.
 */
import * as WebHandler from "@tracklog/http/WebHandler"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as Duration from "effect/Duration"
import { Webhook } from "standardwebhooks"
import { afterAll, expect, it } from "vitest"
import * as Receiver from "../src/Receiver.js"

const keys = { publicKey: "pk_receiver", secretKey: "sk_receiver" }
const tracklog = await WebHandler.fromLayer(StoreMemory.layer, {
  keys: [keys],
  requestLog: false,
  // The receiver listens on 127.0.0.1: allowed here as TRACKLOG_WEBHOOK_ALLOW_PRIVATE=on allows it.
  webhooks: { allowPrivate: true, pollInterval: Duration.millis(20) }
})
const call = async (path: string, body: unknown, key = keys.secretKey) => {
  const response = await tracklog.handler(
    new Request(`http://tracklog.test${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body)
    })
  )
  return { status: response.status, body: await response.json() as any }
}
const closers: Array<() => Promise<void>> = []
afterAll(async () => {
  await Promise.all(closers.map((close) => close()))
  await tracklog.dispose()
})

it("receives verified deliveries of the events it subscribed to, and refuses a forged one", async () => {
  const received: Array<{ id: string; type: string; data: Record<string, unknown> }> = []
  // The secret comes with the endpoint, and the endpoint needs the receiver's URL: a first receiver
  // learns its port, then a second one is started on it with the secret.
  const probe = await Receiver.start({ secret: "whsec_" + "A".repeat(44), onDelivery: () => {} })
  const port = Number(new URL(probe.url).port)
  await probe.close()
  const made = await call("/webhooks", {
    url: `http://127.0.0.1:${port}/hooks`,
    events: ["purchase", "contact.created"]
  })
  expect(made.status).toBe(201)
  const receiver = await Receiver.start({
    secret: made.body.secret,
    port,
    onDelivery: (delivery, id) => {
      received.push({ id, type: delivery.type, data: delivery.data })
    }
  })
  closers.push(receiver.close)

  await call("/v1/track", { email: "buyer@example.com", event: "purchase", data: { amount: 9 } }, keys.publicKey)
  await call("/v1/track", { email: "buyer@example.com", event: "viewed" }, keys.publicKey)
  const deadline = Date.now() + 10_000
  while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  expect(received.map((r) => r.type)).toEqual(["contact.created", "purchase"])
  expect(received[1]!.data).toMatchObject({ email: "buyer@example.com", name: "purchase", data: { amount: 9 } })

  const forged = JSON.stringify({ type: "purchase", timestamp: new Date().toISOString(), data: {} })
  const headers = {
    "webhook-id": "msg_forged",
    "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
    "webhook-signature": new Webhook("whsec_" + "B".repeat(44)).sign("msg_forged", new Date(), forged)
  }
  const answer = await fetch(`${receiver.url}/hooks`, { method: "POST", headers, body: forged })
  expect(answer.status).toBe(401)
  expect(received).toHaveLength(2)
})
