import type * as SqlError from "@effect/sql/SqlError"
import * as StoreError from "@tracklog/core/StoreError"
import type * as Duration from "effect/Duration"
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

/** A unique violation of a contact's (project, email): another contact holds the email. */
export const isEmailTaken = (error: SqlError.SqlError): boolean => {
  const { code, constraint } = causeOf(error) as { code?: unknown; constraint?: unknown }
  return code === "23505" && constraint === "contacts_project_id_email_key"
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
 * The message of a `SqlError` raised while taking a connection from the pool (`@effect/sql-pg`'s,
 * and the direct path's): "…", "… for transaction", "… for listen".
 */
export const AcquireFailed = "Failed to acquire connection"

/**
 * True when the database could not be reached or went away: no connection could be had (the
 * database refused it, whatever its code: 55000 not accepting connections, 3D000 gone, 28P01
 * credentials refused), class 08 (connection exception), 57P01-57P03 (shutdown, crash, cannot
 * connect now), 57014 (cancelled), 53 (insufficient resources), or a socket error. Anything
 * else is a bug, not an outage.
 */
export const isUnavailable = (error: SqlError.SqlError): boolean => {
  if (error.message.startsWith(AcquireFailed)) return true
  const { code, message } = causeOf(error)
  // 57014: a statement cancelled by an operator (we never cancel ours: see `bounded`) is an outage too.
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

/**
 * Every operation is bounded: a database that hangs answers `StoreUnavailable`, not never. The
 * statement itself is never interrupted, neither by the timeout nor by its caller going away (an
 * event stream's client disconnecting): the driver would cancel it with `pg_cancel_backend`, a
 * signal to the backend that can land after the statement ended and cancel whatever the pooled
 * connection runs next — another request's statement, answered 503. Disconnected, the caller is
 * answered at once while the statement runs to its end and gives its connection back.
 */
export const bounded = (timeout: Duration.DurationInput) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.disconnect(Effect.uninterruptible(effect)).pipe(Effect.timeoutFail({ duration: timeout, onTimeout: timedOut }))

/** What a caller is answered when its statement outlasts the timeout (the statement goes on). */
export const timedOut = () => new StoreError.StoreUnavailable({ reason: "database timed out" })
