/**
 * Failures of a store backend that are not the caller's fault.
 */
import * as Schema from "effect/Schema"

/**
 * The store could not be reached or did not answer in time; the command may be retried. `reason`
 * is a short text for logs; `cause`, when there is one, the backend's own error, kept for
 * diagnosis (never shown to clients).
 */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}
