import { describe, expect, it } from "@effect/vitest"
import * as WebhookSecret from "@tracklog/core/WebhookSecret"
import * as WebhookSignature from "@tracklog/webhooks/WebhookSignature"
import { createHmac } from "node:crypto"
import { Webhook, WebhookVerificationError } from "standardwebhooks"

const secret = WebhookSecret.fromBytes(new Uint8Array(32).map((_, i) => i))
const other = WebhookSecret.fromBytes(new Uint8Array(32).map((_, i) => 255 - i))
const messageId = "0190a000-0000-7000-8000-0000000000f1"
const body = JSON.stringify({
  type: "purchase",
  timestamp: "2026-01-02T03:04:05.678Z",
  data: { id: "e1", contact: "c1", email: "ada@example.com", name: "purchase", data: { note: "naïve ☃" } }
})
// The receiver's library refuses timestamps more than 5 minutes from its clock: sign at now.
const signed = (secrets: ReadonlyArray<string>, at = new Date()) =>
  WebhookSignature.headers({ messageId, timestamp: at, body, secrets })
const verify = (key: string, payload: string, headers: WebhookSignature.Headers) =>
  new Webhook(key).verify(payload, { ...headers })

describe("WebhookSignature: Standard Webhooks 1.0 (webhooks §12)", () => {
  it("a receiver holding the secret verifies the message and reads the body", () => {
    expect(verify(secret, body, signed([secret]))).toEqual(JSON.parse(body))
  })

  it("a tampered body is rejected", () => {
    const headers = signed([secret])
    expect(() => verify(secret, body.replace("purchase", "purchasE"), headers)).toThrow(WebhookVerificationError)
    expect(() => verify(secret, body + " ", headers)).toThrow(WebhookVerificationError)
  })

  it("each signature is the reference package's, byte for byte, bodies of any text included", () => {
    const at = new Date("2026-03-04T05:06:07.890Z")
    for (const text of [body, "", "ümlaut ☃ 🎉", "x".repeat(70_000)]) {
      for (const key of [secret, other, secret.slice("whsec_".length)]) {
        expect(WebhookSignature.sign(key, messageId, at, text)).toBe(new Webhook(key).sign(messageId, at, text))
      }
    }
  })

  it("a wrong secret is rejected", () => {
    expect(() => verify(other, body, signed([secret]))).toThrow(WebhookVerificationError)
  })

  it("the id and the timestamp are signed: changing either is rejected", () => {
    const headers = signed([secret])
    expect(() => verify(secret, body, { ...headers, "webhook-id": messageId + "x" })).toThrow(
      WebhookVerificationError
    )
    const later = String(Number(headers["webhook-timestamp"]) + 1)
    expect(() => verify(secret, body, { ...headers, "webhook-timestamp": later })).toThrow(WebhookVerificationError)
  })

  it("during a rotation both secrets sign: a receiver holding either verifies, a third does not", () => {
    const headers = signed([other, secret])
    expect(headers["webhook-signature"].split(" ")).toHaveLength(2)
    expect(verify(secret, body, headers)).toEqual(JSON.parse(body))
    expect(verify(other, body, headers)).toEqual(JSON.parse(body))
    const third = WebhookSecret.fromBytes(new Uint8Array(24).fill(9))
    expect(() => verify(third, body, headers)).toThrow(WebhookVerificationError)
  })

  it("the headers are the wire format: the id, whole seconds, v1,<base64 HMAC-SHA256 of id.timestamp.body>", () => {
    const at = new Date("2026-01-02T03:04:05.678Z")
    const headers = signed([secret], at)
    expect(headers["webhook-id"]).toBe(messageId)
    expect(headers["webhook-timestamp"]).toBe("1767323045")
    // Computed apart from the package, as a receiver without it would.
    const key = Buffer.from(secret.slice("whsec_".length), "base64")
    const mac = createHmac("sha256", key).update(`${messageId}.1767323045.${body}`, "utf8").digest("base64")
    expect(headers["webhook-signature"]).toBe(`v1,${mac}`)
  })

  it("each attempt is signed anew with its own time; the id stays", () => {
    const first = signed([secret], new Date("2026-01-02T03:04:05.000Z"))
    const retry = signed([secret], new Date("2026-01-02T03:04:10.000Z"))
    expect(retry["webhook-id"]).toBe(first["webhook-id"])
    expect(retry["webhook-signature"]).not.toBe(first["webhook-signature"])
  })

  it("no secret, no message", () => {
    expect(() => signed([])).toThrow(RangeError)
  })
})
