/**
 * Structured log lines, one JSON object per line: one per request (method, route pattern,
 * status, duration, request id; never a key, an email or a query string) and one per defect.
 */
import * as Timestamp from "@tracklog/core/Timestamp"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as PerTurn from "./internal/perTurn.js"

/** What to log: `requests: false` (`TRACKLOG_LOG=off`) silences the per-request lines only. */
export interface Options {
  readonly requests: boolean
}

// Lines are batched and written once per event-loop turn: one syscall for many requests.
// Start-up and defects are always told.
export const make = ({ requests }: Options) =>
  Effect.sync(() => {
    const sink = process.stdout
    const lines = PerTurn.make<string>((batch) => sink.write(batch.join("")))
    const line = (fields: Record<string, unknown>) =>
      lines.add(JSON.stringify({ time: Timestamp.iso(new Date()), ...fields }) + "\n")
    return {
      request: (method: string, route: string, status: number, durationMs: number, requestId: string) =>
        requests &&
        line({
          level: "info",
          msg: "request",
          method,
          route,
          status,
          durationMs: Math.round(durationMs * 1000) / 1000,
          requestId
        }),
      defect: (requestId: string, cause: Cause.Cause<unknown>) =>
        line({ level: "error", msg: "defect", requestId, cause: Cause.pretty(cause) }),
      info: (msg: string, fields: Record<string, unknown> = {}) => line({ level: "info", msg, ...fields }),
      flush: Effect.sync(lines.flush)
    }
  })
