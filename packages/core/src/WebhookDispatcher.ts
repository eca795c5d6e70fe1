/**
 * The webhook dispatcher (webhooks, §12): a durable processor on the log, `tracklog.webhooks`, that
 * turns each event matching an enabled endpoint's patterns into one message per endpoint, queued
 * in the commit of its checkpoint, so each is queued exactly once (on PostgreSQL in the same
 * transaction; the outbox drops a repeat in any case). With a sender in the same process
 * (`Handoff`), what it can send at once is leased to it as it is queued and handed over after
 * the commit: no claim (docs/decisions/0051-webhook-messages-leased-as-queued.md).
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as EventStore from "./EventStore.js"
import * as Ids from "./Ids.js"
import type * as Processor from "./Processor.js"
import * as PublicEvent from "./PublicEvent.js"
import type * as StoreError from "./StoreError.js"
import type * as WebhookEndpoint from "./WebhookEndpoint.js"
import * as WebhookEndpoints from "./WebhookEndpoints.js"
import * as WebhookOutbox from "./WebhookOutbox.js"
import * as WebhookPattern from "./WebhookPattern.js"
import * as WebhookPayload from "./WebhookPayload.js"

/** The processor's name: its checkpoint and lease are kept under it. */
export const Name = "tracklog.webhooks"

// Contacts whose email this process knows, as of the last event handled; cleared when full.
const MaxKnownEmails = 50_000

/** A sender in the dispatcher's process, which takes what is leased to it as it is queued. */
export class Handoff extends Context.Tag("@tracklog/core/WebhookDispatcher/Handoff")<Handoff, {
  /** The lease to queue under at `now`; none when the sender has no room. */
  readonly lease: (now: Date) => WebhookOutbox.Lease | undefined
  /**
   * Called once the messages are queued for good: those leased to the sender, and those queued
   * without a lease (each waits for a claim, most behind an earlier message of its contact).
   */
  readonly take: (
    leased: ReadonlyArray<WebhookOutbox.Message>,
    unleased: ReadonlyArray<WebhookOutbox.NewMessage>,
    /**
     * The enabled endpoints as the batch read them, after its events were written: the sender
     * signs and posts with these, so a secret rotated or a URL changed before an event is used
     * for it.
     */
    endpoints: ReadonlyArray<WebhookEndpoint.WebhookEndpoint>
  ) => Effect.Effect<void>
}>() {}

/** The message ids: `msg_` and a UUIDv7, unique per endpoint and event. */
export const messageId = (uuid: string): string => `msg_${uuid.replaceAll("-", "")}`

/**
 * The endpoints that receive an event: enabled, of the event's project, one of their patterns
 * matching its name.
 */
export const receivers = (
  endpoints: ReadonlyArray<WebhookEndpoint.WebhookEndpoint>,
  event: EventStore.RecordedEvent
): ReadonlyArray<WebhookEndpoint.WebhookEndpoint> => {
  const name = WebhookPattern.nameOf(event.event)
  return endpoints.filter((e) => e.enabled && e.projectId === event.projectId && WebhookPattern.matches(e.events, name))
}

/** The processor's configuration: pass it to `Processor.run`. */
export const make: Effect.Effect<
  Processor.Config<StoreError.StoreUnavailable, never>,
  never,
  WebhookEndpoints.WebhookEndpoints | WebhookOutbox.WebhookOutbox | EventStore.EventStore | Ids.Ids
> = Effect.gen(function*() {
  const endpoints = yield* WebhookEndpoints.WebhookEndpoints
  const outbox = yield* WebhookOutbox.WebhookOutbox
  const eventStore = yield* EventStore.EventStore
  const ids = yield* Ids.Ids
  const handoff = Option.getOrUndefined(yield* Effect.serviceOption(Handoff))
  // What the last batch queued, for the handoff once its commit is through.
  let staged: Parameters<Handoff["Type"]["take"]> | undefined
  // The email of each contact after the last event handled: `PublicEvent.of` wants it as of each event.
  const emails = new Map<string, string | undefined>()

  // The contact's email just before `event`, from the cache or else from its stream.
  const emailBefore = (event: EventStore.RecordedEvent) =>
    emails.has(event.streamId) || event.version === 1 ? Effect.succeed(emails.get(event.streamId)) : Effect.map(
      eventStore.readStream(event.streamId),
      (stream) => {
        let email: string | undefined
        for (const earlier of stream) {
          if (earlier.version >= event.version) break
          email = PublicEvent.emailAfter(earlier.event, email)
        }
        return email
      }
    )

  const handle = (events: ReadonlyArray<EventStore.RecordedEvent>) =>
    Effect.gen(function*() {
      staged = undefined
      const enabled = yield* endpoints.enabled
      if (enabled.length === 0) {
        emails.clear()
        return
      }
      const now = new Date(yield* Clock.currentTimeMillis)
      const messages: Array<WebhookOutbox.NewMessage> = []
      for (const event of events) {
        const to = receivers(enabled, event)
        const known = emails.has(event.streamId)
        if (to.length === 0 && !known) continue
        const before = yield* emailBefore(event)
        if (emails.size >= MaxKnownEmails) emails.clear()
        emails.set(event.streamId, PublicEvent.emailAfter(event.event, before))
        if (to.length === 0) continue
        const payload = WebhookPayload.of(event, before)
        // An event of an erased contact that needs its email: nothing of it is sent.
        if (payload === undefined) continue
        const body = WebhookPayload.encode(payload)
        for (const endpoint of to) {
          messages.push({
            id: messageId(ids.make(now.getTime())),
            projectId: event.projectId,
            endpointId: endpoint.id,
            contactId: event.event._tag === "ContactErased" ? event.event.contactId : event.streamId,
            eventId: event.id,
            type: payload.type,
            payload: body,
            createdAt: now
          })
        }
      }
      if (messages.length === 0) return
      const { leased } = yield* outbox.enqueue(messages, handoff?.lease(now))
      if (handoff === undefined) return
      const taken = new Set(leased.map((m) => m.id))
      staged = [leased, messages.filter((m) => !taken.has(m.id)), enabled]
    }).pipe(
      // A batch handled again (its commit failed) must not start from emails it moved on.
      Effect.onError(() => Effect.sync(() => emails.clear()))
    )

  const committed = Effect.suspend(() => {
    const handed = staged
    staged = undefined
    return handed === undefined || handoff === undefined ? Effect.void : handoff.take(...handed)
  })

  // No endpoint enabled: nothing to queue, so the processor skips ahead rather than read the log
  // (its pages cost a server with no endpoint ~15 % of its track rate). The emails it passes over
  // are not followed: forgotten.
  const wanted = Effect.map(endpoints.enabled, (enabled) => {
    if (enabled.length === 0) emails.clear()
    return enabled.length > 0
  }).pipe(Effect.orElseSucceed(() => true))

  return { name: Name, handle, committed, wanted }
})
