/**
 * Standard Webhooks 1.0 signatures (webhooks, §12): the `webhook-id`, `webhook-timestamp` and
 * `webhook-signature` headers of one attempt, signed by the `standardwebhooks` package — the
 * reference implementation receivers verify with, rather than an HMAC of our own.
 *
 * Here and not in core, though signing is pure and the package is plain JavaScript (its HMAC is
 * `fast-sha256`, its base64 `@stablelib/base64`, no runtime built-ins): core depends on nothing
 * but `effect`, and its boundary test holds it to that.
 */
import { Webhook } from "standardwebhooks"

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
  new Webhook(secret).sign(messageId, timestamp, body)

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
