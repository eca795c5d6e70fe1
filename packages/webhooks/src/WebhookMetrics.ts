/**
 * The metrics of webhook delivery (behaviour §9, §12), in Effect's registry next to the server's own,
 * so `GET /metrics` renders them with the rest (every series is documented in the README).
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"

const none: ReadonlyArray<never> = []

// Seconds: doubling from 1 ms to ~8 s, then the 15 s timeout and past it.
const durationBuckets = MetricBoundaries.fromIterable([
  ...Array.from({ length: 14 }, (_, i) => 0.001 * 2 ** i),
  15,
  30
])

const attemptsKey = MetricKey.counter("tracklog_webhook_attempts_total", {
  description:
    "Webhook delivery attempts, by outcome: delivered, retry (tried again later), failed (no attempt left), gone (410: endpoint disabled)",
  incremental: true
})

/** What came of one attempt, for `tracklog_webhook_attempts_total`. */
export type Outcome = "delivered" | "retry" | "failed" | "gone"

const outcomes: ReadonlyArray<Outcome> = ["delivered", "retry", "failed", "gone"]
const attempts = new Map(
  outcomes.map((outcome) => [outcome, Metric.fromMetricKey(MetricKey.tagged(attemptsKey, "outcome", outcome))])
)

const duration = Metric.fromMetricKey(
  MetricKey.histogram(
    "tracklog_webhook_attempt_duration_seconds",
    durationBuckets,
    "Time from sending a webhook attempt to its answer's status (or its failure)"
  )
)

const queued = Metric.counter("tracklog_webhook_messages_queued_total", {
  description: "Webhook messages queued by the dispatcher (one per matching endpoint and event)",
  incremental: true
})

const depth = Metric.gauge("tracklog_webhook_queue_depth", {
  description: "Webhook messages pending (waiting for their first attempt or a retry)"
})

const oldest = Metric.gauge("tracklog_webhook_oldest_pending_age_seconds", {
  description: "Age of the oldest pending webhook message; 0 when none is pending"
})

/** Shows every series from the start, at 0 (a gauge or counter is in the registry only once touched). */
export const touch = (): void => {
  for (const counter of attempts.values()) counter.unsafeUpdate(0, none)
  // Read once, so the histogram is in the registry before its first attempt.
  duration.unsafeValue(none)
  queued.unsafeUpdate(0, none)
  depth.unsafeUpdate(0, none)
  oldest.unsafeUpdate(0, none)
}

/** One attempt's outcome and how long it took. */
export const attempted = (outcome: Outcome, seconds: number): void => {
  attempts.get(outcome)!.unsafeUpdate(1, none)
  duration.unsafeUpdate(seconds, none)
}

/** Messages the dispatcher queued. */
export const enqueued = (n: number): void => queued.unsafeUpdate(n, none)

/** The queue as last read: pending messages and the oldest one's age. */
export const queue = (pending: number, oldestAgeSeconds: number): void => {
  depth.unsafeUpdate(pending, none)
  oldest.unsafeUpdate(oldestAgeSeconds, none)
}
