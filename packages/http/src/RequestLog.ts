/**
 * Structured log lines, one JSON object per line: one per request (method, route pattern,
 * status, duration, request id; never a key, an email or a query string) and one per defect.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"

// Lines are batched and written once per event-loop turn: one syscall for many requests.
export const make = Effect.sync(() => {
  const sink = process.stdout
  // TRACKLOG_LOG=off silences the per-request lines only: start-up and defects are always told.
  const requests = process.env["TRACKLOG_LOG"] !== "off"
  let buffer: Array<string> = []
  let scheduled = false
  const flushNow = () => {
    scheduled = false
    if (buffer.length === 0) return
    const text = buffer.join("")
    buffer = []
    sink.write(text)
  }
  const line = (fields: Record<string, unknown>) => {
    buffer.push(JSON.stringify({ time: new Date().toISOString(), ...fields }) + "\n")
    if (!scheduled) {
      scheduled = true
      setImmediate(flushNow)
    }
  }
  return {
    request: (method: string, route: string, status: number, durationMs: number, requestId: string) =>
      requests && line({ level: "info", msg: "request", method, route, status, durationMs: Math.round(durationMs * 1000) / 1000, requestId }),
    defect: (requestId: string, cause: Cause.Cause<unknown>) =>
      line({ level: "error", msg: "defect", requestId, cause: Cause.pretty(cause) }),
    info: (msg: string, fields: Record<string, unknown> = {}) => line({ level: "info", msg, ...fields }),
    flush: Effect.sync(flushNow)
  }
})
