/**
 * Generators of track requests and contact updates that hit every row of the merge table (behaviour §1.5): reserved keys,
 * empty strings, nulls, one-shot and persistent wrappers, nested values, `locale`.
 */
import * as FastCheck from "effect/FastCheck"
import type * as Json from "../Json.js"
import * as TrackCommand from "../TrackCommand.js"

/** A one-shot value carries this marker, so a test can tell if one ever reached a contact. */
export const OneShotMarker = "one-shot-marker"

const keys = FastCheck.constantFrom(
  "plan",
  "name",
  "a.b",
  "tags",
  "__proto__",
  "locale",
  ...TrackCommand.ReservedDataKeys
)

const plain: FastCheck.Arbitrary<Json.Json> = FastCheck.oneof(
  FastCheck.constantFrom("", null, "pro", "free", 0, 1, true, false),
  FastCheck.array(FastCheck.integer({ min: 0, max: 3 }), { maxLength: 2 }),
  FastCheck.record({ city: FastCheck.constantFrom("Paris", "Lyon") }, { requiredKeys: [] })
)

/** A value for one data key: plain, wrapped persistent, or one-shot. */
export const dataValue: FastCheck.Arbitrary<Json.Json> = FastCheck.oneof(
  plain,
  plain.map((value) => ({ value, persistent: true })),
  FastCheck.nat(1000).map((n) => ({ value: `${OneShotMarker}-${n}`, persistent: false }))
)

/** A `data` object with keys from a small pool, so successive requests overlap. */
export const data: FastCheck.Arbitrary<Json.JsonObject> = FastCheck.array(FastCheck.tuple(keys, dataValue), {
  maxLength: 5
})
  .map((entries) =>
    Object.fromEntries(entries.filter(([k, v]) => k !== "locale" || typeof v === "string" || v === null))
  )

/** A valid request body for one of a few emails. */
export const request = (emails: ReadonlyArray<string>): FastCheck.Arbitrary<TrackCommand.Encoded> =>
  FastCheck.record({
    email: FastCheck.constantFrom(...emails),
    event: FastCheck.constantFrom("signup", "purchase", "Email.sent", " spaced "),
    subscribed: FastCheck.boolean(),
    preserveExistingSubscription: FastCheck.boolean(),
    data
  }, { requiredKeys: ["email", "event"] })

/**
 * A valid contact update body (behaviour §10): some of email, subscribed and data, with no one-shot
 * values (an update records no event to carry them).
 */
export const update = (emails: ReadonlyArray<string>): FastCheck.Arbitrary<Record<string, Json.Json>> =>
  FastCheck.record({
    email: FastCheck.constantFrom(...emails),
    subscribed: FastCheck.boolean(),
    data: data.map((d) =>
      Object.fromEntries(
        Object.entries(d).filter(([, v]) =>
          !(typeof v === "object" && v !== null && !Array.isArray(v) &&
            (v as { persistent?: unknown }).persistent === false)
        )
      )
    )
  }, { requiredKeys: [] }).filter((body) => Object.keys(body).length > 0)
