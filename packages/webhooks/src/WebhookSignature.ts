/**
 * Standard Webhooks 1.0 signatures (webhooks, §12): the `webhook-id`, `webhook-timestamp` and
 * `webhook-signature` headers of one attempt: HMAC-SHA256 of `<id>.<timestamp>.<body>` under the
 * secret's key, base64, as the specification and its reference package (`standardwebhooks`) do.
 * The tests check every signature with that package, as a receiver would.
 *
 * Node's own HMAC, not the package's: its HMAC and base64 are plain JavaScript, 3.5 % of the
 * server's CPU at 1 400 deliveries a second (a CPU profile of `bench/webhooks`' load). Here and not
 * in core: core depends on nothing but `effect`, and its boundary test holds it to that.
 */
import * as WebhookSecret from "@tracklog/core/WebhookSecret"
import * as Crypto from "node:crypto"

// The key of a `whsec_<base64>` secret (the prefix is optional, as the package has it), decoded once.
const keys = new Map<string, Buffer>()
const keyOf = (secret: string): Buffer => {
  let key = keys.get(secret)
  if (key === undefined) {
    key = Buffer.from(
      secret.startsWith(WebhookSecret.Prefix) ? secret.slice(WebhookSecret.Prefix.length) : secret,
      "base64"
    )
    if (key.length === 0) throw new RangeError("a webhook secret needs a key")
    if (keys.size >= 1000) keys.clear()
    keys.set(secret, key)
  }
  return key
}

/** The Standard Webhooks headers of one attempt. */
export interface Headers {
  /** The message's id: the same on every attempt, so a receiver can drop duplicates. */
  readonly "webhook-id": string
  /** When this attempt was signed, in whole seconds since the epoch. */
  readonly "webhook-timestamp": string
  /** `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, one per secret, separated by spaces. */
  readonly "webhook-signature": string
}

/** One signature, `v1,<base64>`, of the body with one `whsec_…` secret. */
export const sign = (secret: string, messageId: string, timestamp: Date, body: string): string =>
  `v1,${
    Crypto.createHmac("sha256", keyOf(secret))
      .update(`${messageId}.${Math.floor(timestamp.getTime() / 1000)}.`)
      .update(body, "utf8")
      .digest("base64")
  }`

/** What an attempt is signed from. */
export interface Signing {
  readonly messageId: string
  /** The attempt's time: each retry is signed anew, so a receiver's tolerance window holds. */
  readonly timestamp: Date
  /** The body exactly as sent: the signature covers its UTF-8 bytes. */
  readonly body: string
  /**
   * The endpoint's signing secrets, current first (`WebhookEndpoint.signingSecrets`): during a
   * rotation both sign, so a receiver holding either one accepts the message.
   */
  readonly secrets: ReadonlyArray<string>
}

/** The headers of one attempt; a `RangeError` with no secret, since an unsigned message must not go out. */
export const headers = (signing: Signing): Headers => {
  if (signing.secrets.length === 0) throw new RangeError("a webhook message needs at least one secret to sign it")
  return {
    "webhook-id": signing.messageId,
    // Whole seconds, as the signature's own "<timestamp>" part is (the package floors it too).
    "webhook-timestamp": String(Math.floor(signing.timestamp.getTime() / 1000)),
    "webhook-signature": signing.secrets
      .map((secret) => sign(secret, signing.messageId, signing.timestamp, signing.body))
      .join(" ")
  }
}
