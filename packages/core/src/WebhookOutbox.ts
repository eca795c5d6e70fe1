/**
 * The webhook outbox port (webhooks, §12): the messages queued for endpoints, their attempts and
 * their status. The dispatcher queues with its checkpoint (exactly once per endpoint and event);
 * senders in any number of processes claim due messages under a lease, so two never hold the same
 * message at once (docs/decisions/0041-webhook-work-shared-by-leases.md); for one contact and one
 * endpoint only the earliest pending message is ever due (docs/decisions/0040-webhook-order-per-contact.md).
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as StoreError from "./StoreError.js"
import type * as WebhookSchedule from "./WebhookSchedule.js"

/** Where a message stands: waiting (for its first attempt or a retry), delivered, or out of attempts. */
export type Status = "pending" | "delivered" | "failed"

/** The statuses, for checking a query parameter. */
export const statuses: ReadonlyArray<Status> = ["pending", "delivered", "failed"]

/** A message as the dispatcher queues it. */
export interface NewMessage {
  /** The `webhook-id` of every attempt. */
  readonly id: string
  readonly projectId: string
  readonly endpointId: string
  /** The contact whose event it carries: messages of one contact and endpoint go in queue order. */
  readonly contactId: string
  /** The log event it carries: one message per endpoint and event, however often it is queued. */
  readonly eventId: string
  /** The name the endpoint's patterns matched (`WebhookPayload.type`). */
  readonly type: string
  /** The body, as sent and signed on every attempt (`WebhookPayload.encode`). */
  readonly payload: string
  readonly createdAt: Date
}

/** A stored message. */
export interface Message extends NewMessage {
  /** Its place in the queue, increasing in log order. */
  readonly seq: number
  readonly status: Status
  readonly attempts: ReadonlyArray<WebhookSchedule.Attempt>
  /** When it is next due; `null` once delivered or failed. */
  readonly nextAttemptAt: Date | null
}

/** A message as it is stored when queued at `seq`: pending, no attempt yet, due at once. */
export const queued = (message: NewMessage, seq: number): Message => ({
  ...message,
  seq,
  status: "pending",
  attempts: [],
  nextAttemptAt: message.createdAt
})

/** The contact and endpoint a message is ordered within (decision 0040), as a key. */
export const orderKey = (message: NewMessage): string => `${message.endpointId}\0${message.contactId}`

/** What an attempt leaves a message as. */
export type Settlement =
  | { readonly _tag: "Delivered" }
  | { readonly _tag: "Failed" }
  | { readonly _tag: "RetryAt"; readonly at: Date }

/** A page of an endpoint's messages, newest first. */
export interface Page {
  readonly data: ReadonlyArray<Message>
  /** The `seq` to pass as `cursor` for the next page; absent on the last. */
  readonly cursor?: number | undefined
  readonly hasMore: boolean
}

/**
 * A lease `enqueue` takes for a sender of the dispatcher's own process, so that what it queues
 * goes out without a claim (docs/decisions/0051-webhook-messages-leased-as-queued.md).
 */
export interface Lease {
  readonly owner: string
  readonly until: Date
  /** At most this many messages, the first in queue order that qualify. */
  readonly limit: number
  /** None of these endpoints' messages (the sender has enough of them in flight). */
  readonly exclude?: ReadonlyArray<string> | undefined
}

/** What `enqueue` did. */
export interface Enqueued {
  /** How many messages were queued. */
  readonly queued: number
  /** The queued messages leased to the lease's owner, in queue order. */
  readonly leased: ReadonlyArray<Message>
}

/** How full the queue is, for the metrics. */
export interface Depth {
  readonly pending: number
  /** When the oldest pending message was queued. */
  readonly oldestPendingAt: Date | null
}

/** What a store implements for webhook messages. */
export class WebhookOutbox extends Context.Tag("@tracklog/core/WebhookOutbox")<WebhookOutbox, {
  /**
   * Queues messages, due at once. A message for an endpoint and event already queued is left out,
   * and so is one whose contact was erased (its event is no longer in the log), except
   * `contact.erased` itself. Runs inside the dispatcher's checkpoint commit (on PostgreSQL, its
   * transaction).
   *
   * With a `lease`, a queued message that `claim` would hand out at once is leased as it is
   * queued: its endpoint enabled and not excluded, and no earlier pending message of the same
   * contact and endpoint, in the store or earlier in `messages`; at most `lease.limit` of them,
   * the first in queue order. No other message is leased, so the order per contact holds.
   */
  readonly enqueue: (
    messages: ReadonlyArray<NewMessage>,
    lease?: Lease | undefined
  ) => Effect.Effect<Enqueued, StoreError.StoreUnavailable>
  /**
   * Leases up to `limit` messages due at `now` to `owner` for `lease`: pending, not leased by
   * another, their endpoint enabled, and no earlier pending message of the same contact and
   * endpoint; none of the endpoints in `exclude` (those this sender has enough of in flight).
   * Oldest due first.
   */
  readonly claim: (options: {
    readonly owner: string
    readonly now: Date
    readonly limit: number
    readonly lease: Duration.Duration
    readonly exclude?: ReadonlyArray<string> | undefined
  }) => Effect.Effect<ReadonlyArray<Message>, StoreError.StoreUnavailable>
  /**
   * Records an attempt and what follows it, and gives the lease up, if `owner` still holds it;
   * `false` when it does not (the attempt is then not recorded).
   */
  readonly settle: (
    messageId: string,
    owner: string,
    attempt: WebhookSchedule.Attempt,
    next: Settlement
  ) => Effect.Effect<boolean, StoreError.StoreUnavailable>
  /** An endpoint's messages, newest first, optionally of one status; `cursor` is a `Page.cursor`. */
  readonly list: (
    projectId: string,
    endpointId: string,
    options: { readonly status?: Status | undefined; readonly limit: number; readonly cursor?: number | undefined }
  ) => Effect.Effect<Page, StoreError.StoreUnavailable>
  /** Makes a message pending and due at `now` again, its attempts kept; none for an unknown one. */
  readonly retry: (
    projectId: string,
    endpointId: string,
    messageId: string,
    now: Date
  ) => Effect.Effect<Option.Option<Message>, StoreError.StoreUnavailable>
  readonly depth: Effect.Effect<Depth, StoreError.StoreUnavailable>
}>() {}
