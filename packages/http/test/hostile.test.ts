/**
 * Hostile input over real HTTP, on each store: fuzzed and hand-picked bodies, content types,
 * encodings, sizes, nesting, keys and read-route parameters. For every answer:
 * - never 5xx;
 * - a non-2xx answer is the behaviour §2 envelope, its `X-Request-ID` equal to `error.requestId`;
 * - a rejected request changes nothing (contacts of the project, events of the contacts concerned);
 * - an accepted request was valid per behaviour §1.2 (judged by an oracle written from the behaviour doc, not
 *   from `TrackCommand`), and round-trips exactly through `GET /contacts/:id` and its events
 *   (email canonical, `subscribed` and the §1.5 data merge, the event's name and data verbatim);
 * - nothing pollutes the prototypes of the server's process, which is this one.
 */
import type * as Store from "@tracklog/core/Store"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import type * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { isUtf8 } from "node:buffer"
import * as Http from "node:http"
import * as Net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Answer, projectA, projectB, request, start } from "./TestServer.js"

/** Runs per property; raise with TRACKLOG_FUZZ_RUNS for a longer hunt. */
const NumRuns = Math.max(1, Number(process.env["TRACKLOG_FUZZ_RUNS"] ?? 25))
const SmallLimit = 64 * 1024
const BigLimit = 1024 * 1024
const MaxDataSize = 512 * 1024

let fuzzCases = 0
let checkedRequests = 0
afterAll(() => {
  console.log(
    `[hostile.test] fuzz cases run: ${fuzzCases} (numRuns ${NumRuns} per property); track requests fully checked: ${checkedRequests}`
  )
})

// ---------------------------------------------------------------------------------------------
// The oracle: behaviour §1.2, §1.3, §1.5 (locale) and the data limits of ADR 0006, written here again.
// "unknown" is for inputs the behaviour doc does not decide (an address that is neither plainly valid nor
// plainly invalid, a body that is not well-formed UTF-8): either answer is fine, but never a 5xx,
// and an accepted one must round-trip.
// ---------------------------------------------------------------------------------------------

type Verdict = "valid" | "invalid" | "unknown"

const worst = (verdicts: ReadonlyArray<Verdict>): Verdict =>
  verdicts.includes("invalid") ? "invalid" : verdicts.includes("unknown") ? "unknown" : "valid"

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const LoneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
// Controls, spaces, soft hyphen, zero-width and bidi format characters, BOM, U+FFFD: never part of an address.
const NeverInAddress = /[\u0000-\u0020\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff\ufffd]/
const PlainAddress = /^[a-z0-9]+(?:[._+-][a-z0-9]+)*@(?:[a-z0-9]+(?:-[a-z0-9]+)*\.)+[a-z]{2,24}$/

const emailVerdict = (email: unknown): Verdict => {
  if (typeof email !== "string") return "invalid"
  const trimmed = email.trim()
  const canonical = trimmed.toLowerCase()
  const at = canonical.lastIndexOf("@")
  if (canonical.length === 0 || trimmed.length > 254 || at <= 0 || at === canonical.length - 1 || at > 64)
    return "invalid"
  if (NeverInAddress.test(canonical) || LoneSurrogate.test(canonical)) return "invalid"
  const domain = canonical.slice(at + 1)
  if (domain.startsWith(".") || domain.includes("..") || domain.startsWith("-") || canonical.startsWith("."))
    return "invalid"
  if (canonical.includes(".@") || canonical.slice(0, at).includes("..")) return "invalid"
  if (canonical.length <= 254 && PlainAddress.test(canonical) && domain.split(".").every((l) => l.length <= 63))
    return "valid"
  return "unknown"
}

const isReservedEvent = (name: string) =>
  name.startsWith("email.") || name === "contact.subscribed" || name === "contact.unsubscribed" ||
  (name.startsWith("segment.") && (name.endsWith(".entry") || name.endsWith(".exit")))

// NUL and unpaired surrogates are rejected (docs/decisions/0006-http-edge-cases.md).
const isStorableText = (s: string) => !s.includes("\u0000") && !LoneSurrogate.test(s)
const hasUnstorableText = (value: unknown): boolean => {
  // Non-finite numbers (1e400 parses to Infinity) are rejected as well (invalid_number).
  if (typeof value === "number") return !Number.isFinite(value)
  if (typeof value === "string") return !isStorableText(value)
  if (Array.isArray(value)) return value.some(hasUnstorableText)
  if (isPlainObject(value)) return Object.entries(value).some(([k, v]) => !isStorableText(k) || hasUnstorableText(v))
  return false
}

const eventVerdict = (event: unknown): Verdict => {
  if (typeof event !== "string") return "invalid"
  if (event.length < 1 || event.length > 256 || event.trim().length === 0 || isReservedEvent(event)) return "invalid"
  if (!isStorableText(event)) return "invalid"
  // Only characters that some definition of "whitespace" or "invisible" counts: the behaviour doc does not say.
  if (/^[\s\u0085\u180e\u200b-\u200d\u2060\ufeff]*$/.test(event)) return "unknown"
  return "valid"
}

const deeperThan = (value: unknown, levels: number): boolean => {
  if (typeof value !== "object" || value === null) return false
  if (levels === 0) return true
  for (const child of Array.isArray(value) ? value : Object.values(value))
    if (deeperThan(child, levels - 1)) return true
  return false
}

const dataVerdict = (data: unknown): Verdict => {
  if (!isPlainObject(data)) return "invalid"
  const keys = Object.keys(data)
  if (keys.length > 512 || keys.some((k) => k.length > 256)) return "invalid"
  // Up to 16 levels of arrays and objects below `data` itself.
  if (deeperThan(data, 17)) return "invalid"
  if (hasUnstorableText(data)) return "invalid"
  if (JSON.stringify(data).length > MaxDataSize) return "invalid"
  if (Object.hasOwn(data, "locale") && data["locale"] !== null && typeof data["locale"] !== "string") return "invalid"
  return "valid"
}

const verdictOf = (body: unknown): Verdict => {
  if (!isPlainObject(body)) return "invalid"
  const verdicts: Array<Verdict> = [emailVerdict(body["email"]), eventVerdict(body["event"])]
  for (const field of ["subscribed", "preserveExistingSubscription"]) {
    if (Object.hasOwn(body, field) && typeof body[field] !== "boolean") verdicts.push("invalid")
  }
  if (Object.hasOwn(body, "data")) verdicts.push(dataVerdict(body["data"]))
  return worst(verdicts)
}

const ReservedDataKeys = [
  "id",
  "email",
  "subscribed",
  "createdAt",
  "updatedAt",
  "plunk_id",
  "plunk_email",
  "unsubscribeUrl",
  "subscribeUrl",
  "manageUrl"
]

/** behaviour §1.5: the contact's data after the patch, keys in order (a replaced key keeps its place). */
const mergedData = (current: Record<string, unknown>, incoming: unknown): Record<string, unknown> => {
  const next = new Map(Object.entries(current))
  for (const [key, raw] of Object.entries(isPlainObject(incoming) ? incoming : {})) {
    if (ReservedDataKeys.includes(key) || raw === "") continue
    if (raw === null) {
      next.delete(key)
      continue
    }
    let value: unknown = raw
    if (
      isPlainObject(raw) && Object.keys(raw).length === 2 && Object.hasOwn(raw, "value") &&
      typeof raw["persistent"] === "boolean"
    ) {
      if (raw["persistent"] === false) continue
      value = raw["value"]
    }
    next.set(key, value)
  }
  return Object.fromEntries(next)
}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

const Uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const CodesByStatus: Record<number, ReadonlyArray<string>> = {
  400: ["VALIDATION_ERROR"],
  401: ["MISSING_AUTH", "INVALID_API_KEY"],
  403: ["FORBIDDEN"],
  404: ["NOT_FOUND", "CONTACT_NOT_FOUND"],
  413: ["PAYLOAD_TOO_LARGE"],
  431: ["REQUEST_HEADER_FIELDS_TOO_LARGE"],
  422: ["VALIDATION_ERROR"],
  429: ["RATE_LIMIT_EXCEEDED"]
}

const preview = (text: string) =>
  JSON.stringify(text.length > 160 ? `${text.slice(0, 160)}…(${text.length} chars)` : text)

/** A 4xx answer in the behaviour §2 envelope; `status` and `code` when given. */
const expectEnvelope = (answer: Answer, status?: number, code?: string) => {
  expect(answer.status, `expected a 4xx, got ${answer.status}: ${preview(answer.text)}`).toBeGreaterThanOrEqual(400)
  expect(answer.status, `expected a 4xx, got ${answer.status}: ${preview(answer.text)}`).toBeLessThan(500)
  if (status !== undefined) expect(answer.status, preview(answer.text)).toBe(status)
  expect(answer.headers.get("content-type") ?? "(no content-type)", preview(answer.text)).toMatch(/^application\/json/)
  const body = answer.body
  expect(isPlainObject(body), `not a JSON object: ${preview(answer.text)}`).toBe(true)
  expect(Object.keys(body).sort()).toEqual(["error", "success", "timestamp"])
  expect(body.success).toBe(false)
  expect(CodesByStatus[answer.status] ?? []).toContain(body.error.code)
  if (code !== undefined) expect(body.error.code).toBe(code)
  expect(typeof body.error.message).toBe("string")
  expect(body.error.message.length).toBeGreaterThan(0)
  expect(body.error.statusCode).toBe(answer.status)
  expect(body.error.requestId).toMatch(Uuid)
  expect(answer.headers.get("x-request-id")).toBe(body.error.requestId)
  expect(new Date(body.timestamp).toISOString()).toBe(body.timestamp)
  if (body.error.errors !== undefined) {
    expect(body.error.code).toBe("VALIDATION_ERROR")
    expect(body.error.errors.length).toBeGreaterThan(0)
    for (const e of body.error.errors) {
      expect(Object.keys(e).sort()).toEqual(["code", "field", "message"])
      for (const v of Object.values(e)) expect(typeof v).toBe("string")
    }
  }
}

/** Any answer of a read route: never 5xx; non-2xx in the envelope; 2xx a JSON object. */
const expectReadAnswer = (answer: Answer, label: string) => {
  expect(answer.status, `5xx for ${label}: ${preview(answer.text)}`).toBeLessThan(500)
  if (answer.status >= 300) expectEnvelope(answer)
  else {
    expect(answer.status).toBe(200)
    expect(isPlainObject(answer.body), label).toBe(true)
  }
}

/** Runs the check on every input, then fails once listing every input that failed. */
const allOf = async <A>(inputs: ReadonlyArray<A>, check: (input: A) => Promise<void>) => {
  const failures: Array<string> = []
  for (const input of inputs) {
    try {
      await check(input)
    } catch (error) {
      failures.push(
        `${preview(typeof input === "string" ? input : JSON.stringify(input))}: ${
          String((error as Error).message).split("\n")[0]
        }`
      )
    }
  }
  expect(failures, `${failures.length} of ${inputs.length} failed:\n${failures.join("\n")}`).toEqual([])
}

const fieldsOf = (answer: Answer) =>
  (answer.body.error.errors as Array<{ field: string; code: string }>).map((e) => [e.field, e.code])

// ---------------------------------------------------------------------------------------------
// Prototype pollution: the server runs in this process.
// ---------------------------------------------------------------------------------------------

const prototypes = [
  Object.prototype,
  Array.prototype,
  Function.prototype,
  String.prototype,
  Number.prototype,
  Boolean.prototype
]
const prototypeShape = () => prototypes.map((p) => Object.getOwnPropertyNames(p).sort().join(",")).join("|")
let cleanShape = prototypeShape()

const expectNoPollution = () => {
  expect(prototypeShape()).toBe(cleanShape)
  const probe: Record<string, unknown> = {}
  for (const k of ["polluted", "isAdmin", "value", "persistent", "email", "event", "subscribed"])
    expect(probe[k]).toBeUndefined()
  expect(Object.getPrototypeOf(probe)).toBe(Object.prototype)
  expect(Object.getPrototypeOf([])).toBe(Array.prototype)
}

// ---------------------------------------------------------------------------------------------
// Transport
// ---------------------------------------------------------------------------------------------

interface Target {
  readonly url: string
  readonly limit: number
  readonly knownId: string
}

const encoder = new TextEncoder()
const bytesOf = (parts: ReadonlyArray<string | Uint8Array | ReadonlyArray<number>>) =>
  Buffer.concat(parts.map((p) => typeof p === "string" ? encoder.encode(p) : Uint8Array.from(p)))

/** POSTs raw bytes; `contentType: null` sends none. */
const postBytes = async (
  base: string,
  bytes: Uint8Array,
  options: { readonly contentType?: string | null; readonly key?: string } = {}
): Promise<Answer> => {
  const headers: Record<string, string> = { authorization: `Bearer ${options.key ?? projectA.publicKey}` }
  const contentType = options.contentType === undefined ? "application/json" : options.contentType
  if (contentType !== null) headers["content-type"] = contentType
  const response = await fetch(`${base}/v1/track`, {
    method: "POST",
    headers,
    body: bytes,
    signal: AbortSignal.timeout(30_000)
  })
  const text = await response.text()
  let body: any
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  return { status: response.status, headers: response.headers, body, text }
}

/** A request over `node:http`, for what fetch will not send: chunked uploads, raw header blocks. */
const rawRequest = (
  base: string,
  options: {
    readonly method: string
    readonly path: string
    readonly headers: Http.OutgoingHttpHeaders
    readonly chunks: ReadonlyArray<Uint8Array>
  }
) =>
  new Promise<Answer>((resolve, reject) => {
    const url = new URL(base)
    const req = Http.request({
      host: url.hostname,
      port: url.port,
      method: options.method,
      path: options.path,
      headers: options.headers
    })
    req.setTimeout(30_000, () => req.destroy(new Error("timed out")))
    req.on("error", reject)
    req.on("response", (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        let body: any
        try {
          body = JSON.parse(text)
        } catch {
          body = undefined
        }
        const headers = new Headers()
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") headers.set(k, v)
        resolve({ status: res.statusCode ?? 0, headers, body, text })
      })
    })
    // Written one by one: the server may answer 413 before the upload ends.
    const write = (i: number): void => {
      if (i === options.chunks.length) return void req.end()
      if (!req.write(options.chunks[i])) req.once("drain", () => write(i + 1))
      else setImmediate(() => write(i + 1))
    }
    write(0)
  })

const get = (base: string, path: string, key = projectA.secretKey) => request(base, "GET", path, { key })

interface ContactView {
  readonly id: string
  readonly email: string
  readonly subscribed: boolean
  readonly data: Record<string, unknown>
}

/** Every contact of project A, all pages. */
const listAll = async (base: string): Promise<Array<ContactView>> => {
  const rows: Array<ContactView> = []
  let cursor: string | undefined
  for (let page = 0; page < 100; page++) {
    const answer = await get(
      base,
      `/contacts?limit=100${cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`}`
    )
    expect(answer.status, answer.text).toBe(200)
    rows.push(...answer.body.data)
    if (answer.body.hasMore !== true) return rows
    cursor = answer.body.cursor
  }
  throw new Error("more than 100 pages of contacts")
}

const eventsOf = async (base: string, id: string) => {
  const answer = await get(base, `/contacts/${id}/events?limit=1000`)
  expect(answer.status, answer.text).toBe(200)
  return answer.body.data as Array<{ id: string; name: string; data: unknown; createdAt: string }>
}

/** What a track request may change: the project's contacts, and the events of the contacts concerned. */
const stateOf = async (target: Target, email: unknown) => {
  const contacts = await listAll(target.url)
  const canonical = typeof email === "string" ? email.trim().toLowerCase() : undefined
  const prior = canonical === undefined ? undefined : contacts.find((c) => c.email === canonical)
  const ids = prior === undefined || prior.id === target.knownId ? [target.knownId] : [target.knownId, prior.id]
  const events: Array<unknown> = []
  for (const id of ids) events.push(await eventsOf(target.url, id))
  return { text: JSON.stringify({ contacts, events }), prior }
}

/** An accepted track: the answer, and what the read API shows now, against the behaviour doc. */
const expectTracked = async (
  target: Target,
  body: Record<string, unknown>,
  answer: Answer,
  prior: ContactView | undefined
) => {
  expect(answer.body?.success, preview(answer.text)).toBe(true)
  expect(Object.keys(answer.body).sort()).toEqual(["data", "success"])
  expect(Object.keys(answer.body.data).sort()).toEqual(["contact", "event", "timestamp"])
  expect(answer.body.data.contact).toMatch(Uuid)
  expect(answer.body.data.event).toMatch(Uuid)
  expect(answer.headers.get("x-request-id")).toMatch(Uuid)
  const contactId: string = answer.body.data.contact
  if (prior !== undefined) expect(contactId).toBe(prior.id)

  const contact = await get(target.url, `/contacts/${contactId}`)
  expect(contact.status, contact.text).toBe(200)
  expect(contact.body.id).toBe(contactId)
  expect(contact.body.email).toBe((body["email"] as string).trim().toLowerCase())
  const subscribed = prior === undefined
    ? (body["subscribed"] ?? true)
    : body["preserveExistingSubscription"] === true
    ? prior.subscribed
    : (body["subscribed"] ?? prior.subscribed)
  expect(contact.body.subscribed).toBe(subscribed)
  // JSON texts: exact, key order included, and own `__proto__` keys compared as data.
  expect(JSON.stringify(contact.body.data)).toBe(JSON.stringify(mergedData(prior?.data ?? {}, body["data"])))

  const events = (await get(target.url, `/contacts/${contactId}/events?limit=2`)).body.data
  expect(events[0].id).toBe(answer.body.data.event)
  expect(events[0].name).toBe(body["event"])
  expect(JSON.stringify(events[0].data)).toBe(JSON.stringify(body["data"] ?? {}))
  expect(events[0].createdAt).toBe(answer.body.data.timestamp)
  const flipped = prior !== undefined && subscribed !== prior.subscribed
  if (flipped) expect(events[1]?.name).toBe(subscribed ? "contact.subscribed" : "contact.unsubscribed")
  else expect(["contact.subscribed", "contact.unsubscribed"]).not.toContain(events[1]?.name)
}

const NotJson = Symbol("NotJson")

/**
 * Sends one track body (text or raw bytes) with project A's public key and checks everything the
 * file promises: status against the oracle, envelope, unchanged state or exact round trip, no
 * pollution. Returns the answer for further checks.
 */
const attempt = async (
  target: Target,
  payload: string | Uint8Array,
  options: { readonly contentType?: string | null } = {}
): Promise<Answer & { readonly verdict: Verdict }> => {
  const bytes = typeof payload === "string" ? encoder.encode(payload) : payload
  // The server reads the body as UTF-8 (invalid sequences become U+FFFD) and parses it as JSON.
  const text = Buffer.from(bytes).toString("utf8")
  let parsed: unknown = NotJson
  if (text.length === 0) parsed = {}
  else {
    try {
      parsed = JSON.parse(text)
    } catch {
      parsed = NotJson
    }
  }
  let verdict: Verdict = parsed === NotJson ? "invalid" : verdictOf(parsed)
  if (verdict === "valid" && !isUtf8(bytes)) verdict = "unknown"
  const email = isPlainObject(parsed) ? parsed["email"] : undefined
  const before = await stateOf(target, email)

  const answer = await postBytes(target.url, bytes, options)
  checkedRequests++
  const label = `${preview(text)} (${bytes.length} bytes)`
  expect(answer.status, `5xx for ${label}: ${preview(answer.text)}`).toBeLessThan(500)
  if (bytes.length > target.limit) expectEnvelope(answer, 413, "PAYLOAD_TOO_LARGE")
  else if (parsed === NotJson) expectEnvelope(answer, 400, "VALIDATION_ERROR")
  else if (verdict === "invalid") {
    expect(answer.status, `accepted an invalid request ${label}`).not.toBe(200)
    expectEnvelope(answer, 422, "VALIDATION_ERROR")
  } else if (verdict === "valid")
    expect(answer.status, `rejected a valid request ${label}: ${preview(answer.text)}`).toBe(200)

  if (answer.status === 200) await expectTracked(target, parsed as Record<string, unknown>, answer, before.prior)
  else {
    expectEnvelope(answer)
    expect((await stateOf(target, email)).text, `a rejected request changed the store: ${label}`).toBe(before.text)
  }
  expectNoPollution()
  return { ...answer, verdict }
}

const attemptJson = (target: Target, body: unknown) => attempt(target, JSON.stringify(body))

/**
 * Many bodies the oracle rejects, with fresh emails, in one go: each must get `status` in the
 * envelope; the store is compared once, before and after all of them (any write would show as a
 * new contact in the list). Cheaper than `attempt` per body, for long tables of bad input.
 */
const rejectAll = async (target: Target, payloads: ReadonlyArray<string>, status: 400 | 422) => {
  const before = (await stateOf(target, undefined)).text
  const answers: Array<Answer> = []
  for (const payload of payloads) {
    let parsed: unknown = NotJson
    try {
      parsed = JSON.parse(payload)
    } catch {
      parsed = NotJson
    }
    expect(
      parsed === NotJson ? 400 : verdictOf(parsed) === "invalid" ? 422 : 200,
      `the oracle disagrees on ${preview(payload)}`
    ).toBe(status)
    const answer = await postBytes(target.url, encoder.encode(payload))
    checkedRequests++
    expectEnvelope(answer, status, "VALIDATION_ERROR")
    if (status === 400) expect(answer.body.error.message).toBe("Invalid JSON in request body")
    answers.push(answer)
  }
  expect((await stateOf(target, undefined)).text, "a rejected request changed the store").toBe(before)
  expectNoPollution()
  return answers
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const HostileStrings = [
  "",
  " ",
  "\t\n ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udfff",
  "a\ud800b",
  "\udc00\ud800",
  "\ud83d",
  "😀",
  "👩‍👩‍👧‍👦",
  "🏳️‍🌈",
  "\u200f",
  "\u200fעברית\u200f",
  "\u202eevil",
  "\u200b",
  "zero\u200bwidth",
  "\u200d",
  "\ufeff",
  "\u00a0",
  "\u2028",
  "\u0085",
  "\uffff",
  "\ufffe",
  "\u{10ffff}",
  "e\u0301",
  "İ",
  "ß",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "toJSON",
  "then",
  "email.sent",
  "contact.subscribed",
  "contact.unsubscribed",
  "segment.vip.entry",
  "segment.exit",
  "Email.sent",
  "x".repeat(256),
  "x".repeat(257),
  "\\",
  '"',
  "'; DROP TABLE contacts; --",
  "%00",
  "${jndi:ldap://x}",
  "{{7*7}}",
  "a.b",
  "locale",
  "value",
  "persistent",
  "null",
  "true",
  "0",
  "-1",
  "1e999"
]

const anyString = FastCheck.oneof(
  { weight: 3, arbitrary: FastCheck.constantFrom(...HostileStrings) },
  { weight: 2, arbitrary: FastCheck.string({ unit: "binary", maxLength: 20 }) },
  { weight: 1, arbitrary: FastCheck.string({ maxLength: 12 }) }
)

/** Every structural arbitrary over a string arbitrary: hostile strings, or those any store can keep. */
const arbitrariesOver = (strings: FastCheck.Arbitrary<string>) => {
  const dataKey = FastCheck.oneof(
    {
      weight: 2,
      arbitrary: FastCheck.constantFrom(
        "__proto__",
        "constructor",
        "prototype",
        "locale",
        "plan",
        "a.b",
        "",
        ...ReservedDataKeys
      )
    },
    { weight: 3, arbitrary: strings }
  )
  const leaf = FastCheck.oneof(
    strings,
    FastCheck.integer(),
    FastCheck.double(),
    FastCheck.boolean(),
    FastCheck.constant(null),
    FastCheck.constant("")
  )
  const { value: jsonish } = FastCheck.letrec((tie) => ({
    value: FastCheck.oneof(
      { depthSize: "small" },
      leaf,
      FastCheck.array(tie("value"), { maxLength: 3 }),
      tie("object"),
      tie("wrapped")
    ),
    // Built with Object.fromEntries: a `__proto__` key stays an own data property, as JSON.parse makes it.
    object: FastCheck.array(FastCheck.tuple(dataKey, tie("value")), { maxLength: 4 }).map((entries) =>
      Object.fromEntries(entries)
    ),
    wrapped: FastCheck.tuple(
      tie("value"),
      FastCheck.oneof({ weight: 4, arbitrary: FastCheck.boolean() }, { weight: 1, arbitrary: leaf })
    )
      .map(([value, persistent]) => ({ value, persistent }))
  }))
  const dataObject = FastCheck.array(FastCheck.tuple(dataKey, jsonish), { maxLength: 6 }).map((entries) =>
    Object.fromEntries(entries)
  )
  const field = <A>(arbitrary: FastCheck.Arbitrary<A>, absentWeight = 1) =>
    FastCheck.oneof(
      { weight: 6, arbitrary },
      { weight: absentWeight, arbitrary: FastCheck.constant(Absent) },
      { weight: 1, arbitrary: jsonish }
    )
  /** A track body with every field drawn from good values, hostile strings and wrong types. */
  const trackBody = FastCheck.record({
    email: field(FastCheck.oneof(
      { weight: 5, arbitrary: FastCheck.constantFrom(...ValidEmails) },
      { weight: 3, arbitrary: FastCheck.constantFrom(...InvalidEmails) },
      { weight: 1, arbitrary: strings }
    )),
    event: field(FastCheck.oneof(
      {
        weight: 2,
        arbitrary: FastCheck.constantFrom("signup", "purchase", "  Signed Up ", "Email.sent", "contact.created")
      },
      { weight: 3, arbitrary: strings }
    )),
    subscribed: field(FastCheck.boolean(), 4),
    preserveExistingSubscription: field(FastCheck.boolean(), 6),
    data: field(dataObject, 2),
    extra: FastCheck.array(
      FastCheck.tuple(
        FastCheck.oneof(FastCheck.constantFrom("__proto__", "constructor", "prototype"), strings),
        jsonish
      ),
      { maxLength: 3 }
    )
  }).map(({ extra, ...fields }) => {
    const entries: Array<[string, unknown]> = Object.entries(fields).filter(([, v]) => v !== Absent)
    return Object.fromEntries([...extra.slice(0, 1), ...entries, ...extra.slice(1)])
  })
  return { jsonish, trackBody }
}

const ValidEmails = [
  "ada@example.com",
  "  Ada@Example.COM ",
  "grace.hopper+fuzz@navy.example.org",
  "x_y-z@e-x.co",
  "\tLINUS@KERNEL.example.net\n",
  "a@b.co"
]
const InvalidEmails = [
  "",
  "   ",
  "nope",
  "a@",
  "@b.co",
  "a b@c.de",
  "a@b",
  "a@@b.co",
  "a\u0000@b.co",
  "ada@example.com\u0000",
  "\ud800@example.com",
  "ada@exam\u200bple.com",
  "\u200fada@example.com",
  "ada@example.com\u202e",
  `${"a".repeat(65)}@b.co`,
  `${"a".repeat(64)}@${"b".repeat(190)}.co`,
  "ada@example..com",
  ".ada@example.com",
  "ada.@example.com",
  "ada..b@example.com",
  "ada@-example.com",
  "ada@example.com.",
  "ada@.example.com"
]
const Absent = Symbol("Absent")

const hostileArbitraries = arbitrariesOver(anyString)
// NUL and unpaired surrogates left out, so the rest is still fuzzed on a store that fails on them.
const storableArbitraries = arbitrariesOver(anyString.filter((s) => !s.includes("\u0000") && !LoneSurrogate.test(s)))

const fuzz = <T>(arbitrary: FastCheck.Arbitrary<T>, predicate: (value: T) => Promise<void>, numRuns = NumRuns) =>
  FastCheck.assert(
    FastCheck.asyncProperty(arbitrary, async (value) => {
      fuzzCases++
      await predicate(value)
    }),
    { numRuns }
  )

const ValidText = JSON.stringify({
  email: "ada@example.com",
  event: "purchase",
  subscribed: true,
  data: { plan: "pro", n: [1, { a: null }] }
})
const MutationChars = [
  "{",
  "}",
  "[",
  "]",
  '"',
  ":",
  ",",
  "\\",
  "0",
  "a",
  "@",
  ".",
  "-",
  "e",
  " ",
  "\n",
  "\u0000",
  "\ud800",
  "😀",
  "t",
  "n",
  "/"
]

const mutated = FastCheck.tuple(
  FastCheck.constantFrom(
    ValidText,
    JSON.stringify({ email: "a@b.co", event: "e" }),
    JSON.stringify({
      email: "x_y-z@e-x.co",
      event: "signup",
      data: { __proto__x: 1, locale: "fr" },
      preserveExistingSubscription: true
    })
  ),
  FastCheck.array(
    FastCheck.tuple(
      FastCheck.constantFrom("truncate", "delete", "insert", "replace", "duplicate", "swap"),
      FastCheck.nat(),
      FastCheck.constantFrom(...MutationChars)
    ),
    { minLength: 1, maxLength: 4 }
  )
).map(([text, mutations]) => {
  let s = text
  for (const [kind, n, c] of mutations) {
    const i = s.length === 0 ? 0 : n % s.length
    switch (kind) {
      case "truncate":
        s = s.slice(0, i)
        break
      case "delete":
        s = s.slice(0, i) + s.slice(i + 1)
        break
      case "insert":
        s = s.slice(0, i) + c + s.slice(i)
        break
      case "replace":
        s = s.slice(0, i) + c + s.slice(i + 1)
        break
      case "duplicate":
        s = s.slice(0, i) + s.slice(i, i + 8) + s.slice(i)
        break
      case "swap":
        s = s.slice(i) + s.slice(0, i)
        break
    }
  }
  return s
})

const randomBytes = FastCheck.oneof(
  FastCheck.uint8Array({ maxLength: 300 }),
  FastCheck.uint8Array({ maxLength: 40 }).map((b) => bytesOf(['{"email":"ada@example.com","event":"', b, '"}'])),
  FastCheck.uint8Array({ maxLength: 40 }).map((b) =>
    bytesOf(['{"email":"ada@example.com","event":"e","data":{"', b, '":"', b, '"}}'])
  ),
  FastCheck.uint8Array({ maxLength: 20 }).map((b) => bytesOf(['{"email":"ada', b, '@example.com","event":"e"}']))
)

const UrlPieces = [
  "%00",
  "%ff",
  "%ED%A0%80",
  "%C0%AF",
  "%",
  "%G1",
  "%2F",
  "%2e%2e",
  "..",
  ".",
  "%3F",
  "%23",
  "%20",
  "+",
  "__proto__",
  "constructor",
  "prototype",
  "00000000-0000-7000-8000-000000000000",
  "'",
  "%27%20OR%201%3D1--",
  "%E2%80%AE",
  "%F0%9F%98%80",
  "x".repeat(300),
  "%5Cu0000",
  "-1",
  "0",
  "99999999999999999999",
  "1e3",
  "1.5",
  "%7B%7D",
  "%5B%5D",
  "null",
  "undefined",
  "NaN",
  "@",
  "a%40b.co"
]
const urlPart = FastCheck.array(
  FastCheck.oneof(
    { weight: 3, arbitrary: FastCheck.constantFrom(...UrlPieces) },
    { weight: 1, arbitrary: FastCheck.string({ maxLength: 10 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: FastCheck.string({ unit: "grapheme", maxLength: 4 }).map(encodeURIComponent) }
  ),
  { minLength: 1, maxLength: 4 }
).map((parts) => parts.join(""))

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

let counter = 0
const freshEmail = (tag: string) => `hostile-${tag}-${Date.now().toString(36)}-${counter++}@example.com`
const nestedArrays = (n: number, inner = "1") => "[".repeat(n) + inner + "]".repeat(n)
const nestedObjects = (n: number, inner = "1") => '{"a":'.repeat(n) + inner + "}".repeat(n)
const trackText = (email: string, rest = "") => `{"email":${JSON.stringify(email)},"event":"e"${rest}}`

export const hostile = <E>(name: string, store: () => Layer.Layer<Store.Ports, E>) =>
  describe(`hostile input: ${name}`, () => {
    const scope = Effect.runSync(Scope.make())
    let small: Target = { url: "", limit: SmallLimit, knownId: "" }
    let big: Target = { url: "", limit: BigLimit, knownId: "" }

    beforeAll(async () => {
      const known = async (url: string) => {
        const answer = await request(url, "POST", "/v1/track", {
          key: projectA.publicKey,
          body: { email: "known@example.com", event: "known", data: { plan: "free" } }
        })
        expect(answer.status).toBe(200)
        return answer.body.data.contact as string
      }
      const smallUrl = (await Effect.runPromise(Scope.extend(start(store(), { bodyLimit: SmallLimit }), scope))).url
      const bigUrl = (await Effect.runPromise(Scope.extend(start(store(), { bodyLimit: BigLimit }), scope))).url
      small = { url: smallUrl, limit: SmallLimit, knownId: await known(smallUrl) }
      big = { url: bigUrl, limit: BigLimit, knownId: await known(bigUrl) }
      cleanShape = prototypeShape()
    })
    afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

    describe("fuzz", () => {
      it("random bytes, and random bytes inside a valid body", () =>
        fuzz(randomBytes, async (bytes) => void await attempt(small, bytes)))

      it("random JSON values as the whole body", () =>
        fuzz(FastCheck.oneof(FastCheck.jsonValue({ maxDepth: 4 }), hostileArbitraries.jsonish), async (value) => {
          const text = JSON.stringify(value) ?? "null"
          await attempt(small, text)
        }))

      it("mutated valid bodies: truncated, characters deleted, inserted, replaced, duplicated, rotated", () =>
        fuzz(mutated, async (text) => void await attempt(small, text)))

      it("every field drawn from good values, hostile strings and wrong types, with extra and prototype keys", () =>
        fuzz(hostileArbitraries.trackBody, async (body) => void await attemptJson(small, body)))

      it("the same without NUL and unpaired surrogates in strings", () =>
        fuzz(storableArbitraries.trackBody, async (body) => void await attemptJson(small, body)))

      it("unicode edge cases in event names, data keys and values, with a valid email", () =>
        fuzz(
          FastCheck.record({
            email: FastCheck.constantFrom(...ValidEmails),
            event: anyString,
            data: FastCheck.array(FastCheck.tuple(anyString, anyString), { maxLength: 4 }).map((e) =>
              Object.fromEntries(e)
            )
          }),
          async (body) => void await attemptJson(small, body)
        ))

      it("hostile ids, emails, cursors and limits on the read routes", async () => {
        const before = (await stateOf(small, undefined)).text
        await fuzz(urlPart, async (part) => {
          for (
            const path of [
              `/contacts/${part}`,
              `/contacts/${part}/events`,
              `/contacts?email=${part}`,
              `/contacts?cursor=${part}`,
              `/contacts?limit=${part}`,
              `/contacts?limit=5&cursor=${part}`,
              `/contacts/${small.knownId}/events?cursor=${part}`,
              `/contacts/${small.knownId}/events?limit=${part}`
            ]
          ) {
            expectReadAnswer(await get(small.url, path), path)
          }
        })
        expect((await stateOf(small, undefined)).text).toBe(before)
        expectNoPollution()
      })
    })

    describe("explicit cases", () => {
      it("unparseable and truncated JSON → 400 VALIDATION_ERROR, nothing stored", async () => {
        const email = freshEmail("badjson")
        const valid = trackText(email, ',"data":{"plan":"pro"}')
        await rejectAll(small, Array.from({ length: valid.length - 1 }, (_, i) => valid.slice(0, i + 1)), 400)
        await rejectAll(small, [
          "{",
          "{bad",
          "nul",
          "NaN",
          "undefined",
          "Infinity",
          "{'email':'a@b.co'}",
          `${valid.slice(0, -1)},}`,
          `${valid} trailing`,
          `${valid}${valid}`,
          "/* c */ {}",
          '{"a":01}',
          '{"a":"\\x"}',
          '{"a":"\\u12"}',
          '{"a":"line\nbreak"}',
          "  \n\t",
          "\ufeff{}",
          "\u0000",
          `{"email":"${email}","event":"e","data":{"a":1,}}`,
          '{"email"}',
          "[",
          "]",
          '"',
          '{"a":1}}',
          '{"a" 1}',
          "tru",
          "01"
        ], 400)
        expect((await listAll(small.url)).some((c) => c.email === email)).toBe(false)
      })

      it("duplicate keys: the last one wins, as JSON.parse, for validation and storage alike", async () => {
        const email = freshEmail("dup")
        const accepted = await attempt(
          small,
          `{"email":"nope","email":"${email}","event":"email.sent","event":"ok","data":{"k":1,"k":2}}`
        )
        expect(accepted.status).toBe(200)
        const rejected = await attempt(small, `{"email":"${email}","email":"nope","event":"ok"}`)
        expect(fieldsOf(rejected)).toEqual([["email", "invalid_email"]])
      })

      it("a JSON top level that is not an object → 422 VALIDATION_ERROR", async () => {
        const email = freshEmail("toplevel")
        const raws = [
          "[]",
          `[${trackText(email)}]`,
          '"str"',
          JSON.stringify(trackText(email)),
          "42",
          "-0.5e3",
          "null",
          "true",
          "false",
          nestedArrays(1000)
        ]
        for (const answer of await rejectAll(small, raws, 422))
          expect(fieldsOf(answer).map(([f]) => f)).toEqual(["body"])
        expect((await listAll(small.url)).some((c) => c.email === email)).toBe(false)
      })

      it("wrong types for every field → 422 with that field, and only that field, in errors[]", async () => {
        const wrong = [42, 0, -1.5, true, false, null, [], ["x"], {}, { value: "x", persistent: true }]
        const cases: Array<[string, unknown, string]> = [
          ...wrong.map((v): [string, unknown, string] => ["email", v, "email"]),
          ...wrong.map((v): [string, unknown, string] => ["event", v, "event"]),
          ...[...wrong.filter((v) => typeof v !== "boolean"), "true", "false", "", 1, 0].map((
            v
          ): [string, unknown, string] => ["subscribed", v, "subscribed"]),
          ...[...wrong.filter((v) => typeof v !== "boolean"), "true", 1].map((
            v
          ): [string, unknown, string] => ["preserveExistingSubscription", v, "preserveExistingSubscription"]),
          ...[null, [], [1, 2], "x", "", 7, true].map((v): [string, unknown, string] => ["data", v, "data"])
        ]
        const answers = await rejectAll(
          small,
          cases.map(([name, value]) =>
            JSON.stringify(Object.fromEntries([["email", freshEmail("types")], ["event", "e"], [name, value]]))
          ),
          422
        )
        answers.forEach((answer, i) => expect(fieldsOf(answer).map(([f]) => f)).toEqual([cases[i]![2]]))
        const locales = [1, true, [], {}, ["en"], { value: "en", persistent: true }]
        const localeAnswers = await rejectAll(
          small,
          locales.map((locale) => JSON.stringify({ email: freshEmail("locale"), event: "e", data: { locale } })),
          422
        )
        for (const answer of localeAnswers) expect(fieldsOf(answer)).toEqual([["data.locale", "invalid_type"]])
        // All of them at once: one item per broken rule.
        const all = await attemptJson(small, {
          email: 1,
          event: [],
          subscribed: "yes",
          preserveExistingSubscription: null,
          data: "x"
        })
        expect(all.body.error.errors.map((e: { field: string }) => e.field)).toEqual([
          "email",
          "event",
          "subscribed",
          "preserveExistingSubscription",
          "data"
        ])
      })

      it("wrong content types: JSON is parsed whatever the type (ADR 0006); form and multipart bodies are not JSON → 400", async () => {
        for (
          const contentType of [
            "text/plain",
            "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/xml",
            null
          ]
        ) {
          const answer = await attempt(small, trackText(freshEmail("ctype")), { contentType })
          expect(answer.status, String(contentType)).toBe(200)
        }
        const email = freshEmail("form")
        const form = `email=${encodeURIComponent(email)}&event=signup`
        const multipart =
          `--x\r\nContent-Disposition: form-data; name="email"\r\n\r\n${email}\r\n--x\r\nContent-Disposition: form-data; name="event"\r\n\r\nsignup\r\n--x--\r\n`
        for (
          const [raw, contentType] of [
            [form, "application/x-www-form-urlencoded"],
            [multipart, "multipart/form-data; boundary=x"],
            [form, "application/json"],
            [`<track email="${email}"/>`, "application/xml"],
            [form, null]
          ] as const
        ) {
          expectEnvelope(await attempt(small, raw, { contentType }), 400, "VALIDATION_ERROR")
        }
        expect((await listAll(small.url)).some((c) => c.email === email)).toBe(false)
      })

      it("invalid UTF-8: never a 5xx; an address with bad bytes is rejected; an accepted name is what the server decoded", async () => {
        const email = freshEmail("utf8")
        const cases = [
          bytesOf([[0xff, 0xfe], trackText(email)]),
          bytesOf([[0xef, 0xbb, 0xbf], trackText(email)]), // UTF-8 BOM: not JSON for JSON.parse
          bytesOf([`{"email":"${email}","event":"x`, [0xc0, 0xa2], "}"]), // overlong quote must not close the string
          bytesOf([`{"email":"${email}","event":"a`, [0xe2, 0x28, 0xa1], '"}']),
          bytesOf([`{"email":"${email}","event":"a`, [0xed, 0xa0, 0x80], '"}']), // an encoded lone surrogate (CESU-8)
          bytesOf([`{"email":"${email}","event":"a`, [0xf4, 0x90, 0x80, 0x80], '"}']), // above U+10FFFF
          bytesOf([`{"email":"${email}","event":"e","data":{"k`, [0x80], '":"v', [0xe2, 0x82], '"}}']),
          bytesOf([`{"email":"a`, [0xc0, 0xaf], `b@example.com","event":"e"}`]),
          bytesOf([`{"email":"${email}`, [0xff], `","event":"e"}`])
        ]
        for (const bytes of cases) await attempt(small, bytes)
        expect(fieldsOf(await attempt(small, cases[7]!))).toEqual([["email", "invalid_email"]])
        expect(fieldsOf(await attempt(small, cases[8]!))).toEqual([["email", "invalid_email"]])
        expect((await attempt(small, cases[2]!)).status).toBe(400)
      })

      it("unicode edge cases: accepted names, keys and values round-trip exactly; bad addresses are 422", async () => {
        const strings = [
          "😀 signup",
          "👩‍👩‍👧‍👦",
          "\u200fRTL\u200f",
          "\u202eevil",
          "zero\u200bwidth",
          "e\u0301",
          "\u{10ffff}",
          "\uffff",
          "a\u0000b",
          "\u0000",
          "\ud800",
          "x\udfffy",
          "\udc00\ud800",
          "İstanbul"
        ]
        // Each place alone, so a failure names the place.
        const places = strings.flatMap((s) => [
          { event: s },
          { event: "e", data: Object.fromEntries([[s, 1]]) },
          { event: "e", data: { v: s } },
          { event: "e", data: { nested: Object.fromEntries([[s, [s]]]) } },
          { event: "e", data: { once: { value: s, persistent: false } } }
        ])
        await allOf(places, async (place) => {
          const answer = await attemptJson(small, { email: freshEmail("unicode"), ...place })
          const storable = !hasUnstorableText(place)
          expect(answer.verdict).toBe(storable ? "valid" : "invalid")
          if (storable) expect(answer.status, preview(answer.text)).toBe(200)
          else expect(fieldsOf(answer).map(([, code]) => code), preview(answer.text)).toEqual(["invalid_string"])
        })
        await allOf([
          "a\u0000@example.com",
          "ada@example.com\u0000",
          "\ud800@example.com",
          "ada\udfff@example.com",
          "ada@exam\u200bple.com",
          "\u200fada@example.com",
          "ada@example.com\u202e"
        ], async (email) => {
          const answer = await attemptJson(small, { email, event: "e" })
          expect(answer.status).toBe(422)
          expect(fieldsOf(answer)).toEqual([["email", "invalid_email"]])
        })
        // A NUL or a lone surrogate in an unknown top-level field is not stored anywhere.
        expect(
          (await attemptJson(small, { email: freshEmail("unknownfield"), event: "e", "\u0000": "\ud800", x: "\u0000" }))
            .status
        ).toBe(200)
      })

      it("prototype-pollution keys are plain data: stored and read back as own keys, nothing polluted", async () => {
        const email = freshEmail("proto")
        const data =
          '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"},' +
          '"nested":{"__proto__":{"polluted":1},"list":[{"__proto__":{"isAdmin":true}}]},"hasOwnProperty":1,"toString":"x",' +
          '"valueOf":null,"toJSON":"not a function","then":1}'
        const first = await attempt(small, `{"email":"${email}","event":"e","data":${data}}`)
        expect(first.status).toBe(200)
        const contact = await get(small.url, `/contacts/${first.body.data.contact}`)
        expect(Object.keys(contact.body.data)).toEqual([
          "__proto__",
          "constructor",
          "prototype",
          "nested",
          "hasOwnProperty",
          "toString",
          "toJSON",
          "then"
        ])
        expect(Object.getPrototypeOf(contact.body.data)).toBe(Object.prototype)
        expect(JSON.stringify(contact.body.data.__proto__)).toBe('{"polluted":"yes"}')

        // Wrapped values, `null` and `""` under a `__proto__` key follow §1.5 like any key.
        const second = await attempt(
          small,
          `{"email":"${email}","event":"e","data":{"__proto__":{"value":{"v":2},"persistent":true},"constructor":{"value":1,"persistent":false},"prototype":null,"toString":""}}`
        )
        expect(second.status).toBe(200)
        const after = await get(small.url, `/contacts/${first.body.data.contact}`)
        expect(JSON.stringify(after.body.data.__proto__)).toBe('{"v":2}')
        expect(Object.hasOwn(after.body.data, "prototype")).toBe(false)
        expect(after.body.data.toString).toBe("x")

        // Prototype keys at the top level are unknown fields: ignored, never read as fields.
        const top = await attempt(
          small,
          `{"email":"${
            freshEmail("proto")
          }","event":"e","__proto__":{"subscribed":false,"polluted":1},"constructor":{"prototype":{"polluted":1}}}`
        )
        expect(top.status).toBe(200)
        expect((await get(small.url, `/contacts/${top.body.data.contact}`)).body.subscribed).toBe(true)
        const hidden = await attempt(
          small,
          `{"__proto__":{"email":"${freshEmail("proto")}","event":"e"},"constructor":{"email":"x@example.com"}}`
        )
        expect(fieldsOf(hidden)).toEqual([["email", "required"], ["event", "required"]])
        const locale = await attempt(
          small,
          `{"email":"${freshEmail("proto")}","event":"e","data":{"__proto__":{"locale":5}}}`
        )
        expect(locale.status).toBe(200)

        // And the read routes take them as ids and emails like any other string.
        for (const path of ["/contacts/__proto__", "/contacts/constructor/events", "/contacts/prototype"]) {
          expectEnvelope(await get(small.url, path), 404, "CONTACT_NOT_FOUND")
        }
        expect((await get(small.url, "/contacts?email=__proto__")).body).toEqual({ data: [], hasMore: false })
        expectNoPollution()
      })

      it("huge strings: over-long email and event → 422 too_long; long values and unknown fields are fine", async () => {
        const email = `${"a".repeat(60_000)}@example.com`
        // Too long, and no address either (a local part is at most 64 characters): two broken rules.
        expect(fieldsOf(await attemptJson(small, { email, event: "e" }))).toEqual([["email", "too_long"], [
          "email",
          "invalid_email"
        ]])
        expect(fieldsOf(await attemptJson(small, { email: freshEmail("huge"), event: "x".repeat(60_000) }))).toEqual([[
          "event",
          "too_long"
        ]])
        expect(
          fieldsOf(
            await attemptJson(small, { email: freshEmail("huge"), event: "e", data: { ["k".repeat(60_000)]: 1 } })
          )[0]![1]
        ).toBe("key_too_long")
        expect(
          (await attemptJson(small, { email: freshEmail("huge"), event: "e", data: { v: "x".repeat(60_000) } })).status
        ).toBe(200)
        expect((await attemptJson(small, { email: freshEmail("huge"), event: "e", junk: "x".repeat(60_000) })).status)
          .toBe(200)
        // The boundaries: 254-character email, 256-unit event (emoji count as two units).
        const at254 = `${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(57)}.com`
        expect(at254.length).toBe(254)
        expect((await attemptJson(small, { email: at254, event: "x".repeat(256) })).status).toBe(200)
        // 255 characters, and its first domain label is now 64 long: two broken rules.
        expect(fieldsOf(await attemptJson(small, { email: at254.replace("@", "@e"), event: "e" }))).toEqual([[
          "email",
          "too_long"
        ], ["email", "invalid_email"]])
        expect(fieldsOf(await attemptJson(small, { email: at254.replace(".com", ".coma"), event: "e" }))).toEqual([[
          "email",
          "too_long"
        ]])
        expect((await attemptJson(small, { email: freshEmail("emoji"), event: "😀".repeat(128) })).status).toBe(200)
        expect(fieldsOf(await attemptJson(small, { email: freshEmail("emoji"), event: "😀".repeat(129) }))).toEqual([[
          "event",
          "too_long"
        ]])
      })

      it("deep nesting: 100 000 levels in data → 422 too_deep; in an unknown field it is ignored; never a 5xx", async () => {
        const email = freshEmail("deep")
        for (
          const deep of [nestedArrays(100_000), nestedObjects(100_000), nestedArrays(100_000, "{}"), nestedArrays(17)]
        ) {
          expect(fieldsOf(await attempt(big, trackText(email, `,"data":{"deep":${deep}}`)))).toEqual([[
            "data",
            "too_deep"
          ]])
        }
        expect(fieldsOf(await attempt(big, trackText(email, `,"data":${nestedObjects(100_000)}`)))).toEqual([[
          "data",
          "too_deep"
        ]])
        for (const deep of [nestedArrays(100_000), nestedObjects(100_000)]) {
          const answer = await attempt(big, trackText(email, `,"junk":${deep}`))
          expect(answer.status).toBe(200)
          expect(fieldsOf(await attempt(big, `{"email":${deep},"event":"e"}`))).toEqual([["email", "invalid_type"]])
          expect(fieldsOf(await attempt(big, `{"email":"${email}","event":"e","subscribed":${deep}}`))).toEqual([[
            "subscribed",
            "invalid_type"
          ]])
        }
        expectEnvelope(await attempt(big, nestedArrays(100_000)), 422, "VALIDATION_ERROR")
        expectEnvelope(await attempt(big, nestedObjects(100_000)), 422, "VALIDATION_ERROR")
        // On the small server the same bodies are over the limit.
        expectEnvelope(
          await attempt(small, trackText(email, `,"data":{"deep":${nestedArrays(100_000)}}`)),
          413,
          "PAYLOAD_TOO_LARGE"
        )
      })

      it("many keys: 60 000 unknown top-level keys or keys of an unknown field are ignored; data with 513 keys is not", async () => {
        const keys = Array.from({ length: 60_000 }, (_, i) => `"k${i}":${i}`).join(",")
        expect((await attempt(big, trackText(freshEmail("many"), `,${keys}`))).status).toBe(200)
        expect((await attempt(big, trackText(freshEmail("many"), `,"junk":{${keys}}`))).status).toBe(200)
        // Every broken rule is reported: these keys are also too large together.
        expect(fieldsOf(await attempt(big, trackText(freshEmail("many"), `,"data":{${keys}}`)))).toContainEqual([
          "data",
          "too_many_keys"
        ])
      })

      it("data limits of TrackCommand: too_many_keys, key_too_long (field data.<key>), too_deep, too_large, at their boundaries", async () => {
        const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))
        expect(fieldsOf(await attemptJson(big, { email: freshEmail("limits"), event: "e", data: keys(513) }))).toEqual([
          ["data", "too_many_keys"]
        ])
        expect((await attemptJson(big, { email: freshEmail("limits"), event: "e", data: keys(512) })).status).toBe(200)
        // (NUL and lone surrogates have their own test below.)
        const hostileKeys = Object.fromEntries([
          ...HostileStrings.filter((s) =>
            s.length <= 256 && s !== "locale" && !s.includes("\u0000") && !LoneSurrogate.test(s)
          ).map((s, i) => [s, i]),
          ...Object.entries(keys(400))
        ])
        expect((await attemptJson(big, { email: freshEmail("limits"), event: "e", data: hostileKeys })).status).toBe(
          200
        )

        const longKey = "k".repeat(257)
        const long = await attemptJson(big, { email: freshEmail("limits"), event: "e", data: { ok: 1, [longKey]: 1 } })
        expect(fieldsOf(long)).toEqual([[`data.${longKey}`, "key_too_long"]])
        const dotted = `a.${"b".repeat(255)}`
        expect(fieldsOf(await attemptJson(big, { email: freshEmail("limits"), event: "e", data: { [dotted]: 1 } })))
          .toEqual([[`data.${dotted}`, "key_too_long"]])
        expect(
          (await attemptJson(big, { email: freshEmail("limits"), event: "e", data: { ["k".repeat(256)]: 1 } })).status
        ).toBe(200)

        // Levels counted below `data` itself (TrackCommand.MaxDataDepth: 16 accepted, 17 not).
        const email = freshEmail("depth")
        expect((await attempt(big, trackText(email, `,"data":{"deep":${nestedArrays(16)}}`))).status).toBe(200)
        expect(fieldsOf(await attempt(big, trackText(email, `,"data":{"deep":${nestedArrays(17)}}`)))).toEqual([[
          "data",
          "too_deep"
        ]])
        expect((await attempt(big, trackText(email, `,"data":{"deep":${nestedObjects(15, "[]")}}`))).status).toBe(200)
        expect(fieldsOf(await attempt(big, trackText(email, `,"data":{"deep":${nestedObjects(16, "[]")}}`)))).toEqual([[
          "data",
          "too_deep"
        ]])

        // too_large: JSON text of data over 512 KiB (`{"b":""}` is 8 characters); the body limit (1 MiB) is not reached.
        const at = MaxDataSize - 8
        const largeEmail = freshEmail("large")
        expect((await attemptJson(big, { email: largeEmail, event: "e", data: { b: "x".repeat(at) } })).status).toBe(
          200
        )
        expect(fieldsOf(await attemptJson(big, { email: largeEmail, event: "e", data: { b: "y".repeat(at + 1) } })))
          .toEqual([["data", "too_large"]])
        expect(
          fieldsOf(await attemptJson(big, { email: largeEmail, event: "e", data: { b: "\u0000".repeat(100_000) } }))
        ).toEqual([["data", "too_large"], ["data.b", "invalid_string"]])
        // Over the body limit, 413 comes first.
        expectEnvelope(
          await attemptJson(big, { email: largeEmail, event: "e", data: { b: "x".repeat(BigLimit) } }),
          413,
          "PAYLOAD_TOO_LARGE"
        )
        expectEnvelope(
          await attemptJson(small, { email: largeEmail, event: "e", data: { b: "x".repeat(at + 1) } }),
          413,
          "PAYLOAD_TOO_LARGE"
        )

        // Several rules broken at once: one item per rule.
        const several = await attemptJson(big, { email: "nope", event: "email.sent", data: keys(600) })
        expect(fieldsOf(several)).toEqual([["email", "invalid_email"], ["event", "reserved_event"], [
          "data",
          "too_many_keys"
        ]])
      })

      it("bodies over the limit → 413 PAYLOAD_TOO_LARGE in the envelope, also chunked; exactly the limit is read", async () => {
        const email = freshEmail("limit")
        const sized = (size: number) => {
          const head = trackText(email, ',"data":{"pad":"')
          return `${head}${"x".repeat(size - head.length - 3)}"}}`
        }
        expect(encoder.encode(sized(SmallLimit)).length).toBe(SmallLimit)
        expect((await attempt(small, sized(SmallLimit))).status).toBe(200)
        for (const size of [SmallLimit + 1, 2 * SmallLimit, 8 * SmallLimit]) {
          expectEnvelope(await attempt(small, sized(size)), 413, "PAYLOAD_TOO_LARGE")
        }
        // Chunked, no Content-Length: the limit applies to what arrives.
        const before = (await stateOf(small, email)).text
        const chunk = encoder.encode("x".repeat(16 * 1024))
        const chunked = await rawRequest(small.url, {
          method: "POST",
          path: "/v1/track",
          headers: {
            authorization: `Bearer ${projectA.publicKey}`,
            "content-type": "application/json",
            "transfer-encoding": "chunked"
          },
          chunks: [
            encoder.encode(trackText(email, ',"data":{"pad":"')),
            ...Array.from({ length: 8 }, () => chunk),
            encoder.encode('"}}')
          ]
        })
        expectEnvelope(chunked, 413, "PAYLOAD_TOO_LARGE")
        // A declared length over the limit is refused before the body is read; no key at all does not matter.
        const declared = await rawRequest(small.url, {
          method: "POST",
          path: "/v1/track",
          headers: { "content-type": "application/json", "content-length": String(SmallLimit + 10) },
          chunks: [encoder.encode("x".repeat(SmallLimit + 10))]
        })
        expectEnvelope(declared, 413, "PAYLOAD_TOO_LARGE")
        expect((await stateOf(small, email)).text).toBe(before)
      })

      it("hostile Authorization headers → 401 in the envelope, nothing stored", async () => {
        const email = freshEmail("auth")
        const body = JSON.stringify({ email, event: "e" })
        for (
          const header of [
            "",
            "Bearer",
            "Bearer  " + projectA.publicKey,
            `Bearer ${projectA.publicKey}\t`,
            `Bearer ${"k".repeat(8000)}`,
            `Bearer pk_test_a\u00ff`,
            `Bearer ${projectA.publicKey.toUpperCase()}`,
            "Bearer null",
            "Bearer undefined",
            "Bearer __proto__",
            "Bearer constructor",
            `Bearer ${projectA.publicKey},${projectB.publicKey}`,
            `Bearer ${projectA.publicKey} Bearer ${projectB.publicKey}`,
            "Basic cGtfdGVzdF9hOg=="
          ]
        ) {
          const answer = await rawRequest(small.url, {
            method: "POST",
            path: "/v1/track",
            headers: {
              authorization: header,
              "content-type": "application/json",
              "content-length": Buffer.byteLength(body)
            },
            chunks: [encoder.encode(body)]
          })
          // A trailing tab is whitespace HTTP strips, and several spaces after the scheme are allowed
          // (RFC 9110 §11.4): those headers are the valid key.
          if (header.endsWith("\t") || header.startsWith("Bearer  ")) expect(answer.status).toBe(200)
          else expectEnvelope(answer, 401)
        }
        expect((await listAll(small.url)).filter((c) => c.email === email)).toHaveLength(1)
        expect((await get(small.url, "/contacts?email=" + encodeURIComponent(email), projectB.secretKey)).body.data)
          .toEqual([])
      })

      it("hostile read parameters: NUL, invalid percent-encoding, huge ids → 4xx, never 5xx", async () => {
        const paths = [
          "/contacts/%00",
          "/contacts/a%00b",
          "/contacts/%00/events",
          "/contacts?email=%00",
          "/contacts?email=ada%00%40example.com",
          "/contacts?cursor=%00",
          "/contacts?limit=5&cursor=%00",
          `/contacts/${small.knownId}/events?cursor=%00`,
          "/contacts/%ff",
          "/contacts/%ED%A0%80",
          "/contacts/%",
          "/contacts/%G0/events",
          "/contacts?email=%ff%fe",
          "/contacts?cursor=%ED%A0%80",
          `/contacts/${"x".repeat(8000)}`,
          `/contacts/${"x".repeat(8000)}/events`,
          `/contacts?email=${"a".repeat(8000)}`,
          `/contacts?cursor=${"z".repeat(8000)}`,
          "/contacts?limit=1e2",
          "/contacts?limit=0x10",
          "/contacts?limit=%2010",
          "/contacts?limit=100&limit=1000",
          `/contacts/${small.knownId}/events?cursor=-1`,
          `/contacts/${small.knownId}/events?cursor=99999999999`,
          `/contacts/${small.knownId}%00/events`,
          `/contacts/${small.knownId.toUpperCase()}`,
          "/contacts/..%2F..%2Fetc%2Fpasswd"
        ]
        await allOf(paths, async (path) => expectReadAnswer(await get(small.url, path), path))
      })

      it("protocol-level errors (oversized header block, malformed request) are answered in the envelope too", async () => {
        const url = new URL(small.url)
        const raw = (text: string) =>
          new Promise<string>((resolve) => {
            const socket = Net.connect(Number(url.port), url.hostname, () => socket.end(text))
            let out = ""
            socket.on("data", (c: Buffer) => (out += c.toString("latin1")))
            socket.on("close", () => resolve(out))
            socket.on("error", () => resolve(out))
          })
        // A header block over Node's limit is a 431 (RFC 6585 §5), not a 413: the body is not at fault.
        await allOf(
          [
            [
              `POST /v1/track HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${
                "k".repeat(20_000)
              }\r\nContent-Length: 2\r\n\r\n{}`,
              431,
              "REQUEST_HEADER_FIELDS_TOO_LARGE"
            ],
            [
              `GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: ${"p".repeat(20_000)}\r\n\r\n`,
              431,
              "REQUEST_HEADER_FIELDS_TOO_LARGE"
            ],
            ["GARBAGE\r\n\r\n", 400, "VALIDATION_ERROR"],
            ["POST /v1/track HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "VALIDATION_ERROR"]
          ] as const,
          async ([text, expectedStatus, expectedCode]) => {
            const answer = await raw(text)
            const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1])
            const body = answer.slice(answer.indexOf("\r\n\r\n") + 4)
            const headers = new Headers()
            for (const line of answer.slice(0, answer.indexOf("\r\n\r\n")).split("\r\n").slice(1)) {
              const colon = line.indexOf(":")
              headers.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim())
            }
            let parsed: unknown
            try {
              parsed = JSON.parse(body)
            } catch {
              parsed = undefined
            }
            expectEnvelope({ status, headers, body: parsed, text: answer }, expectedStatus, expectedCode)
          }
        )
      })
    })
  })

hostile("memory store", () => StoreMemory.layer)
hostile(`postgres (${new URL(TestDatabase.adminUrl).host})`, () => TestDatabase.layer())
