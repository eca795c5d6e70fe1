/**
 * When a webhook message is tried again, and what one attempt's result means (webhooks, §12): a
 * 2xx within 15 s delivers; `410 Gone` disables the endpoint; anything else (another status, a
 * redirect, which is never followed, a timeout, a network error) is retried after 5 s, 5 min,
 * 30 min, 2 h, 5 h, 10 h and 10 h, then the message has failed. The delays are configurable
 * (`TRACKLOG_WEBHOOK_RETRY`), so tests run the whole schedule in seconds.
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"

/** How long one attempt may take before it counts as a timeout. */
export const Timeout: Duration.Duration = Duration.seconds(15)

/** The waits before each retry, in order; after the last retry fails, the message has failed. */
export type Delays = ReadonlyArray<Duration.Duration>

/** The schedule of §12: eight attempts in all, the last ~33 h after the first. */
export const DefaultDelays: Delays = [
  Duration.seconds(5),
  Duration.minutes(5),
  Duration.minutes(30),
  Duration.hours(2),
  Duration.hours(5),
  Duration.hours(10),
  Duration.hours(10)
]

/**
 * When the next attempt is due, after `attempts` attempts of which the last (at `lastAt`) failed:
 * `undefined` once there is none left (the message has failed). With no attempt yet it is due at
 * `lastAt`, the time the message was queued.
 */
export const nextAttemptAt = (attempts: number, lastAt: Date, delays: Delays = DefaultDelays): Date | undefined => {
  if (attempts <= 0) return lastAt
  const delay = delays[attempts - 1]
  return delay === undefined ? undefined : new Date(lastAt.getTime() + Duration.toMillis(delay))
}

/** True when a message that failed `attempts` times has no attempt left. */
export const isFinal = (attempts: number, delays: Delays = DefaultDelays): boolean => attempts > delays.length

const Units: Readonly<Record<string, (n: number) => Duration.Duration>> = {
  ms: Duration.millis,
  s: Duration.seconds,
  m: Duration.minutes,
  h: Duration.hours,
  d: Duration.days
}

// A wait longer than this is a typo (`10d` for `10h`?) that would park messages for good.
const MaxDelay = Duration.days(30)

/**
 * Parses a schedule as `TRACKLOG_WEBHOOK_RETRY` gives it: waits separated by commas, each a whole
 * number and a unit `ms`, `s`, `m`, `h` or `d` (`5s,5m,30m,2h,5h,10h,10h`); `none` for no retry at
 * all. The error says what is wrong, for the configuration's message.
 */
export const parse = (text: string): Either.Either<Delays, string> => {
  const trimmed = text.trim()
  if (trimmed === "none") return Either.right([])
  const delays: Array<Duration.Duration> = []
  for (const item of trimmed.split(",")) {
    const match = /^(\d{1,9})(ms|s|m|h|d)$/.exec(item.trim())
    if (match === null) {
      return Either.left(
        `expected waits like 5s,5m,30m,2h separated by commas (units ms, s, m, h, d), or none; got "${item.trim()}"`
      )
    }
    const delay = Units[match[2]!]!(Number(match[1]))
    if (Duration.greaterThan(delay, MaxDelay)) return Either.left(`a wait must be at most 30d; got ${item.trim()}`)
    delays.push(delay)
  }
  return Either.right(delays)
}

/** A schedule as `parse` reads it: `5s,5m,30m,2h,5h,10h,10h` for the default. */
export const format = (delays: Delays): string =>
  delays.length === 0 ? "none" : delays.map((delay) => {
    const ms = Duration.toMillis(delay)
    for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
      if (ms % size === 0) return `${ms / size}${unit}`
    }
    return `${ms}ms`
  }).join(",")

/** What came of sending one attempt. */
export type Result =
  /** An answer: its status (a redirect is an answer too, and is not followed). */
  | { readonly _tag: "Answered"; readonly status: number }
  /** No answer within `Timeout`. */
  | { readonly _tag: "TimedOut" }
  /** No answer at all: the name did not resolve, the connection was refused or reset. */
  | { readonly _tag: "NetworkError"; readonly message: string }
  /** Not sent: the target is (now) a loopback, private or link-local address. */
  | { readonly _tag: "NotAllowed"; readonly message: string }

/** What one attempt's result means for its message: delivered, its endpoint gone, or try again. */
export type Outcome = "delivered" | "gone" | "retry"

/** The meaning of a result: a 2xx delivers; `410 Gone` disables the endpoint; anything else is retried. */
export const classify = (result: Result): Outcome => {
  if (result._tag !== "Answered") return "retry"
  if (result.status >= 200 && result.status <= 299) return "delivered"
  return result.status === 410 ? "gone" : "retry"
}

/** One attempt as a message's history records it (§12: time, status, duration, error). */
export interface Attempt {
  readonly at: Date
  /** The answer's status; `null` when none came. */
  readonly status: number | null
  readonly durationMs: number
  /** Why it did not deliver; `null` when it did. */
  readonly error: string | null
}

/** The record of an attempt started at `at` that took `durationMs`. */
export const attempt = (result: Result, at: Date, durationMs: number): Attempt => ({
  at,
  status: result._tag === "Answered" ? result.status : null,
  durationMs,
  error: errorOf(result)
})

const errorOf = (result: Result): string | null => {
  switch (result._tag) {
    case "Answered":
      if (classify(result) === "delivered") return null
      if (result.status === 410) return "410 Gone: the endpoint is disabled"
      return result.status >= 300 && result.status <= 399
        ? `redirect (${result.status}) not followed`
        : `answered ${result.status}`
    case "TimedOut":
      return `no answer within ${Duration.format(Timeout)}`
    case "NetworkError":
      return result.message
    case "NotAllowed":
      return result.message
  }
}

/** What happens to a message after an attempt. */
export type Next =
  | { readonly _tag: "Delivered" }
  /** `410 Gone`: the message has failed and its endpoint is disabled. */
  | { readonly _tag: "EndpointGone" }
  | { readonly _tag: "RetryAt"; readonly at: Date }
  | { readonly _tag: "Failed" }

/**
 * The message's next state after its `attempts`-th attempt (counting this one), made at `at`, came
 * to `result`: delivered, its endpoint gone, retried at the schedule's next time, or failed when
 * the schedule has no time left.
 */
export const next = (result: Result, attempts: number, at: Date, delays: Delays = DefaultDelays): Next => {
  switch (classify(result)) {
    case "delivered":
      return { _tag: "Delivered" }
    case "gone":
      return { _tag: "EndpointGone" }
    case "retry": {
      const due = nextAttemptAt(attempts, at, delays)
      return due === undefined ? { _tag: "Failed" } : { _tag: "RetryAt", at: due }
    }
  }
}
