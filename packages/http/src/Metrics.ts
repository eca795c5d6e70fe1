/**
 * The server's metrics (behaviour §9), kept in Effect's metric registry and rendered at `GET /metrics`
 * as Prometheus text. Per-request updates go to metrics resolved once per route and status, not
 * looked up by tags on every request: the track path must stay within a few percent.
 */
import * as Contacts from "@tracklog/core/Contacts"
import * as EventStore from "@tracklog/core/EventStore"
import * as Projects from "@tracklog/core/Projects"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import * as Prometheus from "./internal/prometheus.js"

const none: ReadonlyArray<never> = []

// Seconds: doubling from 0.5 ms to ~4.1 s, then past the 10 s request deadline (a request cut off
// by it lands above 10).
const durationBuckets = MetricBoundaries.fromIterable([
  ...Array.from({ length: 14 }, (_, i) => 0.0005 * 2 ** i),
  5,
  10,
  30
])

const requestsKey = MetricKey.counter("tracklog_http_requests_total", {
  description: "HTTP requests answered, by route pattern, method and status",
  incremental: true
})
const requestDurationKey = MetricKey.histogram(
  "tracklog_http_request_duration_seconds",
  durationBuckets,
  "Time from request to answer, by route pattern"
)
const storeDurationKey = MetricKey.histogram(
  "tracklog_store_operation_duration_seconds",
  durationBuckets,
  "Duration of store operations, by port and operation"
)

/** Live event streams (SSE) open now. */
export const streamSubscribers = Metric.gauge("tracklog_stream_subscribers", {
  description: "Event stream subscribers connected"
})

/** How many events the slowest live stream is behind the log head. */
export const streamLagEvents = Metric.gauge("tracklog_stream_lag_events", {
  description: "Events between the log head and the slowest stream subscriber"
})

/** Requests refused by the rate limiter. */
export const rateLimited = Metric.counter("tracklog_rate_limited_total", {
  description: "Requests answered 429 by the per-key rate limit",
  incremental: true
})

/** Buckets the rate limiter holds. */
export const rateLimitBuckets = Metric.gauge("tracklog_rate_limit_buckets", {
  description: "Per-key token buckets held in memory"
})

/** Stream helpers for the live endpoint: one more subscriber, one fewer, the lag of one. */
export const subscriberOpened = () => streamSubscribers.unsafeModify(1, none)
export const subscriberClosed = () => streamSubscribers.unsafeModify(-1, none)
export const setStreamLag = (events: number) => streamLagEvents.unsafeUpdate(events, none)

// The lag of each open stream; the gauge shows the slowest.
const lags = new Map<object, number>()
const showSlowest = () => {
  let slowest = 0
  for (const events of lags.values()) slowest = Math.max(slowest, events)
  setStreamLag(slowest)
}

/** An open event stream: counted in `tracklog_stream_subscribers`, its lag in `tracklog_stream_lag_events`. */
export const streamLag = () => {
  const key = {}
  subscriberOpened()
  lags.set(key, 0)
  return {
    set: (events: number) => {
      lags.set(key, events)
      showSlowest()
    },
    close: () => {
      if (lags.delete(key)) {
        subscriberClosed()
        showSlowest()
      }
    }
  }
}

type Recorder = (seconds: number) => void

/** Records answered requests; one cached pair of metrics per (method, route, status). */
export const makeRequestRecorder = () => {
  // Gauges are in the registry only once touched: show them from the start, at 0.
  streamSubscribers.unsafeModify(0, none)
  streamLagEvents.unsafeModify(0, none)
  // By route, method, then status: lookups of the strings each request already has, no key built.
  const cache = new Map<string, Map<string, Map<number, Recorder>>>()
  return (method: string, pattern: string, status: number, millis: number) => {
    let byMethod = cache.get(pattern)
    if (byMethod === undefined) cache.set(pattern, byMethod = new Map())
    let byStatus = byMethod.get(method)
    if (byStatus === undefined) byMethod.set(method, byStatus = new Map())
    let record = byStatus.get(status)
    if (record === undefined) {
      const count = Metric.fromMetricKey(
        requestsKey.pipe(
          MetricKey.tagged("route", pattern),
          MetricKey.tagged("method", method),
          MetricKey.tagged("status", String(status))
        )
      )
      const duration = Metric.fromMetricKey(MetricKey.tagged(requestDurationKey, "route", pattern))
      record = (seconds) => {
        count.unsafeUpdate(1, none)
        duration.unsafeUpdate(seconds, none)
      }
      byStatus.set(status, record)
    }
    record(millis / 1000)
  }
}

/** Whether a series is one of tracklog's own, the ones `render` writes. */
export const isOwn = (name: string) => name.startsWith("tracklog_")

/**
 * The Prometheus text of tracklog's own metrics in the registry. Others are left out: Effect's
 * fiber metrics (recorded wherever the runtime flag is on, as in an embedder's runtime) have no
 * help, counters without `_total` and milliseconds, and anything else is not ours to document.
 */
export const render: Effect.Effect<string> = Effect.map(
  Metric.snapshot,
  (pairs) => Prometheus.render(pairs.filter((pair) => isOwn(pair.metricKey.name)))
)

/** The Content-Type of `render`'s text. */
export const contentType = Prometheus.contentType

// Wraps every method of a port that returns an Effect (and every Effect-valued field) so its
// duration is recorded; anything else (a Stream, a value) passes through untouched.
const instrument = <S extends object>(port: string, service: S): S => {
  const wrapped: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(service)) {
    const duration = Metric.fromMetricKey(
      MetricKey.tagged(MetricKey.tagged(storeDurationKey, "port", port), "operation", name)
    )
    // One continuation, no finalizer (`ensuring` masks interruption and costs more); an
    // interrupted operation is simply not timed. The clock starts when the Effect runs, not when
    // the method is called: a caller may build an operation once and run it many times (`Auth`'s
    // check of a cached key), and would otherwise record the time since it was built.
    const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.suspend(() => {
        const started = performance.now()
        const done = () => duration.unsafeUpdate((performance.now() - started) / 1000, none)
        return Effect.matchCauseEffect(effect, {
          onFailure: (cause) => {
            done()
            return Effect.failCause(cause)
          },
          onSuccess: (value) => {
            done()
            return Effect.succeed(value)
          }
        })
      })
    if (typeof value === "function") {
      wrapped[name] = (...args: Array<unknown>) => {
        const result = value.apply(service, args)
        return Effect.isEffect(result) ? timed(result) : result
      }
    } else wrapped[name] = Effect.isEffect(value) ? timed(value) : value
  }
  return wrapped as S
}

/** The store's three ports with their operations timed. */
export const instrumentStore = <A, E, R>(store: Layer.Layer<A, E, R>): Layer.Layer<A, E, R> =>
  Layer.map(store, (context) => {
    const all = context as Context.Context<unknown>
    let out = all
    const eventStore = Context.getOption(all as Context.Context<EventStore.EventStore>, EventStore.EventStore)
    if (eventStore._tag === "Some")
      out = Context.add(out, EventStore.EventStore, instrument("event_store", eventStore.value))
    const contacts = Context.getOption(all as Context.Context<Contacts.Contacts>, Contacts.Contacts)
    if (contacts._tag === "Some") out = Context.add(out, Contacts.Contacts, instrument("contacts", contacts.value))
    const projects = Context.getOption(all as Context.Context<Projects.Projects>, Projects.Projects)
    if (projects._tag === "Some") out = Context.add(out, Projects.Projects, instrument("projects", projects.value))
    return out as Context.Context<A>
  })
