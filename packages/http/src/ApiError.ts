/**
 * Every failure an HTTP client can see, with its status and code (behaviour §2). Domain errors get
 * their statuses here, at the edge, in `fromDomain`.
 */
import type * as Contacts from "@tracklog/core/Contacts"
import type * as Idempotency from "@tracklog/core/Idempotency"
import type * as Projects from "@tracklog/core/Projects"
import type * as CommandHandler from "@tracklog/core/CommandHandler"
import type * as ContactUpdate from "@tracklog/core/ContactUpdate"
import * as FieldIssue from "@tracklog/core/FieldIssue"
import type * as SegmentCommand from "@tracklog/core/SegmentCommand"
import type * as SegmentCondition from "@tracklog/core/SegmentCondition"
import type * as StoreError from "@tracklog/core/StoreError"
import type * as Suppressions from "@tracklog/core/Suppressions"
import type * as TrackBatch from "@tracklog/core/TrackBatch"
import type * as TrackCommand from "@tracklog/core/TrackCommand"
import type * as WebhookEndpoint from "@tracklog/core/WebhookEndpoint"
import type * as WebhookEndpointCommand from "@tracklog/core/WebhookEndpointCommand"
import * as Schema from "effect/Schema"

/** The machine-readable codes of behaviour §2. */
export type Code =
  | "VALIDATION_ERROR"
  | "MISSING_AUTH"
  | "INVALID_API_KEY"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "CONTACT_NOT_FOUND"
  | "CONTACT_EXISTS"
  | "PAYLOAD_TOO_LARGE"
  | "REQUEST_HEADER_FIELDS_TOO_LARGE"
  | "RATE_LIMIT_EXCEEDED"
  | "METHOD_NOT_ALLOWED"
  | "SERVICE_UNAVAILABLE"
  | "INTERNAL_SERVER_ERROR"
  | "IDEMPOTENCY_KEY_REUSED"
  | "SEGMENT_EXISTS"
  | "SEGMENT_IN_USE"

/** A failure answered with the error envelope. */
export class ApiError extends Schema.TaggedError<ApiError>()("ApiError", {
  status: Schema.Number,
  code: Schema.String,
  message: Schema.String,
  errors: Schema.optionalWith(Schema.Array(FieldIssue.FieldIssue), { exact: true }),
  suggestion: Schema.optionalWith(Schema.String, { exact: true })
}) {}

const make = (status: number, code: Code, message: string, suggestion?: string) =>
  new ApiError(suggestion === undefined ? { status, code, message } : { status, code, message, suggestion })

export const invalidJson = () =>
  make(
    400,
    "VALIDATION_ERROR",
    "Invalid JSON in request body",
    "Send a JSON object with Content-Type: application/json"
  )

/** A 422 listing the broken rules; the track route's codes are `TrackCommand.IssueCode`s. */
export const validation = (errors: ReadonlyArray<FieldIssue.FieldIssue>) =>
  new ApiError({
    status: 422,
    code: "VALIDATION_ERROR",
    message: "Request validation failed",
    errors,
    suggestion: "Fix the fields listed in errors[] and retry"
  })

export const missingAuth = () =>
  make(401, "MISSING_AUTH", "Missing or malformed Authorization header", "Send Authorization: Bearer <key>")

export const invalidApiKey = () =>
  make(401, "INVALID_API_KEY", "Invalid API key", "Check the key in your project settings")

export const forbidden = () =>
  make(
    403,
    "FORBIDDEN",
    "This endpoint requires a secret key (sk_…); public keys only work with /v1/track and /v1/track/batch"
  )

export const notFound = () => make(404, "NOT_FOUND", "Route not found")

export const contactNotFound = () => make(404, "CONTACT_NOT_FOUND", "Contact not found")

export const segmentNotFound = () => make(404, "NOT_FOUND", "Segment not found")
/** No webhook endpoint of the project has this id (behaviour §12). */
export const webhookNotFound = () => make(404, "NOT_FOUND", "Webhook endpoint not found")

/** The endpoint has no delivery with this id (behaviour §12). */
export const deliveryNotFound = () => make(404, "NOT_FOUND", "Delivery not found")

export const payloadTooLarge = (limit: number) => make(413, "PAYLOAD_TOO_LARGE", `Request body exceeds ${limit} bytes`)

/** A header block over Node's limit (RFC 6585 §5): the headers are at fault, not the body. */
export const headersTooLarge = () =>
  make(
    431,
    "REQUEST_HEADER_FIELDS_TOO_LARGE",
    "Request headers too large",
    "Send fewer or shorter headers"
  )

export const serviceUnavailable = () =>
  make(503, "SERVICE_UNAVAILABLE", "The event store is unavailable", "Retry later")

export const methodNotAllowed = (allow: ReadonlyArray<string>) =>
  make(405, "METHOD_NOT_ALLOWED", "Method not allowed on this route", `Use ${allow.join(", ")}`)

/** The per-key rate limit (behaviour §9); `Retry-After` carries the wait. */
export const rateLimited = () =>
  make(
    429,
    "RATE_LIMIT_EXCEEDED",
    "Rate limit exceeded for this API key",
    "Retry after the number of seconds in Retry-After"
  )

export const internal = () => make(500, "INTERNAL_SERVER_ERROR", "Internal server error")

/** A malformed `Idempotency-Key` header, or the header sent twice (behaviour §6). */
export const invalidIdempotencyKey = (message: string) =>
  new ApiError({
    status: 400,
    code: "VALIDATION_ERROR",
    message: "Request validation failed",
    errors: [{ field: "Idempotency-Key", code: "invalid_idempotency_key", message }],
    suggestion: "Send one Idempotency-Key of 1–255 visible ASCII characters, e.g. a UUID"
  })

/** The key was used before with another body (behaviour §6). */
export const idempotencyKeyReused = () =>
  make(
    422,
    "IDEMPOTENCY_KEY_REUSED",
    "This Idempotency-Key was used with a different request body",
    "Use a new key for a new request; resend the same body to get the first answer again"
  )

/** The HTTP face of a domain error. */
export const fromDomain = (
  error:
    | TrackCommand.InvalidTrackCommand
    | Contacts.ContactNotFound
    | StoreError.StoreUnavailable
    | CommandHandler.RetriesExhausted
    | Idempotency.IdempotencyKeyReused
    | Idempotency.InvalidIdempotencyKey
    | TrackBatch.InvalidTrackBatch
    | ContactUpdate.InvalidContactUpdate
    | ContactUpdate.ContactExists
    | Suppressions.NotSuppressed
    | Projects.GrantRevoked
    | Suppressions.EmailSuppressed
    | SegmentCommand.InvalidSegment
    | SegmentCondition.InvalidCondition
    | SegmentCommand.SegmentNotFound
    | SegmentCommand.SegmentExists
    | SegmentCommand.SegmentInUse
    | WebhookEndpoint.WebhookEndpointNotFound
    | WebhookEndpoint.WebhookEndpointExists
    | WebhookEndpointCommand.InvalidWebhookEndpoint
    | ApiError
): ApiError => {
  switch (error._tag) {
    case "ApiError":
      return error
    // The key was revoked between its check and the write: as if it had been refused first.
    case "GrantRevoked":
      return invalidApiKey()
    case "InvalidTrackCommand":
      return validation(error.issues)
    case "ContactNotFound":
      return contactNotFound()
    case "StoreUnavailable":
      return serviceUnavailable()
    // Only a contact written to without pause by several processes gets here.
    case "RetriesExhausted":
      return make(
        429,
        "RATE_LIMIT_EXCEEDED",
        "Too many concurrent updates to this contact",
        "Retry after a short pause"
      )
    case "IdempotencyKeyReused":
      return idempotencyKeyReused()
    case "InvalidIdempotencyKey":
      return invalidIdempotencyKey(error.message)
    case "InvalidTrackBatch":
      return validation(error.issues)
    case "InvalidContactUpdate":
      return validation(error.issues)
    case "ContactExists":
      return make(
        409,
        "CONTACT_EXISTS",
        "Another contact of the project has this email",
        "Erase or change that contact first, or keep this contact's email"
      )
    // Only a command that creates a contact meets the list, and the track answers it itself (§7).
    case "EmailSuppressed":
      return make(409, "CONTACT_EXISTS", "This email is suppressed in the project")
    case "NotSuppressed":
      return make(404, "NOT_FOUND", "This email is not suppressed")
    case "InvalidSegment":
    case "InvalidCondition":
      return validation(error.issues)
    case "SegmentNotFound":
      return segmentNotFound()
    case "SegmentExists":
      return make(
        409,
        "SEGMENT_EXISTS",
        `Another segment of the project has the slug "${error.slug}"`,
        "Choose another name: a segment's slug is made from its name and never changes"
      )
    case "SegmentInUse":
      return make(
        409,
        "SEGMENT_IN_USE",
        `Other segments refer to this one: ${error.referencedBy.join(", ")}`,
        "Change or delete the segments that refer to it first"
      )
    case "WebhookEndpointNotFound":
      return webhookNotFound()
    case "InvalidWebhookEndpoint":
      return validation(error.issues)
    // A fresh id that is taken: a fault of the id source, never the caller's.
    case "WebhookEndpointExists":
      return internal()
  }
}

// The challenge of a 401 (RFC 9110 §11.6.1), in RFC 6750's form: `invalid_token` when a key was
// sent and is not one; none when there was no usable key (RFC 6750 §3.1). Built once, not per answer.
const challenge = { "www-authenticate": 'Bearer realm="tracklog"' } as const
const invalidTokenChallenge = { "www-authenticate": 'Bearer realm="tracklog", error="invalid_token"' } as const

/** The headers an error's answer carries besides the envelope: `WWW-Authenticate` on a 401. */
export const headersOf = (error: ApiError): Readonly<Record<string, string>> | undefined =>
  error.status !== 401 ? undefined : error.code === "INVALID_API_KEY" ? invalidTokenChallenge : challenge

/** The error envelope of behaviour §2, as JSON text. */
export const envelope = (error: ApiError, requestId: string): string =>
  JSON.stringify({
    success: false,
    error: {
      code: error.code,
      message: error.message,
      statusCode: error.status,
      requestId,
      ...(error.errors === undefined ? {} : { errors: error.errors }),
      ...(error.suggestion === undefined ? {} : { suggestion: error.suggestion })
    },
    timestamp: new Date().toISOString()
  })
