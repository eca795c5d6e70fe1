/**
 * Makes the generated OpenAPI document tell what the server sends, for every endpoint alike:
 * - every non-2xx answer is the one `ErrorEnvelope` component (behaviour §2), by `$ref`, and every
 *   401 declares its `WWW-Authenticate` header;
 * - the `400 HttpApiDecodeError` the generator adds to each endpoint goes: the server never
 *   sends that shape (a 400 it does send is declared by the endpoint, with the envelope);
 * - Effect's own schemas (`Trim`, `PropertyKey`, `Issue`, …) are inlined or dropped, so the
 *   public schemas are ours;
 * - an object schema that names no properties says `additionalProperties: true` out loud: client
 *   generators read a bare `{ type: "object" }` as an empty object (openapi-typescript does);
 * - routes the server answers outside `HttpApi` (`GET /metrics`: not JSON) are added as given;
 * - the routes that parse their body as JSON whatever its type say they take `text/plain` too
 *   (`navigator.sendBeacon` sends it; decision 0006), with the same schema;
 * - the 405 of a known path with another method (behaviour §9) is `components.responses.MethodNotAllowed`:
 *   OpenAPI has no place for "any method a path does not declare", so the document names it once
 *   and says so in its description; the `Allow` it sends lists the methods the path declares, and
 *   HEAD wherever GET is (a HEAD is answered as its GET without the body, so it is not declared apart).
 */
import type * as OpenApi from "@effect/platform/OpenApi"
import * as OpenApiJsonSchema from "@effect/platform/OpenApiJsonSchema"
import type * as Schema from "effect/Schema"
import * as EffectSchema from "effect/Schema"

const defsPath = "#/components/schemas/"
const DecodeError = `${defsPath}HttpApiDecodeError`

type Json = any

// A schema is Effect's own when effect/Schema exports a schema of that name (Trim, PropertyKey, …).
const isEffectSchema = (name: string) => EffectSchema.isSchema((EffectSchema as Record<string, unknown>)[name])

const onlyDecodeError = (schema: Json) => schema?.$ref === DecodeError

const mapRefs = (node: Json, f: (ref: string, node: Json) => Json): Json => {
  if (Array.isArray(node)) return node.map((n) => mapRefs(n, f))
  if (node === null || typeof node !== "object") return node
  if (typeof node.$ref === "string") return f(node.$ref, node)
  const out: Record<string, Json> = {}
  for (const [k, v] of Object.entries(node)) out[k] = mapRefs(v, f)
  return out
}

const openObjects = (node: Json): Json => {
  if (Array.isArray(node)) return node.map(openObjects)
  if (node === null || typeof node !== "object") return node
  const out: Record<string, Json> = {}
  for (const [k, v] of Object.entries(node)) out[k] = openObjects(v)
  if (
    out.type === "object" && out.properties === undefined && out.additionalProperties === undefined &&
    out.patternProperties === undefined
  ) {
    out.additionalProperties = true
  }
  return out
}

const refsIn = (node: Json, into: Set<string>) => {
  mapRefs(node, (ref, n) => {
    into.add(ref)
    return n
  })
  return into
}

/** A route answered outside `HttpApi`, described by hand: its success is text, its errors the envelope. */
export interface TextOperation {
  readonly path: string
  readonly method: "get"
  readonly operationId: string
  readonly tag: string
  readonly summary: string
  readonly description: string
  readonly contentType: string
  /** Error answers: status → description. */
  readonly errors: Readonly<Record<number, string>>
}

// Every 401 challenges (RFC 9110 §11.6.1).
const wwwAuthenticate = {
  description: '`Bearer realm="tracklog"`, with `, error="invalid_token"` when the key sent names no project',
  schema: { type: "string" }
}

/** The name of the 405 answer in `components.responses`. */
export const MethodNotAllowed = "MethodNotAllowed"

/** The document, corrected; `envelope` is the error envelope's schema. */
export const fix = (
  generated: OpenApi.OpenAPISpec,
  envelope: Schema.Schema.Any,
  options: {
    readonly additionalPropertiesStrategy?: "allow" | "strict"
    readonly textOperations?: ReadonlyArray<TextOperation>
    /** The paths whose `post` also takes its JSON body as `text/plain`. */
    readonly plainTextBodies?: ReadonlyArray<string>
  } = {}
): OpenApi.OpenAPISpec => {
  const doc: Json = structuredClone(generated)
  const schemas: Record<string, Json> = doc.components.schemas
  const envelopeRef = OpenApiJsonSchema.makeWithDefs(envelope, {
    defs: schemas,
    defsPath,
    ...(options.additionalPropertiesStrategy
      ? { additionalPropertiesStrategy: options.additionalPropertiesStrategy }
      : {})
  })

  for (const extra of options.textOperations ?? []) {
    const errors: Record<string, Json> = {}
    for (const [status, description] of Object.entries(extra.errors)) {
      // The envelope is put in below, as for every error answer.
      errors[status] = { description }
    }
    doc.paths[extra.path] = {
      ...doc.paths[extra.path],
      [extra.method]: {
        tags: [extra.tag],
        operationId: extra.operationId,
        summary: extra.summary,
        description: extra.description,
        parameters: [],
        security: [],
        responses: {
          200: { description: "Success", content: { [extra.contentType]: { schema: { type: "string" } } } },
          ...errors
        }
      }
    }
    if (!doc.tags.some((t: Json) => t.name === extra.tag)) doc.tags.push({ name: extra.tag })
  }

  for (const path of options.plainTextBodies ?? []) {
    const content = doc.paths[path]?.post?.requestBody?.content
    if (content?.["application/json"] !== undefined) content["text/plain"] = content["application/json"]
  }

  for (const item of Object.values<Json>(doc.paths)) {
    for (const operation of Object.values<Json>(item)) {
      const responses = operation?.responses
      if (responses === undefined) continue
      for (const [status, response] of Object.entries<Json>(responses)) {
        if (Number(status) < 400) continue
        const schema = response.content?.["application/json"]?.schema
        if (onlyDecodeError(schema)) {
          delete responses[status]
          continue
        }
        response.content = { "application/json": { schema: envelopeRef } }
        if (status === "401") response.headers = { ...response.headers, "WWW-Authenticate": wwwAuthenticate }
      }
    }
  }
  doc.components.responses = {
    ...doc.components.responses,
    [MethodNotAllowed]: {
      description:
        "METHOD_NOT_ALLOWED: a known path with a method it does not declare (HEAD is answered wherever GET is: as GET, without a body)",
      headers: {
        Allow: {
          description:
            "The methods the path declares, HEAD wherever GET is, and OPTIONS on the CORS routes; comma-separated",
          schema: { type: "string" }
        }
      },
      content: { "application/json": { schema: envelopeRef } }
    }
  }

  // Inline Effect's own schemas where they are used, then keep only what the paths reach.
  const inline = (node: Json): Json =>
    mapRefs(node, (ref, n) => {
      const name = ref.startsWith(defsPath) ? ref.slice(defsPath.length) : undefined
      if (name === undefined || !isEffectSchema(name) || schemas[name] === undefined) return n
      const { $ref: _, ...rest } = n
      return inline({ ...schemas[name], ...rest })
    })
  doc.paths = inline(doc.paths)
  for (const name of Object.keys(schemas)) schemas[name] = inline(schemas[name])
  const reached = refsIn(doc.paths, new Set())
  for (let size = -1; size !== reached.size;) {
    size = reached.size
    for (const ref of [...reached]) {
      const name = ref.slice(defsPath.length)
      if (schemas[name] !== undefined) refsIn(schemas[name], reached)
    }
  }
  for (const name of Object.keys(schemas)) {
    if (!reached.has(defsPath + name)) delete schemas[name]
  }
  doc.components.schemas = openObjects(schemas)
  doc.paths = openObjects(doc.paths)
  return doc
}
