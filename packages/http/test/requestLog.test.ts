import * as Effect from "effect/Effect"
import { afterEach, describe, expect, it, vi } from "vitest"
import * as RequestLog from "../src/RequestLog.js"

/** The lines `RequestLog` wrote to stdout while `body` ran, flushed. */
const written = (
  body: (log: Effect.Effect.Success<ReturnType<typeof RequestLog.make>>) => void,
  options: RequestLog.Options = { requests: true }
): Array<string> => {
  const chunks: Array<string> = []
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    chunks.push(String(chunk))
    return true
  })
  try {
    const log = Effect.runSync(RequestLog.make(options))
    body(log)
    Effect.runSync(log.flush)
  } finally {
    spy.mockRestore()
  }
  return chunks.join("").split("\n").filter((l) => l.length > 0)
}

describe("RequestLog", () => {
  afterEach(() => vi.restoreAllMocks())

  it("writes a request line as JSON.stringify would, the same fields in the same order", () => {
    const [line] = written((log) => log.request("POST", "/v1/track", 200, 1.23456, "id-1"))
    const entry = JSON.parse(line!)
    expect(Object.keys(entry)).toEqual(["time", "level", "msg", "method", "route", "status", "durationMs", "requestId"])
    expect(line).toBe(JSON.stringify({ ...entry }))
    expect(entry).toMatchObject({ level: "info", msg: "request", method: "POST", route: "/v1/track", status: 200 })
    expect(entry.durationMs).toBe(1.235)
    expect(new Date(entry.time).toISOString()).toBe(entry.time)
  })

  it("escapes what JSON must in a route or method (quotes, backslashes, control characters, lone surrogates)", () => {
    const routes = ['/a"b', "/a\\b", "/a\nb\u0001", "/\ud800x", "/ok\ud83d\ude00", "/plain"]
    const lines = written((log) => {
      for (const route of routes) log.request('GE"T', route, 404, Number.NaN, 'r"id')
    })
    expect(lines).toHaveLength(routes.length)
    lines.forEach((line, i) => {
      const entry = JSON.parse(line)
      expect(entry.route).toBe(routes[i])
      expect(entry.method).toBe('GE"T')
      expect(entry.requestId).toBe('r"id')
      expect(entry.durationMs).toBeNull()
      expect(line).toBe(JSON.stringify(entry))
    })
  })

  it("writes no request line when requests are off, but still tells defects and info", () => {
    const lines = written((log) => {
      log.request("GET", "/", 200, 1, "id")
      log.info("listening", { url: 'http://x"' })
    }, { requests: false }).map((l) => JSON.parse(l))
    expect(lines).toEqual([{ time: expect.any(String), level: "info", msg: "listening", url: 'http://x"' }])
  })
})
