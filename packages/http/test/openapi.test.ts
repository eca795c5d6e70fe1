/**
 * The OpenAPI document tells the truth: every answer the conformance suite gets has its status
 * declared for its route, and its body matches the declared schema (Ajv, JSON Schema 2020-12,
 * the dialect of OpenAPI 3.1). Errors are the one `ErrorEnvelope` component; no Effect internals.
 */
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import { Ajv2020 } from "ajv/dist/2020.js"
import { describe, expect, it } from "vitest"
import * as Api from "../src/Api.js"
import { conformance } from "./conformance.js"
import { startWebHandler } from "./TestServer.js"

interface Seen {
  readonly method: string
  readonly path: string
  readonly status: number
  readonly contentType: string | null
  readonly text: Promise<string>
}
const seen: Array<Seen> = []

conformance(
  "web handler, answers recorded for the OpenAPI check",
  () => StoreMemory.layer,
  (store, options) =>
    startWebHandler(store, options, (request, response) => {
      seen.push({
        method: request.method,
        path: new URL(request.url).pathname,
        status: response.status,
        contentType: response.headers.get("content-type"),
        text: response.text()
      })
    })
)

const doc = Api.openApi() as any
const templates = Object.keys(doc.paths).map((template) => ({
  template,
  pattern: new RegExp("^" + template.replace(/\{[^}]+\}/g, "[^/]+") + "/?$")
}))

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
        }
      }
    }
    expect(JSON.stringify(doc)).not.toContain("HttpApiDecodeError")
  })

  it("every answer of the conformance suite is declared for its route and matches its schema", async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true })
    ajv.addSchema({ $id: "openapi.json", components: doc.components })
    let checked = 0
    const statuses = new Set<number>()
    for (const answer of seen) {
      const found = templates.find((t) => t.pattern.test(answer.path))
      const operation = found && doc.paths[found.template][answer.method.toLowerCase()]
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
    expect([...statuses].sort()).toEqual(expect.arrayContaining([200, 400, 401, 403, 404, 413, 422]))
  })
})
