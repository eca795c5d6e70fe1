import { describe, expect, it } from "@effect/vitest"
import * as WebhookSchedule from "@tracklog/core/WebhookSchedule"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"

const t0 = new Date("2026-01-02T00:00:00.000Z")
const plus = (ms: number) => new Date(t0.getTime() + ms)
const s = 1000
const m = 60 * s
const h = 60 * m

describe("WebhookSchedule: when a message is tried again (webhooks §12)", () => {
  it("the default waits are 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h", () => {
    expect(WebhookSchedule.DefaultDelays.map(Duration.toMillis)).toEqual([
      5 * s,
      5 * m,
      30 * m,
      2 * h,
      5 * h,
      10 * h,
      10 * h
    ])
    expect(WebhookSchedule.format(WebhookSchedule.DefaultDelays)).toBe("5s,5m,30m,2h,5h,10h,10h")
  })

  it("after the n-th failed attempt, the next is due the n-th wait after it", () => {
    const due = [1, 2, 3, 4, 5, 6, 7].map((n) => WebhookSchedule.nextAttemptAt(n, t0))
    expect(due).toEqual([5 * s, 5 * m, 30 * m, 2 * h, 5 * h, 10 * h, 10 * h].map(plus))
  })

  it("the eighth failed attempt is the last: no next time, final", () => {
    expect(WebhookSchedule.nextAttemptAt(8, t0)).toBeUndefined()
    expect(WebhookSchedule.isFinal(7)).toBe(false)
    expect(WebhookSchedule.isFinal(8)).toBe(true)
  })

  it("before any attempt the message is due when it was queued", () => {
    expect(WebhookSchedule.nextAttemptAt(0, t0)).toEqual(t0)
  })

  it("a configured schedule replaces the default, also its length", () => {
    const delays = Either.getOrThrow(WebhookSchedule.parse("10ms,20ms"))
    expect(WebhookSchedule.nextAttemptAt(1, t0, delays)).toEqual(plus(10))
    expect(WebhookSchedule.nextAttemptAt(2, t0, delays)).toEqual(plus(20))
    expect(WebhookSchedule.nextAttemptAt(3, t0, delays)).toBeUndefined()
    expect(WebhookSchedule.isFinal(3, delays)).toBe(true)
  })
})

describe("WebhookSchedule.parse (TRACKLOG_WEBHOOK_RETRY)", () => {
  it("reads the default's text back to the default", () => {
    expect(WebhookSchedule.parse("5s,5m,30m,2h,5h,10h,10h")).toEqual(Either.right(WebhookSchedule.DefaultDelays))
  })

  it("takes every unit, spaces around items, and none for no retry", () => {
    expect(Either.map(WebhookSchedule.parse(" 250ms, 1s ,2m,3h,1d "), (d) => d.map(Duration.toMillis))).toEqual(
      Either.right([250, s, 2 * m, 3 * h, 24 * h])
    )
    expect(WebhookSchedule.parse("none")).toEqual(Either.right([]))
    expect(WebhookSchedule.nextAttemptAt(1, t0, [])).toBeUndefined()
  })

  it("refuses anything else, saying what it got", () => {
    for (const text of ["", "5", "5 s", "5sec", "-5s", "1.5s", "5s,,5m", "5s;5m", "31d"]) {
      expect(Either.isLeft(WebhookSchedule.parse(text)), text).toBe(true)
    }
    expect(WebhookSchedule.parse("5s,soon")).toEqual(Either.left(expect.stringContaining('"soon"')))
  })

  it("format and parse round-trip", () => {
    const delays = [Duration.millis(1500), Duration.seconds(90), Duration.hours(36)]
    expect(WebhookSchedule.format(delays)).toBe("1500ms,90s,36h")
    expect(WebhookSchedule.parse(WebhookSchedule.format(delays))).toEqual(Either.right(delays))
  })
})

describe("WebhookSchedule.classify: one attempt's result (webhooks §12)", () => {
  const answered = (status: number): WebhookSchedule.Result => ({ _tag: "Answered", status })

  it("any 2xx delivers", () => {
    for (const status of [200, 201, 202, 204, 299]) expect(WebhookSchedule.classify(answered(status))).toBe("delivered")
  })

  it("410 Gone disables the endpoint", () => expect(WebhookSchedule.classify(answered(410))).toBe("gone"))

  it("redirects, other statuses, timeouts, network errors and refused targets are retried", () => {
    for (const status of [100, 199, 300, 301, 302, 307, 308, 400, 404, 409, 429, 500, 503]) {
      expect(WebhookSchedule.classify(answered(status)), String(status)).toBe("retry")
    }
    expect(WebhookSchedule.classify({ _tag: "TimedOut" })).toBe("retry")
    expect(WebhookSchedule.classify({ _tag: "NetworkError", message: "ECONNREFUSED" })).toBe("retry")
    expect(WebhookSchedule.classify({ _tag: "NotAllowed", message: "resolves to 10.0.0.1" })).toBe("retry")
  })

  it("the timeout is 15 s", () => expect(Duration.toMillis(WebhookSchedule.Timeout)).toBe(15_000))
})

describe("WebhookSchedule.next and attempt: what the message becomes", () => {
  it("delivered, gone, retried at the schedule's next time, failed when none is left", () => {
    expect(WebhookSchedule.next({ _tag: "Answered", status: 204 }, 1, t0)).toEqual({ _tag: "Delivered" })
    expect(WebhookSchedule.next({ _tag: "Answered", status: 410 }, 1, t0)).toEqual({ _tag: "EndpointGone" })
    expect(WebhookSchedule.next({ _tag: "Answered", status: 500 }, 1, t0)).toEqual({ _tag: "RetryAt", at: plus(5 * s) })
    expect(WebhookSchedule.next({ _tag: "TimedOut" }, 3, t0)).toEqual({ _tag: "RetryAt", at: plus(30 * m) })
    expect(WebhookSchedule.next({ _tag: "Answered", status: 500 }, 8, t0)).toEqual({ _tag: "Failed" })
    // A 2xx on the last attempt still delivers.
    expect(WebhookSchedule.next({ _tag: "Answered", status: 200 }, 8, t0)).toEqual({ _tag: "Delivered" })
  })

  it("an attempt records time, status, duration and why it did not deliver", () => {
    expect(WebhookSchedule.attempt({ _tag: "Answered", status: 200 }, t0, 12)).toEqual({
      at: t0,
      status: 200,
      durationMs: 12,
      error: null
    })
    expect(WebhookSchedule.attempt({ _tag: "Answered", status: 302 }, t0, 5).error).toBe("redirect (302) not followed")
    expect(WebhookSchedule.attempt({ _tag: "Answered", status: 503 }, t0, 5).error).toBe("answered 503")
    expect(WebhookSchedule.attempt({ _tag: "Answered", status: 410 }, t0, 5).error).toContain("410")
    expect(WebhookSchedule.attempt({ _tag: "TimedOut" }, t0, 15_000)).toEqual({
      at: t0,
      status: null,
      durationMs: 15_000,
      error: "no answer within 15s"
    })
    expect(WebhookSchedule.attempt({ _tag: "NetworkError", message: "ECONNRESET" }, t0, 3).error).toBe("ECONNRESET")
  })
})
