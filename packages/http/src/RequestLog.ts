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

// What JSON must escape in a string (a quote, a backslash, a control character, a lone surrogate).
const needsEscape = /["\\\u0000-\u001f\ud800-\udfff]/

/** A string as JSON: quoted as it is when nothing in it needs escaping (routes, methods, ids). */
const quote = (text: string): string => needsEscape.test(text) ? JSON.stringify(text) : '"' + text + '"'

/** A number as JSON writes it (`null` for NaN and the infinities). */
const number = (value: number): string => Number.isFinite(value) ? String(value) : "null"

// A reader of the log that goes away (a closed pipe, EPIPE) must not take the server down with
// it: Node would raise the stream's error as uncaught. Lines are dropped from then on. Once per
// process, for every writer of stdout (Effect's logger too).
let sinkGuarded = false
let sinkBroken = false
const guardSink = (sink: NodeJS.WriteStream) => {
  if (sinkGuarded) return
  sinkGuarded = true
  sink.on("error", () => {
    sinkBroken = true
  })
}

// Lines are batched and written once per event-loop turn: one syscall for many requests.
// Start-up and defects are always told.
export const make = ({ requests }: Options) =>
  Effect.sync(() => {
    const sink = process.stdout
    guardSink(sink)
    const lines = PerTurn.make<string>((batch) => {
      if (!sinkBroken) sink.write(batch.length === 1 ? batch[0]! : batch.join(""))
    })
    const line = (fields: Record<string, unknown>) =>
      lines.add(JSON.stringify({ time: Timestamp.isoOfMillis(Date.now()), ...fields }) + "\n")
    return {
      // The per-request line is written by hand, the one line per request: no object to build and
      // stringify. Same fields, in the same order, as `line` would write them.
      request: (method: string, route: string, status: number, durationMs: number, requestId: string) =>
        requests &&
        lines.add(
          '{"time":"' + Timestamp.isoOfMillis(Date.now()) + '","level":"info","msg":"request","method":' +
            quote(method) + ',"route":' + quote(route) + ',"status":' + number(status) + ',"durationMs":' +
            number(Math.round(durationMs * 1000) / 1000) + ',"requestId":' + quote(requestId) + "}\n"
        ),
      defect: (requestId: string, cause: Cause.Cause<unknown>) =>
        line({ level: "error", msg: "defect", requestId, cause: Cause.pretty(cause) }),
      info: (msg: string, fields: Record<string, unknown> = {}) => line({ level: "info", msg, ...fields }),
      flush: Effect.sync(lines.flush)
    }
  })
