/**
 * behaviour §9 over real HTTP and through the web handler, the same rules in both (`Pipeline`):
 * `GET /metrics` (parsed by a strict exposition-format reader), the per-key rate limit, 405 with
 * `Allow`, and the case-insensitive `Bearer` scheme.
 */
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as RateLimiter from "../src/RateLimiter.js"
import * as ServerConfig from "../src/ServerConfig.js"
import { projectA, projectB, request, start, startWebHandler } from "./TestServer.js"

type Options = { readonly metrics?: boolean; readonly rateLimit?: RateLimiter.Limit }

interface Transport {
  readonly name: string
  readonly start: (options: Options) => Effect.Effect<{ readonly url: string }, unknown, Scope.Scope>
}

const transports: ReadonlyArray<Transport> = [
  { name: "node server", start: (options) => start(StoreMemory.layer, options) },
  { name: "web handler", start: (options) => startWebHandler(StoreMemory.layer, options) }
]

const serveOn = (transport: Transport, options: Options) => {
  const scope = Effect.runSync(Scope.make())
  let base = ""
  beforeAll(async () => {
    base = (await Effect.runPromise(Scope.extend(transport.start(options), scope))).url
  })
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  return () => base
}

interface Sample {
  readonly name: string
  readonly labels: Record<string, string>
  readonly value: number
}

// A strict reader of text format 0.0.4: every line is a comment (HELP/TYPE), a sample, or blank;
// every sample belongs to a family declared by TYPE before it; names and labels are well formed.
const parsePrometheus = (text: string) => {
  const types = new Map<string, string>()
  const samples: Array<Sample> = []
  const name = "[a-zA-Z_:][a-zA-Z0-9_:]*"
  const sampleLine = new RegExp(`^(${name})(\\{(.*)\\})? (\\S+)$`)
  const labelPair = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\"n])*)"(,|$)/
  expect(text.endsWith("\n")).toBe(true)
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ")) {
      expect(line).toMatch(new RegExp(`^# HELP ${name} .*$`))
      continue
    }
    if (line.startsWith("# TYPE ")) {
      const m = new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`).exec(line)
      expect(m, line).not.toBeNull()
      expect(types.has(m![1]!), `TYPE twice for ${m![1]}`).toBe(false)
      types.set(m![1]!, m![2]!)
      continue
    }
    expect(line.startsWith("#"), line).toBe(false)
    const m = sampleLine.exec(line)
    expect(m, line).not.toBeNull()
    const labels: Record<string, string> = {}
    let rest = m![3] ?? ""
    while (rest.length > 0) {
      const l = labelPair.exec(rest)
      expect(l, `labels of ${line}`).not.toBeNull()
      labels[l![1]!] = l![2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\")
      rest = rest.slice(l![0].length)
    }
    const value = m![4] === "+Inf" ? Infinity : m![4] === "-Inf" ? -Infinity : Number(m![4])
    expect(Number.isNaN(value) && m![4] !== "NaN", line).toBe(false)
    const family = [...types.keys()].find((f) =>
      m![1] === f || (types.get(f) === "histogram" && [`${f}_bucket`, `${f}_sum`, `${f}_count`].includes(m![1]!)) ||
      (types.get(f) === "summary" && [`${f}_sum`, `${f}_count`].includes(m![1]!))
    )
    expect(family, `sample ${m![1]} has no TYPE before it`).toBeDefined()
    samples.push({ name: m![1]!, labels, value })
  }
  return { types, samples }
}

const valueOf = (samples: ReadonlyArray<Sample>, name: string, labels: Record<string, string>) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0)

const track = (base: string, key: string, email: string) =>
  request(base, "POST", "/v1/track", { key, body: { email, event: "signed-up" } })

for (const transport of transports) {
  const serve = (options: Options) => serveOn(transport, options)

  describe(`GET /metrics (${transport.name})`, () => {
    const base = serve({ metrics: true })

    it("is Prometheus text whose request counter, duration histogram and store timings move after tracks", async () => {
      const before = parsePrometheus((await request(base(), "GET", "/metrics")).text)
      for (let i = 0; i < 5; i++)
        expect((await track(base(), projectA.publicKey, `m${i}@example.com`)).status).toBe(200)
      expect((await track(base(), "pk_nope", "x@example.com")).status).toBe(401)
      const answer = await request(base(), "GET", "/metrics")
      expect(answer.status).toBe(200)
      expect(answer.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8")
      const after = parsePrometheus(answer.text)
      const ok = { route: "/v1/track", method: "POST", status: "200" }
      expect(
        valueOf(after.samples, "tracklog_http_requests_total", ok) -
          valueOf(before.samples, "tracklog_http_requests_total", ok)
      ).toBe(5)
      expect(valueOf(after.samples, "tracklog_http_requests_total", { route: "/v1/track", status: "401" }))
        .toBeGreaterThanOrEqual(1)
      expect(after.types.get("tracklog_http_requests_total")).toBe("counter")
      expect(after.types.get("tracklog_http_request_duration_seconds")).toBe("histogram")
      const count = (s: ReturnType<typeof parsePrometheus>) =>
        valueOf(s.samples, "tracklog_http_request_duration_seconds_count", { route: "/v1/track" })
      expect(count(after) - count(before)).toBe(6)
      const inf = valueOf(after.samples, "tracklog_http_request_duration_seconds_bucket", {
        route: "/v1/track",
        le: "+Inf"
      })
      expect(inf).toBe(count(after))
      const appends = valueOf(after.samples, "tracklog_store_operation_duration_seconds_count", {
        port: "event_store",
        operation: "append"
      })
      expect(appends).toBeGreaterThanOrEqual(5)
      expect(after.types.get("tracklog_stream_subscribers")).toBe("gauge")
      expect(after.types.get("tracklog_stream_lag_events")).toBe("gauge")
    })

    it("times a store operation from when it runs, also one built once and run again (a cached key's check)", async () => {
      // The key lookups' histogram, its sum and count read from one scrape.
      const lookups = async () => {
        const { samples } = parsePrometheus((await request(base(), "GET", "/metrics")).text)
        const of = (name: string) => valueOf(samples, name, { port: "projects", operation: "findByKeyHash" })
        return {
          sum: of("tracklog_store_operation_duration_seconds_sum"),
          count: of("tracklog_store_operation_duration_seconds_count")
        }
      }
      // The key is cached by a first track; a 422 with it writes nothing, so it checks the key again.
      expect((await track(base(), projectB.publicKey, "first@example.com")).status).toBe(200)
      await new Promise((done) => setTimeout(done, 400))
      const before = await lookups()
      const invalid = await request(base(), "POST", "/v1/track", { key: projectB.publicKey, body: { email: "nope" } })
      expect(invalid.status).toBe(422)
      const after = await lookups()
      expect(after.count).toBeGreaterThan(before.count)
      // A lookup in memory takes microseconds, not the time since the key was cached.
      expect(after.sum - before.sum).toBeLessThan(0.2)
    })

    it("declares a counter only for what never goes down: one that can (effect_fiber_active) is a gauge", async () => {
      // A counter Effect lets go down (not `incremental`), moved both ways.
      const upAndDown = Metric.counter("tracklog_test_up_and_down")
      await Effect.runPromise(Effect.zipRight(Metric.increment(upAndDown), Metric.incrementBy(upAndDown, -1)))
      const { types } = parsePrometheus((await request(base(), "GET", "/metrics")).text)
      expect(types.get("tracklog_test_up_and_down")).toBe("gauge")
      expect(types.get("tracklog_http_requests_total")).toBe("counter")
    })

    it("needs no key, and another method on it is a 405", async () => {
      expect((await request(base(), "GET", "/metrics")).status).toBe(200)
      const post = await request(base(), "POST", "/metrics")
      expect(post.status).toBe(405)
      expect(post.headers.get("allow")).toBe("GET, HEAD")
      expect(post.body.error.code).toBe("METHOD_NOT_ALLOWED")
      const openApi = await request(base(), "POST", "/openapi.json")
      expect(openApi.status).toBe(405)
      expect(openApi.headers.get("allow")).toBe("GET, HEAD")
    })
  })

  describe(`TRACKLOG_METRICS=off (${transport.name})`, () => {
    const base = serve({ metrics: false })
    it("GET /metrics is a 404 NOT_FOUND", async () => {
      const answer = await request(base(), "GET", "/metrics")
      expect(answer.status).toBe(404)
      expect(answer.body.error.code).toBe("NOT_FOUND")
    })
  })

  describe(`rate limit (${transport.name})`, () => {
    const base = serve({ rateLimit: { perSecond: 1, burst: 3 } })

    it("a burst beyond the bucket gets 429 with Retry-After, stores nothing, and leaves other keys alone", async () => {
      const answers = []
      for (let i = 0; i < 5; i++) answers.push(await track(base(), projectA.secretKey, `burst${i}@example.com`))
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429, 429])
      const limited = answers[3]!
      expect(limited.body.success).toBe(false)
      expect(limited.body.error.code).toBe("RATE_LIMIT_EXCEEDED")
      expect(limited.body.error.statusCode).toBe(429)
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
      expect(limited.headers.get("x-request-id")).toBe(limited.body.error.requestId)
      const other = await track(base(), projectB.publicKey, "other@example.com")
      expect(other.status).toBe(200)
    })

    it("counts a key sent with several spaces after `Bearer` in that key's bucket (the parser auth uses)", async () => {
      // Project B's secret key, untouched by the other tests here; three requests spend its burst.
      const spaced = (spaces: string) =>
        request(base(), "GET", "/contacts?limit=1", {
          headers: { authorization: `Bearer${spaces}${projectB.secretKey}` }
        })
      const answers = []
      for (const spaces of [" ", "  ", "   ", "  "]) answers.push(await spaced(spaces))
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429])
      expect(answers[3]!.body.error.code).toBe("RATE_LIMIT_EXCEEDED")
    })

    it("nothing of a refused request is stored", async () => {
      // Project A's secret key is spent; its public key has its own bucket.
      const answers = []
      for (let i = 0; i < 3; i++) answers.push(await track(base(), projectA.publicKey, `burst${i}@example.com`))
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200])
      // The contacts of the refused requests do not exist: wait for a token, then look them up.
      await new Promise((r) => setTimeout(r, 1100))
      const found = await request(base(), "GET", "/contacts?email=burst3%40example.com", { key: projectA.secretKey })
      expect(found.status).toBe(200)
      expect(found.body.data).toEqual([])
    })
  })

  describe(`405 and the Bearer scheme (${transport.name})`, () => {
    const base = serve({})
    it("GET /v1/track is a 405 METHOD_NOT_ALLOWED in the envelope, with Allow", async () => {
      const answer = await request(base(), "GET", "/v1/track", { key: projectA.publicKey })
      expect(answer.status).toBe(405)
      expect(answer.body.error.code).toBe("METHOD_NOT_ALLOWED")
      expect(answer.body.error.statusCode).toBe(405)
      expect(answer.headers.get("allow")).toBe("POST, OPTIONS")
      const contacts = await request(base(), "DELETE", "/contacts", { key: projectA.secretKey })
      expect(contacts.status).toBe(405)
      expect(contacts.headers.get("allow")).toContain("GET")
      expect((await request(base(), "GET", "/no-such-route")).status).toBe(404)
    })

    it("the scheme name is case-insensitive", async () => {
      for (const scheme of ["bearer", "BEARER", "bEaReR"]) {
        const answer = await request(base(), "POST", "/v1/track", {
          headers: { authorization: `${scheme} ${projectA.publicKey}` },
          body: { email: `${scheme}@example.com`, event: "e" }
        })
        expect(answer.status).toBe(200)
      }
      const bad = await request(base(), "POST", "/v1/track", {
        headers: { authorization: `Basic ${projectA.publicKey}` },
        body: { email: "b@example.com", event: "e" }
      })
      expect(bad.body.error.code).toBe("MISSING_AUTH")
    })
  })
}

// A HEAD over a raw socket, `Connection: close`: resolves with what the server sent once it ends
// the answer and closes, or with `"(still open)"` after 3 s.
const rawHead = (base: string, path: string, headers: Record<string, string> = {}) =>
  new Promise<string>((resolve) => {
    const url = new URL(base)
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")
    const socket = Net.connect(Number(url.port), url.hostname, () =>
      socket.write(`HEAD ${path} HTTP/1.1\r\nHost: x\r\n${lines}Connection: close\r\n\r\n`))
    let out = ""
    const timer = setTimeout(() => {
      socket.destroy()
      resolve("(still open)")
    }, 3_000)
    socket.on("data", (c: Buffer) => (out += c.toString("latin1")))
    socket.on("close", () => {
      clearTimeout(timer)
      resolve(out)
    })
    socket.on("error", () => {})
  })

for (const transport of transports) {
  describe(`HEAD (${transport.name})`, () => {
    const base = serveOn(transport, { metrics: true })

    it("answers HEAD on every GET route as GET without a body: same status and headers, GET's content-length", async () => {
      const email = `head-${Date.now()}@example.com`
      const contact = (await track(base(), projectA.publicKey, email)).body.data.contact
      const sk = projectA.secretKey
      const routes: ReadonlyArray<readonly [string, string?]> = [
        ["/health"],
        ["/openapi.json"],
        ["/docs"],
        ["/contacts", sk],
        [`/contacts?email=${encodeURIComponent(email)}`, sk],
        [`/contacts/${contact}`, sk],
        [`/contacts/${contact}?at=2000-01-01T00:00:00Z`, sk],
        [`/contacts/${contact}/events`, sk],
        // Failures too: no key, the wrong key, an unknown contact, a bad limit.
        ["/contacts"],
        ["/contacts", "sk_nope"],
        ["/contacts", projectA.publicKey],
        ["/contacts/00000000-0000-7000-8000-000000000000", sk],
        ["/contacts?limit=0", sk]
      ]
      for (const [path, key] of routes) {
        const options = key === undefined ? {} : { key }
        const get = await request(base(), "GET", path, options)
        const head = await request(base(), "HEAD", path, options)
        const what = `HEAD ${path} ${key ?? "(no key)"}`
        expect(head.status, what).toBe(get.status)
        expect(head.text, what).toBe("")
        for (const name of ["content-type", "www-authenticate", "allow", "access-control-allow-origin"]) {
          expect(head.headers.get(name), `${what}: ${name}`).toBe(get.headers.get(name))
        }
        expect(head.headers.get("content-length"), what).toBe(String(Buffer.byteLength(get.text)))
        expect(head.headers.get("x-request-id"), what).toMatch(/^[0-9a-f-]{36}$/)
      }
    })

    it("HEAD /metrics: 200 with the text format's content type, no body", async () => {
      const head = await request(base(), "HEAD", "/metrics")
      expect(head.status).toBe(200)
      expect(head.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8")
      expect(Number(head.headers.get("content-length"))).toBeGreaterThan(0)
      expect(head.text).toBe("")
    })

    it("HEAD /events/stream answers the stream's headers and ends, opening no stream; a bad cursor is its 400", async () => {
      if (transport.name === "node server") {
        const answer = await rawHead(base(), "/events/stream", { authorization: `Bearer ${projectA.secretKey}` })
        expect(answer).toMatch(/^HTTP\/1\.1 200 /)
        expect(answer.toLowerCase()).toContain("content-type: text/event-stream")
        // Nothing after the header block: no `retry:`, no event.
        expect(answer.endsWith("\r\n\r\n")).toBe(true)
        expect(answer.indexOf("\r\n\r\n")).toBe(answer.length - 4)
      } else {
        const response = await fetch(`${base()}/events/stream`, {
          method: "HEAD",
          headers: { authorization: `Bearer ${projectA.secretKey}` }
        })
        expect(response.status).toBe(200)
        expect(response.headers.get("content-type")).toBe("text/event-stream")
        expect(response.body).toBeNull()
      }
      const bad = await request(base(), "HEAD", "/events/stream?after=nope", { key: projectA.secretKey })
      expect(bad.status).toBe(400)
      expect(bad.text).toBe("")
      const { samples } = parsePrometheus((await request(base(), "GET", "/metrics")).text)
      expect(valueOf(samples, "tracklog_stream_subscribers", {})).toBe(0)
    })

    it("a 405's Allow names HEAD wherever it names GET; HEAD where there is no GET is a 405", async () => {
      for (const path of ["/health", "/metrics", "/openapi.json", "/docs"]) {
        const post = await request(base(), "POST", path)
        expect(post.status, path).toBe(405)
        expect(post.headers.get("allow"), path).toBe("GET, HEAD")
      }
      const contacts = await request(base(), "PUT", "/contacts", { key: projectA.secretKey })
      expect(contacts.headers.get("allow")).toBe("GET, HEAD")
      const contact = await request(base(), "PUT", "/contacts/x", { key: projectA.secretKey })
      expect(contact.headers.get("allow")?.split(", ").sort()).toEqual(["DELETE", "GET", "HEAD", "PATCH"])
      const head = await request(base(), "HEAD", "/v1/track", { key: projectA.publicKey })
      expect(head.status).toBe(405)
      expect(head.headers.get("allow")).toBe("POST, OPTIONS")
      expect(head.text).toBe("")
      const suppressions = await request(base(), "HEAD", "/suppressions", { key: projectA.secretKey })
      expect(suppressions.status).toBe(405)
      expect(suppressions.headers.get("allow")).toBe("DELETE")
    })
  })
}

describe("RateLimiter", () => {
  it("a flood of 100k random keys keeps the buckets bounded", () => {
    let now = 0
    const limiter = RateLimiter.make({ perSecond: 10, burst: 20 }, { maxBuckets: 5_000, now: () => now })
    let most = 0
    let refused = 0
    for (let i = 0; i < 100_000; i++) {
      now += 0.01
      if (!limiter.take(`hash-${Math.random()}`).allowed) refused++
      most = Math.max(most, limiter.buckets())
    }
    expect(refused).toBe(0)
    expect(most).toBeLessThanOrEqual(5_000)
    expect(limiter.buckets()).toBeGreaterThan(0)
  })

  it("idle buckets are dropped once refilled, and a key that waits gets its tokens back", () => {
    let now = 0
    const limiter = RateLimiter.make({ perSecond: 2, burst: 2 }, { maxBuckets: 10, now: () => now })
    expect(limiter.take("a").allowed).toBe(true)
    expect(limiter.take("a").allowed).toBe(true)
    const refused = limiter.take("a")
    expect(refused).toEqual({ allowed: false, retryAfterSeconds: 1 })
    now += 600
    expect(limiter.take("a").allowed).toBe(true)
    for (let i = 0; i < 9; i++) limiter.take(`k${i}`)
    now += 5_000
    limiter.take("new")
    expect(limiter.buckets()).toBe(1)
  })

  it("parses <rate>[:<burst>] and refuses anything else", () => {
    expect(Either.getOrThrow(RateLimiter.parse("100"))).toEqual({ perSecond: 100, burst: 100 })
    expect(Either.getOrThrow(RateLimiter.parse("2.5:10"))).toEqual({ perSecond: 2.5, burst: 10 })
    expect(RateLimiter.parse("0.5:3")._tag).toBe("Right")
    expect(RateLimiter.parse("10:0")._tag).toBe("Left")
    expect(RateLimiter.parse("fast")._tag).toBe("Left")
    expect(RateLimiter.parse("0")._tag).toBe("Left")
  })
})

describe("configuration", () => {
  const read = (env: Record<string, string>) =>
    Effect.runSync(
      Effect.either(
        Effect.withConfigProvider(ServerConfig.ServerConfig, ConfigProvider.fromMap(new Map(Object.entries(env))))
      )
    )

  it("TRACKLOG_METRICS is on by default and off when asked; TRACKLOG_RATE_LIMIT is off by default and parsed when set", () => {
    const defaults = Either.getOrThrow(read({ TRACKLOG_STORE: "memory" }))
    expect(defaults.metrics).toBe(true)
    expect(defaults.rateLimit._tag).toBe("None")
    const set = Either.getOrThrow(
      read({ TRACKLOG_STORE: "memory", TRACKLOG_METRICS: "off", TRACKLOG_RATE_LIMIT: "5:10" })
    )
    expect(set.metrics).toBe(false)
    expect(set.rateLimit).toEqual(Option.some({ perSecond: 5, burst: 10 }))
    expect(Either.isLeft(read({ TRACKLOG_STORE: "memory", TRACKLOG_RATE_LIMIT: "lots" }))).toBe(true)
    expect(Either.isLeft(read({ TRACKLOG_STORE: "memory", TRACKLOG_METRICS: "maybe" }))).toBe(true)
  })

  it("TRACKLOG_PG_PREPARE is on by default for the PostgreSQL store, off when asked, and nothing else", () => {
    const url = "postgres://postgres@127.0.0.1:5432/test"
    expect(Either.getOrThrow(read({ DATABASE_URL: url })).store).toEqual({ _tag: "postgres", url, prepare: true })
    expect(Either.getOrThrow(read({ DATABASE_URL: url, TRACKLOG_PG_PREPARE: "off" })).store).toEqual({
      _tag: "postgres",
      url,
      prepare: false
    })
    expect(Either.isLeft(read({ DATABASE_URL: url, TRACKLOG_PG_PREPARE: "no" }))).toBe(true)
  })

  it("the PostgreSQL store without a DATABASE_URL (unset, empty or blank) is a configuration error naming it", () => {
    for (
      const env of [
        { TRACKLOG_STORE: "postgres" },
        { TRACKLOG_STORE: "postgres", DATABASE_URL: "" },
        { TRACKLOG_STORE: "postgres", DATABASE_URL: " " },
        { DATABASE_URL: "" }
      ]
    ) {
      const read_ = read(env)
      expect(Either.isLeft(read_), JSON.stringify(env)).toBe(true)
      expect(String(Either.getLeft(read_).pipe(Option.getOrThrow))).toMatch(/DATABASE_URL/)
      // The CLI reads the same store configuration.
      const store = Effect.runSync(Effect.either(Effect.withConfigProvider(
        ServerConfig.StoreConfig,
        ConfigProvider.fromMap(new Map(Object.entries(env)))
      )))
      expect(Either.isLeft(store), JSON.stringify(env)).toBe(true)
    }
    // Another store does not need it, empty or not.
    expect(Either.getOrThrow(read({ TRACKLOG_STORE: "memory", DATABASE_URL: "" })).store).toEqual({ _tag: "memory" })
  })
})
