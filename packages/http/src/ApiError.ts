/**
 * Every failure an HTTP client can see, with its status and code (SPEC §2). Domain errors get
 * their statuses here, at the edge, in `fromDomain`.
 */
import type * as Contacts from "@tracklog/core/Contacts"
import type * as StoreError from "@tracklog/core/StoreError"
import type * as Track from "@tracklog/core/Track"
import type * as TrackCommand from "@tracklog/core/TrackCommand"
import * as Schema from "effect/Schema"

/** The machine-readable codes of SPEC §2. */
export type Code =
  | "VALIDATION_ERROR"
  | "MISSING_AUTH"
  | "INVALID_API_KEY"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "CONTACT_NOT_FOUND"
  | "PAYLOAD_TOO_LARGE"
  | "RATE_LIMIT_EXCEEDED"
  | "METHOD_NOT_ALLOWED"
  | "SERVICE_UNAVAILABLE"
  | "INTERNAL_SERVER_ERROR"

/** A failure answered with the error envelope. */
export class ApiError extends Schema.TaggedError<ApiError>()("ApiError", {
  status: Schema.Number,
  code: Schema.String,
  message: Schema.String,
  errors: Schema.optionalWith(Schema.Array(Schema.Struct({ field: Schema.String, message: Schema.String, code: Schema.String })), { exact: true }),
  suggestion: Schema.optionalWith(Schema.String, { exact: true })
}) {}

const make = (status: number, code: Code, message: string, suggestion?: string) =>
  new ApiError(suggestion === undefined ? { status, code, message } : { status, code, message, suggestion })

export const invalidJson = () =>
  make(400, "VALIDATION_ERROR", "Invalid JSON in request body", "Send a JSON object with Content-Type: application/json")

/** One broken rule; the track route's codes are `TrackCommand.IssueCode`s. */
export interface FieldError {
  readonly field: string
  readonly message: string
  readonly code: string
}

export const validation = (errors: ReadonlyArray<FieldError>) =>
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
  make(403, "FORBIDDEN", "This endpoint requires a secret key (sk_…); public keys only work with /v1/track")

export const notFound = () => make(404, "NOT_FOUND", "Route not found")

export const contactNotFound = () => make(404, "CONTACT_NOT_FOUND", "Contact not found")

export const payloadTooLarge = (limit: number) =>
  make(413, "PAYLOAD_TOO_LARGE", `Request body exceeds ${limit} bytes`)

export const serviceUnavailable = () =>
  make(503, "SERVICE_UNAVAILABLE", "The event store is unavailable", "Retry later")

export const methodNotAllowed = (allow: ReadonlyArray<string>) =>
  make(405, "METHOD_NOT_ALLOWED", "Method not allowed on this route", `Use ${allow.join(", ")}`)

/** The per-key rate limit (SPEC §9); `Retry-After` carries the wait. */
export const rateLimited = () =>
  make(429, "RATE_LIMIT_EXCEEDED", "Rate limit exceeded for this API key", "Retry after the number of seconds in Retry-After")

export const internal = () => make(500, "INTERNAL_SERVER_ERROR", "Internal server error")

/** The HTTP face of a domain error. */
export const fromDomain = (
  error:
    | TrackCommand.InvalidTrackCommand
    | Contacts.ContactNotFound
    | StoreError.StoreUnavailable
    | Track.TrackRetriesExhausted
    | ApiError
): ApiError => {
  switch (error._tag) {
    case "ApiError":
      return error
    case "InvalidTrackCommand":
      return validation(error.issues)
    case "ContactNotFound":
      return contactNotFound()
    case "StoreUnavailable":
      return serviceUnavailable()
    // Only a contact written to without pause by several processes gets here.
    case "TrackRetriesExhausted":
      return make(429, "RATE_LIMIT_EXCEEDED", "Too many concurrent updates to this contact", "Retry after a short pause")
  }
}

/** The error envelope of SPEC §2, as JSON text. */
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
