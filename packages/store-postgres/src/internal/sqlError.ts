import type * as SqlError from "@effect/sql/SqlError"
import * as StoreError from "@tracklog/core/StoreError"
import * as Effect from "effect/Effect"

const causeOf = (error: SqlError.SqlError) => (error.cause ?? {}) as { code?: unknown; message?: unknown }

/** Deadlock (40P01) or serialization failure (40001): nothing was written; try again. */
export const isRetryable = (error: SqlError.SqlError): boolean => {
  const { code } = causeOf(error)
  return code === "40P01" || code === "40001"
}

/** A unique violation of the idempotency key: another transaction stored the key first. */
export const isIdempotencyTaken = (error: SqlError.SqlError): boolean => {
  const { code, constraint } = causeOf(error) as { code?: unknown; constraint?: unknown }
  return code === "23505" && constraint === "idempotency_keys_pkey"
}

/** The append statement's guard (a division by zero, 22012): nothing was written; decide again. */
export const isGuardTripped = (error: SqlError.SqlError): boolean => causeOf(error).code === "22012"

const UnavailableCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "EAI_AGAIN"
])
const UnavailableMessage =
  /connection terminated|connection timed out|timeout exceeded when trying to connect|connection error|not queryable|terminating connection|the database system is (starting up|shutting down)/i

/**
 * True when the database could not be reached or went away: class 08 (connection exception),
 * 57P01-57P03 (shutdown, crash, cannot connect now), 57014 (cancelled), 53 (insufficient resources), or a socket
 * error. Anything else is a bug, not an outage.
 */
export const isUnavailable = (error: SqlError.SqlError): boolean => {
  const { code, message } = causeOf(error)
  // 57014: a statement cancelled (ours, after a timeout, landing late) is an outage too.
  if (typeof code === "string" && (UnavailableCodes.has(code) || /^(08|53|57P0[123]|57014)/.test(code))) return true
  return typeof message === "string" && UnavailableMessage.test(message)
}

/** An outage becomes `StoreUnavailable` (503); any other SQL error is a defect (500) and is logged. */
export const orUnavailable = <A, R>(
  effect: Effect.Effect<A, SqlError.SqlError, R>
): Effect.Effect<A, StoreError.StoreUnavailable, R> =>
  Effect.catchAll(effect, (error) =>
    isUnavailable(error)
      ? Effect.fail(
        new StoreError.StoreUnavailable({ reason: String(causeOf(error).message ?? error.message), cause: error })
      )
      : Effect.die(error))
