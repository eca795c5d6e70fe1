/**
 * behaviour §9, `GET /metrics` as Prometheus' own tools read it: after a server has answered every
 * kind of request (tracks, a batch, an event stream, 4xx, 404, 405, 429), its output passes
 * `promtool check metrics` with nothing to say, and every series in it is documented in the README.
 * Effect's own fiber metrics are not recorded where the runtime flag turns them off (`main.ts`).
 */
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as StorePostgres from "@tracklog/store-postgres/StorePostgres"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Runtime from "effect/Runtime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Scope from "effect/Scope"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { projectA, request, start, startWebHandler } from "./TestServer.js"

const readme = Fs.readFileSync(
  Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../../README.md"),
  "utf8"
)

// Debian's `prometheus` package has it (`.ci/run` installs it); a missing one fails, never skips.
const promtool = (): string => {
  const candidates = [
    process.env["PROMTOOL"],
    ...(process.env["PATH"] ?? "").split(Path.delimiter).map((dir) => Path.join(dir, "promtool")),
    "/usr/bin/promtool"
  ]
  const found = candidates.find((file) => file !== undefined && file !== "" && Fs.existsSync(file))
  if (found === undefined) {
    throw new Error(
      "promtool not found (PATH, /usr/bin, $PROMTOOL): install Debian's `prometheus` package " +
        "(apt-get install -y prometheus), as .ci/run does"
    )
  }
  return found
}

// Label names are the backticked words outside parentheses (which describe their values, in
// backticks that may hold parentheses themselves).
const labelNames = (cell: string) => {
  const names: Array<string> = []
  let depth = 0
  for (const part of cell.split(/(`[^`]*`)/)) {
    if (part.startsWith("`")) {
      if (depth === 0 && /^`[a-z_]+`$/.test(part)) names.push(part.slice(1, -1))
      continue
    }
    for (const c of part) depth += c === "(" ? 1 : c === ")" ? -1 : 0
  }
  return names
}

/** The README's metrics table: series name → type and label names. */
const documented = () => {
  const from = readme.indexOf("### Metrics: `GET /metrics`")
  expect(from, "README has a metrics section").toBeGreaterThan(-1)
  const to = readme.indexOf("\n### ", from + 1)
  const series = new Map<string, { readonly type: string; readonly labels: ReadonlyArray<string> }>()
  for (const line of readme.slice(from, to).split("\n")) {
    const row = /^\| `(tracklog_[a-z0-9_]+)` \| (\w+) \|([^|]*)\|/.exec(line)
    if (row === null) continue
    series.set(row[1]!, { type: row[2]!, labels: labelNames(row[3]!) })
  }
  return series
}

/** Each family in the text: its TYPE, and the label names its samples carry. */
const families = (text: string) => {
  const out = new Map<string, { type: string; labels: Set<string> }>()
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type !== null) {
      out.set(type[1]!, { type: type[2]!, labels: new Set() })
      continue
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line)
    if (sample === null) continue
    const name = sample[1]!
    const family = out.get(name) ?? out.get(name.replace(/_(bucket|sum|count)$/, ""))
    expect(family, `a TYPE before ${line}`).toBeDefined()
    for (const m of (sample[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) {
      if (m[1] !== "le") family!.labels.add(m[1]!)
    }
  }
  return out
}

/** Opens the event stream, reads up to its first event, then goes away. */
const readStream = async (base: string) => {
  const response = await fetch(`${base}/events/stream?from=start`, {
    headers: { authorization: `Bearer ${projectA.secretKey}` }
  })
  expect(response.status).toBe(200)
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let text = ""
  while (!text.includes("\nevent: ")) {
    const { done, value } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  await reader.cancel()
  expect(text).toContain("event: ")
}

/** Every kind of answer: tracks, a batch, an event stream, 400, 401, 404, 405, 422 and 429. */
const traffic = async (base: string) => {
  const track = (email: string, key = projectA.publicKey) =>
    request(base, "POST", "/v1/track", { key, body: { email, event: "signed-up", data: { plan: "pro" } } })
  for (let i = 0; i < 3; i++) expect((await track(`m${i}-${Math.random()}@example.com`)).status).toBe(200)
  const batch = await request(base, "POST", "/v1/track/batch", {
    key: projectA.publicKey,
    body: { events: [{ email: "b1@example.com", event: "e" }, { email: "b2@example.com", event: "e" }, { email: "x" }] }
  })
  expect(batch.status).toBe(200)
  expect((await request(base, "POST", "/v1/track", { key: projectA.publicKey, body: { email: "x" } })).status)
    .toBe(422)
  expect((await request(base, "POST", "/v1/track", { key: projectA.publicKey, raw: "{" })).status).toBe(400)
  expect((await request(base, "GET", "/contacts", { key: projectA.secretKey })).status).toBe(200)
  expect(
    (await request(base, "GET", "/contacts/0190c0de-0000-7000-8000-000000000000", { key: projectA.secretKey }))
      .status
  ).toBe(404)
  expect((await request(base, "GET", "/no-such-route")).status).toBe(404)
  expect((await request(base, "GET", "/v1/track", { key: projectA.publicKey })).status).toBe(405)
  expect((await request(base, "POST", "/metrics")).status).toBe(405)
  expect((await request(base, "GET", "/openapi.json")).status).toBe(200)
  await readStream(base)
  // An unknown key spends its own bucket (the limit applies before the lookup): 401s, then 429s.
  const flood = []
  for (let i = 0; i < 14; i++) flood.push((await track("flood@example.com", "pk_flood")).status)
  expect(flood).toContain(401)
  expect(flood).toContain(429)
}

const rateLimit = { perSecond: 1, burst: 10 }

describe("GET /metrics, checked by promtool, every series documented (behaviour §9)", () => {
  const scope = Effect.runSync(Scope.make())
  const bases: Array<string> = []
  beforeAll(async () => {
    // The node server on PostgreSQL (its group commits have their own series), the web handler on memory.
    const db = await Effect.runPromise(Scope.extend(TestDatabase.server, scope))
    const postgres = StorePostgres.layer({ url: db.url, maxConnections: db.maxConnections })
    const servers: ReadonlyArray<Effect.Effect<{ readonly url: string }, unknown, Scope.Scope>> = [
      start(postgres, { metrics: true, rateLimit }),
      startWebHandler(StoreMemory.layer, { metrics: true, rateLimit })
    ]
    for (const server of servers) bases.push((await Effect.runPromise(Scope.extend(server, scope))).url)
    for (const base of bases) await traffic(base)
  }, 120_000)
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

  it("`promtool check metrics` passes with no lint warning, on the node server and the web handler", async () => {
    const tool = promtool()
    for (const base of bases) {
      const answer = await request(base, "GET", "/metrics")
      expect(answer.status).toBe(200)
      const checked = spawnSync(tool, ["check", "metrics"], { input: answer.text, encoding: "utf8" })
      expect(checked.error).toBeUndefined()
      expect({ status: checked.status, stdout: checked.stdout, stderr: checked.stderr }, answer.text).toEqual({
        status: 0,
        stdout: "",
        stderr: ""
      })
    }
  })

  it("every series in the output is in the README's table with its type and labels, and every documented one is output", async () => {
    const table = documented()
    expect(table.get("tracklog_http_requests_total")?.labels).toEqual(["route", "method", "status"])
    const output = families((await request(bases[0]!, "GET", "/metrics")).text)
    for (const [name, family] of output) {
      const doc = table.get(name)
      expect(doc, `${name} is not documented in the README's metrics table`).toBeDefined()
      expect(doc!.type, `${name}'s type`).toBe(family.type)
      for (const label of family.labels) expect(doc!.labels, `label ${label} of ${name}`).toContain(label)
      expect([...family.labels].sort(), `${name}'s documented labels`).toEqual([...doc!.labels].sort())
    }
    for (const name of table.keys()) expect([...output.keys()], `documented ${name} is output`).toContain(name)
  })

  it("the request duration histogram reaches past the 10 s request deadline; group commit sizes past 1000 items", async () => {
    const text = (await request(bases[0]!, "GET", "/metrics")).text
    const bounds = (name: string) =>
      [...text.matchAll(new RegExp(`^${name}_bucket\\{.*le="([^"]+)"\\}`, "gm"))].map((m) => Number(m[1]))
    expect(Math.max(...bounds("tracklog_http_request_duration_seconds").filter(Number.isFinite))).toBeGreaterThan(10)
    expect(Math.max(...bounds("tracklog_store_group_commit_batch_size").filter(Number.isFinite)))
      .toBeGreaterThanOrEqual(1000)
  })
})

describe("Effect's fiber metrics, off as main.ts asks (RuntimeFlags.disableRuntimeMetrics)", () => {
  const fiberStarted = Metric.counter("effect_fiber_started", { incremental: true })
  // Reading the registry on a runtime that records nothing: the read itself must not count.
  const quiet = Runtime.defaultRuntime.pipe(Runtime.disableRuntimeFlag(RuntimeFlags.RuntimeMetrics))
  const started = () => Runtime.runSync(quiet)(Metric.value(fiberStarted)).count

  const scope = Effect.runSync(Scope.make())
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

  it("no request, stream, scrape or group commit of the server starts a counted fiber (on PostgreSQL)", async () => {
    const db = await Effect.runPromise(Scope.extend(TestDatabase.server, scope))
    const postgres = StorePostgres.layer({ url: db.url, maxConnections: db.maxConnections })
    const server = await Effect.runPromise(
      Scope.extend(
        Effect.provide(start(postgres, { metrics: true, rateLimit }), RuntimeFlags.disableRuntimeMetrics),
        scope
      )
    )
    const before = started()
    await traffic(server.url)
    expect((await request(server.url, "GET", "/metrics")).status).toBe(200)
    expect(started() - before).toBe(0)
  }, 120_000)
})
