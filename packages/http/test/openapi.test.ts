/**
 * The OpenAPI document tells the truth: every answer the conformance suite gets has its status
 * declared for its route, and its body matches the declared schema (Ajv, JSON Schema 2020-12,
 * the dialect of OpenAPI 3.1). Errors are the one `ErrorEnvelope` component; no Effect internals.
 */
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import { Ajv2020 } from "ajv/dist/2020.js"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { afterAll, describe, expect, it } from "vitest"
import * as Api from "../src/Api.js"
import { conformance } from "./conformance.js"
import { projectA, request, startWebHandler } from "./TestServer.js"

interface Seen {
  readonly method: string
  readonly path: string
  readonly status: number
  readonly contentType: string | null
  readonly allow: string | null
  readonly text: Promise<string>
}
const seen: Array<Seen> = []
const record = (into: Array<Seen>) => (request: Request, response: Response) => {
  into.push({
    method: request.method,
    path: new URL(request.url).pathname,
    status: response.status,
    contentType: response.headers.get("content-type"),
    allow: response.headers.get("allow"),
    text: response.text()
  })
}

conformance(
  "web handler, answers recorded for the OpenAPI check",
  () => StoreMemory.layer,
  (store, options) => startWebHandler(store, options, record(seen))
)

// The webhook routes (behaviour §12), answers recorded too: every status they give, checked below.
describe("webhook routes, answers recorded for the OpenAPI check", () => {
  const scope = Effect.runSync(Scope.make())
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  it("makes, reads, changes, rotates, lists deliveries and refuses as the document says", async () => {
    const { url } = await Effect.runPromise(Scope.extend(startWebHandler(StoreMemory.layer, {}, record(seen)), scope))
    const call = (method: string, path: string, body?: unknown, key = projectA.secretKey) =>
      request(url, method, path, body === undefined ? { key } : { key, body })
    // A public address literal (no name to resolve) and a pattern nothing matches: nothing is ever sent.
    const made = await call("POST", "/webhooks", { url: "https://93.184.216.34/hook", events: ["never.tracked"] })
    expect(made.status, made.text).toBe(201)
    const id = made.body.id as string
    const answers = [
      await call("GET", "/webhooks"),
      await call("GET", `/webhooks/${id}`),
      await call("PATCH", `/webhooks/${id}`, { description: "described", enabled: false }),
      await call("POST", `/webhooks/${id}/rotate-secret`),
      await call("GET", `/webhooks/${id}/deliveries?status=pending&limit=5`),
      await call("POST", "/webhooks", { url: "http://10.0.0.1/", events: ["x"] }),
      await call("PATCH", `/webhooks/${id}`, {}),
      await call("GET", `/webhooks/${id}/deliveries?status=lost`),
      await call("POST", `/webhooks/${id}/deliveries/msg_none/retry`),
      await call("GET", "/webhooks/0190c0de-0000-7000-8000-000000000000"),
      await call("DELETE", "/webhooks/not-an-id"),
      await call("GET", "/webhooks", undefined, projectA.publicKey)
    ]
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 422, 422, 422, 404, 404, 404, 403])
  })
})

const doc = Api.openApi() as any
const templates = Object.keys(doc.paths).map((template) => ({
  template,
  pattern: new RegExp("^" + template.replace(/\{[^}]+\}/g, "[^/]+") + "/?$")
}))

const Methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

// A 405 is the document's MethodNotAllowed answer, and its Allow names what the path declares,
// HEAD wherever GET is (answered as GET without a body), and OPTIONS on the CORS routes, which
// answer preflights.
const checkMethodNotAllowed = async (ajv: Ajv2020, template: string, answer: Seen) => {
  // Every template the path matches counts (`/contacts/query` is also a `/contacts/{id}`).
  const path = answer.path
  const declared = [
    ...new Set(
      templates.filter((t) => t.pattern.test(path)).flatMap((t) => Object.keys(doc.paths[t.template]))
        .filter((m) => Methods.includes(m)).map((m) => m.toUpperCase())
    )
  ]
  const allowed = declared.includes("GET") ? [...declared, "HEAD"] : declared
  expect(allowed, `${answer.method} ${template}: 405 for a declared method`).not.toContain(answer.method)
  const allow = (answer.allow ?? "").split(",").map((m) => m.trim()).filter((m) => m !== "OPTIONS")
  expect(allow.sort(), `${answer.method} ${template}: Allow`).toEqual(allowed.sort())
  // A HEAD's answer has no content (RFC 9110 §9.3.2).
  if (answer.method === "HEAD") return expect(await answer.text).toBe("")
  const response = doc.components.responses.MethodNotAllowed
  const validate = ajv.compile({
    $id: `405-${Math.random()}`,
    ...JSON.parse(
      JSON.stringify(response.content["application/json"].schema).replaceAll(
        '"#/components',
        '"openapi.json#/components'
      )
    )
  })
  const body = JSON.parse(await answer.text)
  expect(validate(body), ajv.errorsText(validate.errors)).toBe(true)
  expect(body.error.code).toBe("METHOD_NOT_ALLOWED")
}

const findTemplate = (path: string) => templates.find((t) => t.pattern.test(path))?.template

describe("the OpenAPI document", () => {
  it("errors are the ErrorEnvelope component, and only our schemas are public", () => {
    expect(Object.keys(doc.components.schemas)).toContain("ErrorEnvelope")
    for (const name of ["HttpApiDecodeError", "Trim", "PropertyKey", "Issue"]) {
      expect(Object.keys(doc.components.schemas)).not.toContain(name)
    }
    for (const item of Object.values<any>(doc.paths)) {
      for (const operation of Object.values<any>(item)) {
        for (const [status, response] of Object.entries<any>(operation.responses)) {
          if (Number(status) >= 400) {
            expect(response.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/ErrorEnvelope" })
          }
          if (status === "401") expect(Object.keys(response.headers ?? {})).toContain("WWW-Authenticate")
        }
      }
    }
    expect(JSON.stringify(doc)).not.toContain("HttpApiDecodeError")
  })

  it("the track routes take their JSON as application/json or text/plain (sendBeacon; decision 0006)", () => {
    for (const path of ["/v1/track", "/v1/track/batch"]) {
      const content = doc.paths[path].post.requestBody.content
      expect(Object.keys(content).sort(), path).toEqual(["application/json", "text/plain"])
      expect(content["text/plain"].schema, path).toEqual(content["application/json"].schema)
    }
  })

  it("the routes with an Idempotency-Key declare no 409: a second request in flight waits and replays (behaviour §6)", () => {
    for (const path of ["/v1/track", "/v1/track/batch"]) {
      expect(Object.keys(doc.paths[path].post.responses), path).not.toContain("409")
    }
    expect(JSON.stringify(doc)).not.toContain("IDEMPOTENCY_KEY_IN_PROGRESS")
  })

  it("declares a batch's three counts and a suppressed item's answer (behaviour §8)", () => {
    const data = doc.components.schemas.TrackBatchResponse.properties.data
    expect(data.required).toEqual(["accepted", "rejected", "suppressed", "results"])
    expect(data.properties.suppressed.type).toBe("number")
    expect(doc.components.schemas.BatchItemResult.anyOf).toContainEqual({
      $ref: "#/components/schemas/TrackSuppressedResponse"
    })
  })

  it("every answer of the conformance suite is declared for its route and matches its schema", async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true })
    ajv.addSchema({ $id: "openapi.json", components: doc.components })
    let checked = 0
    let checked405 = 0
    const statuses = new Set<number>()
    for (const answer of seen) {
      const found = templates.find((t) => t.pattern.test(answer.path))
      const operation = found && doc.paths[found.template][answer.method.toLowerCase()]
      if (found !== undefined && answer.status === 405) {
        await checkMethodNotAllowed(ajv, found.template, answer)
        checked405++
        continue
      }
      // Routes the API does not have (404s of unknown paths, the CORS preflight, /openapi.json, /docs).
      if (operation === undefined) continue
      const declared = operation.responses[String(answer.status)]
      expect(declared, `${answer.method} ${found!.template} answered ${answer.status}, not declared`).toBeDefined()
      const schema = declared.content?.["application/json"]?.schema
      expect(schema, `${answer.method} ${found!.template} ${answer.status} has no JSON schema`).toBeDefined()
      expect(answer.contentType).toMatch(/^application\/json/)
      const validate = ajv.compile({
        $id: `answer-${checked}`,
        ...JSON.parse(JSON.stringify(schema).replaceAll('"#/components', '"openapi.json#/components'))
      })
      const body = JSON.parse(await answer.text)
      expect(validate(body), `${answer.method} ${found!.template} ${answer.status}: ${ajv.errorsText(validate.errors)}`)
        .toBe(true)
      checked++
      statuses.add(answer.status)
    }
    expect(checked).toBeGreaterThan(100)
    expect(checked405).toBeGreaterThan(0)
    expect([...statuses].sort()).toEqual(expect.arrayContaining([200, 400, 401, 403, 404, 413, 422]))
  })

  it("describes GET /metrics, and the 405s of every known path, as the web handler answers them", async () => {
    const answers: Array<Seen> = []
    const scope = Effect.runSync(Scope.make())
    try {
      const { url } = await Effect.runPromise(
        Scope.extend(startWebHandler(StoreMemory.layer, { metrics: true }, record(answers)), scope)
      )
      await fetch(`${url}/metrics`)
      for (const template of Object.keys(doc.paths)) {
        const path = template.replace(/\{[^}]+\}/g, "x")
        // A literal path another template also matches (`/contacts/query`, `/contacts/{id}`) has its methods too.
        const declared = templates.filter((t) => t.pattern.test(path)).flatMap((t) =>
          Object.keys(doc.paths[t.template])
        )
        for (const method of ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]) {
          const get = method === "HEAD" ? "get" : method.toLowerCase()
          if (!declared.includes(get)) await fetch(url + path, { method })
        }
      }
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
    const metrics = answers[0]!
    expect(metrics.status).toBe(200)
    const declared = doc.paths["/metrics"].get.responses["200"].content
    expect(Object.keys(declared)).toEqual([metrics.contentType])
    expect(await metrics.text).toContain("# TYPE tracklog_http_requests_total counter")
    const ajv = new Ajv2020({ strict: false, allErrors: true })
    ajv.addSchema({ $id: "openapi.json", components: doc.components })
    const refused = answers.slice(1)
    expect(refused.length).toBeGreaterThan(20)
    for (const answer of refused) {
      expect(answer.status, `${answer.method} ${answer.path}`).toBe(405)
      await checkMethodNotAllowed(ajv, findTemplate(answer.path)!, answer)
    }
  })
})
