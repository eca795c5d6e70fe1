/**
 * The request parameters handlers read, each parsed once here with the 4xx its bad values get:
 * page `limit` and `cursor` (behaviour §3, decision 0006), the `:id` of a contact, the
 * `Idempotency-Key` header (behaviour §6), `at` (behaviour §5.2), `suppress` and `email`.
 */
import * as Idempotency from "@tracklog/core/Idempotency"
import * as Ids from "@tracklog/core/Ids"
import * as Timestamp from "@tracklog/core/Timestamp"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ApiError from "./ApiError.js"
import type * as Handlers from "./Handlers.js"

/** `?limit=`: 1 to the page's maximum, its default when absent; the sizes are `Api`'s (`ContactsPage`, `EventsPage`). */
export const limit = (
  query: URLSearchParams,
  size: { readonly max: number; readonly default: number }
): Effect.Effect<number, ApiError.ApiError> => {
  const raw = query.get("limit")
  if (raw === null) return Effect.succeed(size.default)
  const n = /^\d{1,7}$/.test(raw) ? Number(raw) : NaN
  return n >= 1 && n <= size.max
    ? Effect.succeed(n)
    : Effect.fail(
      ApiError.validation([{
        field: "limit",
        code: "invalid_limit",
        message: `limit must be an integer from 1 to ${size.max}`
      }])
    )
}

const invalidCursor = Effect.fail(
  ApiError.validation([{
    field: "cursor",
    code: "invalid_cursor",
    message: "cursor must be a value returned by a previous page"
  }])
)

/** `?cursor=` of the contact list: the id of the last contact of the previous page; `cursor=` is none. */
export const contactsCursor = (query: URLSearchParams): Effect.Effect<string | undefined, ApiError.ApiError> => {
  const cursor = query.get("cursor") || undefined
  return cursor === undefined || Ids.isUuid(cursor) ? Effect.succeed(cursor) : invalidCursor
}

/** `?cursor=` of a timeline: the version of the last event of the previous page; `cursor=` is none. */
export const eventsCursor = (query: URLSearchParams): Effect.Effect<string | undefined, ApiError.ApiError> => {
  const cursor = query.get("cursor") || undefined
  return cursor === undefined || /^[1-9]\d{0,8}$/.test(cursor) ? Effect.succeed(cursor) : invalidCursor
}

/** The `:id` of a contact route. Contact ids are UUIDs: anything else names no contact, and never reaches the store. */
export const contactId = (request: Handlers.Request): Effect.Effect<string, ApiError.ApiError> => {
  const id = request.params["id"]!
  return Ids.isUuid(id) ? Effect.succeed(id) : Effect.fail(ApiError.contactNotFound())
}

/** `Idempotency-Key` (behaviour §6): none, one valid key, or a 400 (a malformed key, or the header twice). */
export const idempotencyKey = (request: Handlers.Request): Either.Either<Option.Option<string>, ApiError.ApiError> => {
  const values = request.headers?.["idempotency-key"]
  if (values === undefined || values.length === 0) return Either.right(Option.none())
  if (values.length > 1) return Either.left(ApiError.invalidIdempotencyKey("Send the Idempotency-Key header once"))
  return Either.mapBoth(Idempotency.parseKey(values[0]!), { onLeft: ApiError.fromDomain, onRight: Option.some })
}

/** A request header's first value, by lowercase name. */
export const header = (request: Handlers.Request, name: string): string | undefined => request.headers?.[name]?.[0]

const invalidTimestamp = ApiError.validation([
  { field: "at", code: "invalid_timestamp", message: "at must be an ISO-8601 time, e.g. 2024-05-01T12:00:00Z" }
])

/**
 * `?at=` (behaviour §5.2): none when absent, else an ISO-8601 date or date-time (UTC without an
 * offset, `Timestamp.parse`), or a 422 `invalid_timestamp`.
 */
export const at = (query: URLSearchParams): Either.Either<Option.Option<Date>, ApiError.ApiError> => {
  const text = query.get("at")
  if (text === null) return Either.right(Option.none())
  const millis = Timestamp.parse(text)
  return Number.isNaN(millis) ? Either.left(invalidTimestamp) : Either.right(Option.some(new Date(millis)))
}

/** `?suppress=` of an erasure (behaviour §7): `true` or `false`, false when absent. */
export const suppress = (query: URLSearchParams): Effect.Effect<boolean, ApiError.ApiError> => {
  const raw = query.get("suppress")
  return raw === null || raw === "true" || raw === "false"
    ? Effect.succeed(raw === "true")
    : Effect.fail(ApiError.validation([{
      field: "suppress",
      code: "invalid_suppress",
      message: "suppress must be true or false"
    }]))
}

/**
 * An `email` parameter in the canonical form the track route stores (behaviour §1.2: trimmed,
 * lowercased), or none when no contact could ever have it.
 */
export const canonicalEmail = (email: string): Option.Option<string> => {
  const canonical = email.trim().toLowerCase()
  return TrackCommand.isEmail(canonical) ? Option.some(canonical) : Option.none()
}
