/**
 * The webhook sender (webhooks, §12): claims due messages from the outbox under a lease, signs and
 * sends each, records the attempt and what follows it (delivered, a retry on the schedule, failed),
 * and disables an endpoint that answers `410 Gone`. Deliveries run concurrently across endpoints
 * and contacts, bounded per endpoint, so a slow receiver holds only its own share; for one contact
 * and endpoint the outbox hands out only the earliest pending message (decisions 0040, 0041).
 * The dispatcher of the same process hands over what it leased to this sender as it queued it
 * (`handoff`), so most messages go out without a claim (decision 0051).
 */
import * as Ids from "@tracklog/core/Ids"
import * as WebhookDispatcher from "@tracklog/core/WebhookDispatcher"
import * as WebhookEndpoint from "@tracklog/core/WebhookEndpoint"
import * as WebhookEndpoints from "@tracklog/core/WebhookEndpoints"
import * as WebhookOutbox from "@tracklog/core/WebhookOutbox"
import * as WebhookSchedule from "@tracklog/core/WebhookSchedule"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as WebhookDelivery from "./WebhookDelivery.js"
import * as WebhookMetrics from "./WebhookMetrics.js"
import * as WebhookSignature from "./WebhookSignature.js"

/** How the sender works. */
export interface Options extends WebhookDelivery.Options {
  /** The waits between attempts (`WebhookSchedule.DefaultDelays`). */
  readonly delays: WebhookSchedule.Delays
  /** How often the outbox is asked for due work while there is none (default 200 ms). */
  readonly pollInterval?: Duration.Duration | undefined
  /** Attempts in flight at once in this process (default 512). */
  readonly concurrency?: number | undefined
  /** Attempts in flight at once to one endpoint in this process (default 128). */
  readonly perEndpoint?: number | undefined
  /** This process's id as a lease owner (default: a new UUID). */
  readonly owner?: string | undefined
}

// Longer than an attempt can take (the timeout), so a lease never runs out under a live attempt.
const leaseFor = (timeout: Duration.Duration) => Duration.sum(timeout, Duration.seconds(45))

// Messages per claim: bounded, so no endpoint takes much more than its share in one go.
const ClaimSize = 64

// How long an endpoint read for a delivery is used for the next ones: the claim itself skips
// disabled and deleted endpoints, so a stale read costs at most one attempt. What the dispatcher
// hands over comes with the endpoints as its batch read them, which replace older reads: an event
// tracked after a rotation or a new URL is sent with them.
const EndpointTtlMillis = 1000

/** What comes after an attempt that ended at `at` with this result, the message having had `before` attempts. */
export const next = (
  result: WebhookSchedule.Result,
  before: number,
  at: Date,
  delays: WebhookSchedule.Delays
): { readonly settlement: WebhookOutbox.Settlement; readonly outcome: WebhookMetrics.Outcome } => {
  const meaning = WebhookSchedule.classify(result)
  if (meaning === "delivered") return { settlement: { _tag: "Delivered" }, outcome: "delivered" }
  if (meaning === "gone") return { settlement: { _tag: "Failed" }, outcome: "gone" }
  const retryAt = WebhookSchedule.nextAttemptAt(before + 1, at, delays)
  return retryAt === undefined
    ? { settlement: { _tag: "Failed" }, outcome: "failed" }
    : { settlement: { _tag: "RetryAt", at: retryAt }, outcome: "retry" }
}

/** A sender: `run` sends until interrupted; `handoff` is what its process's dispatcher hands to it. */
export interface Sender {
  readonly handoff: WebhookDispatcher.Handoff["Type"]
  readonly run: Effect.Effect<never>
}

// Contacts and endpoints with a message queued without a lease, for the handoff: when a message of
// theirs ends, a claim looks for the next one at once instead of at the next poll.
const MaxWaiting = 10_000

/** What a sender runs on. */
export type Services = WebhookEndpoints.WebhookEndpoints | WebhookOutbox.WebhookOutbox | Ids.Ids | Scope.Scope

/** Makes a sender for the scope; attempts in flight are interrupted with it. */
export const make = (
  options: Options
): Effect.Effect<Sender, never, Services> =>
  Effect.gen(function*() {
    const fibers = yield* FiberSet.make()
    const outbox = yield* WebhookOutbox.WebhookOutbox
    const endpoints = yield* WebhookEndpoints.WebhookEndpoints
    const ids = yield* Ids.Ids
    const owner = options.owner ?? `sender-${ids.make(yield* Clock.currentTimeMillis)}`
    const poll = options.pollInterval ?? Duration.millis(200)
    const capacity = options.concurrency ?? 512
    const perEndpoint = options.perEndpoint ?? 128
    const lease = leaseFor(options.timeout)
    const inFlight = new Map<string, number>()
    let total = 0
    const waiting = new Set<string>()
    // Offered when an attempt ends: its contact's next message may be due now, and there is room.
    const wake = yield* Queue.sliding<void>(1)
    const known = new Map<
      string,
      { readonly endpoint: Option.Option<WebhookEndpoint.WebhookEndpoint>; until: number }
    >()
    const remember = (id: string, endpoint: Option.Option<WebhookEndpoint.WebhookEndpoint>, now: number) => {
      if (known.size > 10_000) known.clear()
      known.set(id, { endpoint, until: now + EndpointTtlMillis })
    }
    // An endpoint as someone read it at `now`, unless what is known is a later version.
    const learn = (endpoint: WebhookEndpoint.WebhookEndpoint, now: number) => {
      const cached = known.get(endpoint.id)
      if (cached !== undefined && Option.isSome(cached.endpoint) && cached.endpoint.value.version > endpoint.version) {
        return
      }
      remember(endpoint.id, Option.some(endpoint), now)
    }
    const endpointOf = (message: WebhookOutbox.Message, now: number) => {
      const cached = known.get(message.endpointId)
      if (cached !== undefined && cached.until > now) return Effect.succeed(cached.endpoint)
      return Effect.tap(
        endpoints.get(message.projectId, message.endpointId),
        (endpoint) => Effect.sync(() => remember(message.endpointId, endpoint, now))
      )
    }
    const full = () => [...inFlight].filter(([, n]) => n >= perEndpoint).map(([id]) => id)

    // A claimed message's end may free the next of its contact, which only a claim finds; so may a
    // handed-over one's, when a later message of its contact was queued without a lease.
    const deliver = (message: WebhookOutbox.Message, claimed: boolean) =>
      Effect.gen(function*() {
        const found = yield* endpointOf(message, yield* Clock.currentTimeMillis)
        // Deleted (its messages go with it) or disabled since the claim: the lease runs out, and
        // the message waits until the endpoint is enabled again.
        if (Option.isNone(found) || !found.value.enabled) return
        const endpoint = found.value
        const started = yield* Clock.currentTimeMillis
        const at = new Date(started)
        const headers = WebhookSignature.headers({
          messageId: message.id,
          timestamp: at,
          body: message.payload,
          secrets: WebhookEndpoint.signingSecrets(endpoint, at)
        })
        const t0 = performance.now()
        const result = yield* WebhookDelivery.send(
          { url: endpoint.url, headers: { ...headers }, body: message.payload },
          options
        )
        const millis = performance.now() - t0
        // The delay to the next attempt counts from this one's end: after a 15 s timeout, a retry
        // "after 5 s" is 5 s later, not at once.
        const ended = new Date(Math.max(started, yield* Clock.currentTimeMillis))
        const { outcome, settlement } = next(result, message.attempts.length, ended, options.delays)
        const attempt = WebhookSchedule.attempt(result, at, Math.round(millis))
        yield* outbox.settle(message.id, owner, attempt, settlement)
        WebhookMetrics.attempted(outcome, millis / 1000)
        if (outcome === "gone") {
          known.delete(endpoint.id)
          yield* WebhookEndpoints.execute(endpoint.projectId, { _tag: "DisableEndpoint", endpointId: endpoint.id })
        }
      }).pipe(
        Effect.catchAll((error) => Effect.logWarning(`webhook message ${message.id}: ${error._tag}`)),
        Effect.provideService(WebhookEndpoints.WebhookEndpoints, endpoints),
        Effect.provideService(Ids.Ids, ids),
        Effect.ensuring(Effect.sync(() => {
          total--
          const n = (inFlight.get(message.endpointId) ?? 1) - 1
          if (n === 0) inFlight.delete(message.endpointId)
          else inFlight.set(message.endpointId, n)
        })),
        Effect.ensuring(
          Effect.suspend(() =>
            waiting.delete(WebhookOutbox.orderKey(message)) || claimed ? Queue.offer(wake, undefined) : Effect.void
          )
        )
      )

    const start = (message: WebhookOutbox.Message, claimed: boolean) =>
      Effect.suspend(() => {
        total++
        inFlight.set(message.endpointId, (inFlight.get(message.endpointId) ?? 0) + 1)
        return FiberSet.run(fibers, deliver(message, claimed))
      })

    const handoff = WebhookDispatcher.Handoff.of({
      // As much as a claim would take now: room left, and none of the endpoints with enough in flight.
      lease: (now) => {
        const room = capacity - total
        return room <= 0 ? undefined : {
          owner,
          until: new Date(now.getTime() + Duration.toMillis(lease)),
          limit: room,
          exclude: full()
        }
      },
      take: (leased, unleased, enabled) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          for (const endpoint of enabled) learn(endpoint, now)
          for (const message of leased) yield* start(message, false)
          if (unleased.length === 0) return
          if (waiting.size > MaxWaiting) waiting.clear()
          for (const message of unleased) waiting.add(WebhookOutbox.orderKey(message))
          // Some may be due now (their contact's earlier message ended before they were queued).
          yield* Queue.offer(wake, undefined)
        })
    })

    // One round: claim what fits, start each delivery on its own fiber; true when work was found.
    const round = Effect.gen(function*() {
      const room = Math.min(ClaimSize, capacity - total)
      if (room <= 0) return false
      const now = new Date(yield* Clock.currentTimeMillis)
      const claimed = yield* outbox.claim({ owner, now, limit: room, lease, exclude: full() })
      for (const message of claimed) yield* start(message, true)
      // A full claim may have left more behind: claim again at once. Otherwise wait for the poll,
      // or for an attempt to end (a moment later, so that ends close together make one claim).
      return claimed.length >= room
    }).pipe(Effect.catchAll(() => Effect.succeed(false)))

    const settled = Effect.zipRight(Queue.take(wake), Effect.sleep(Duration.millis(10)))
    const loop: Effect.Effect<never> = Effect.flatMap(
      round,
      (more) =>
        Effect.zipRight(
          more ? Effect.yieldNow() : Effect.race(Effect.sleep(poll), settled),
          Effect.suspend(() => loop)
        )
    )
    return { handoff, run: loop }
  })

/** Runs a sender until interrupted; attempts in flight are interrupted with its scope. */
export const run = (
  options: Options
): Effect.Effect<never, never, Services> => Effect.flatMap(make(options), (sender) => sender.run)
