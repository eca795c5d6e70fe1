/**
 * The batch of track commands (behaviour §8): `{"events": [<track body>, …]}` with 1–1000 items. Each
 * item is decoded alone (an invalid one is rejected alone); the valid ones are applied in order
 * and committed together by `Track.trackBatch`.
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Json from "./Json.js"
import * as TrackCommand from "./TrackCommand.js"

/** The most items in one batch. */
export const MaxItems = 1000

/** The default body limit of a batch request, in bytes (10 MiB). */
export const DefaultBodyLimit = 10 * 1024 * 1024

/** An item of a decoded batch: a valid command, or the issues of an invalid one. */
export type Item = Either.Either<TrackCommand.TrackCommand, TrackCommand.InvalidTrackCommand>

/** The batch as a whole is not one (no `events` array, empty, over the limit): nothing is applied. */
export class InvalidTrackBatch extends Schema.TaggedError<InvalidTrackBatch>()("InvalidTrackBatch", {
  issues: Schema.Array(Schema.Struct({ field: Schema.String, message: Schema.String, code: Schema.String }))
}) {}

const invalid = (code: string, message: string) =>
  Either.left(new InvalidTrackBatch({ issues: [{ field: "events", code, message }] }))

/** Decodes a parsed JSON body into its items, each decoded as `/v1/track` would. */
export const decode = (body: unknown): Either.Either<ReadonlyArray<Item>, InvalidTrackBatch> => {
  if (!Json.isObject(body)) return invalid("invalid_type", "Expected an object with an events array")
  const events = body["events"]
  if (events === undefined) return invalid("required", "events is required")
  if (!Array.isArray(events)) return invalid("invalid_type", "events must be an array")
  if (events.length === 0) return invalid("too_small", "events must hold at least 1 item")
  if (events.length > MaxItems) return invalid("too_big", `events may hold at most ${MaxItems} items`)
  return Either.right(events.map((item: unknown) => TrackCommand.decode(item)))
}

/** An item's outcome, in the batch's order. */
export type ItemResult =
  | { readonly _tag: "Accepted"; readonly contact: string; readonly event: string; readonly timestamp: Date }
  | { readonly _tag: "Rejected"; readonly error: TrackCommand.InvalidTrackCommand }
  /** Its email is suppressed and has no contact: nothing stored for it (behaviour §7). */
  | { readonly _tag: "Suppressed"; readonly timestamp: Date }

/** What a batch answers: each item counted once, so the three counts sum to the items. */
export interface Result {
  /** Items applied. */
  readonly accepted: number
  /** Invalid items, refused for their validation errors. */
  readonly rejected: number
  /** Items whose email is suppressed: nothing stored for them (behaviour §7). */
  readonly suppressed: number
  readonly items: ReadonlyArray<ItemResult>
}
