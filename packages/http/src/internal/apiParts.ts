/**
 * What the route modules of `Api` share: the error envelope and how an endpoint declares an error,
 * pages, page parameters, and the bearer key middleware with its errors.
 */
import type * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as FieldIssue from "@tracklog/core/FieldIssue"
import * as Schema from "effect/Schema"

/** One broken rule of a request, in `error.errors[]` (the core's `FieldIssue`). */
export const FieldError = FieldIssue.FieldIssue.annotations({ identifier: "FieldError" })

/** The envelope of every non-2xx answer (behaviour §2). */
export const ErrorEnvelope = Schema.Struct({
  success: Schema.Literal(false),
  error: Schema.Struct({
    code: Schema.String,
    message: Schema.String,
    statusCode: Schema.Number,
    requestId: Schema.String,
    errors: Schema.optionalWith(Schema.Array(FieldError), { exact: true }),
    suggestion: Schema.optionalWith(Schema.String, { exact: true })
  }),
  timestamp: Schema.String
}).annotations({ identifier: "ErrorEnvelope" })

export const error = (status: number, description: string) =>
  [ErrorEnvelope.annotations({ description }), { status }] as const

export const page = <A, I>(item: Schema.Schema<A, I>, identifier: string) =>
  Schema.Struct({
    data: Schema.Array(item),
    cursor: Schema.optionalWith(Schema.String, { exact: true }).annotations({
      description: "Pass as `cursor` for the next page; absent on the last page"
    }),
    hasMore: Schema.Boolean
  }).annotations({ identifier })

/** Bearer key authentication: `pk_…` works on `/v1/track` only, `sk_…` everywhere. */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("Authorization", {
  security: { bearer: HttpApiSecurity.bearer }
}) {}

export const authErrors = <E extends HttpApiEndpoint.HttpApiEndpoint.Any>(endpoint: E): E =>
  (endpoint as unknown as HttpApiEndpoint.HttpApiEndpoint.AnyWithProps)
    .addError(...error(401, "MISSING_AUTH or INVALID_API_KEY"))
    .addError(...error(429, "RATE_LIMIT_EXCEEDED"))
    .addError(...error(503, "SERVICE_UNAVAILABLE: the store cannot be reached")) as unknown as E

export const PageParams = (size: { readonly max: number; readonly default: number }) =>
  Schema.Struct({
    limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, size.max))).annotations({
      description: `Page size, 1–${size.max}, default ${size.default}`
    }),
    cursor: Schema.optional(Schema.String)
  })
