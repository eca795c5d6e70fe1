/**
 * The body of a webhook delivery (webhooks, §12): `{"type", "timestamp", "data"}`, where `type` is
 * the name the endpoint's patterns matched (`WebhookPattern.nameOf`) and `data` the event's data on
 * the stream (behaviour §5.1, `PublicEvent`). Made once, when the message is queued, and sent as the
 * same bytes on every attempt: the signature covers them.
 */
import * as PublicEvent from "./PublicEvent.js"
import * as WebhookPattern from "./WebhookPattern.js"

/** A delivery's body. */
export interface WebhookPayload {
  /** A tracked event's own name (`purchase`, `segment.vip.entry`), or a `contact.*` type. */
  readonly type: string
  /** The event's time, ISO-8601: the same instant as `data.timestamp`. */
  readonly timestamp: string
  readonly data: PublicEvent.PublicEvent["data"]
}

/**
 * The payload of a recorded event, given its contact's email as of that event; `undefined` when
 * the event needs an email and none is known (its contact was erased: nothing of it is sent).
 */
export const of = (recorded: PublicEvent.Source, email: string | undefined): WebhookPayload | undefined => {
  const shown = PublicEvent.of(recorded, email)
  if (shown === undefined) return undefined
  return { type: WebhookPattern.nameOf(recorded.event), timestamp: shown.data.timestamp, data: shown.data }
}

/** The body's text, as stored with the message and signed: one line of JSON, keys in this order. */
export const encode = (payload: WebhookPayload): string => JSON.stringify(payload)
