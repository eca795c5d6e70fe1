/**
 * A field issue: one broken rule of a request, as `error.errors[]` shows it. Defined once here;
 * `TrackCommand` produces them, `ApiError` and the API description carry them.
 */
import * as Schema from "effect/Schema"

/** One broken rule: `field` is the dotted path (`data.locale`), `code` machine-readable. */
export const FieldIssue = Schema.Struct({
  field: Schema.String.annotations({ description: "Dotted path of the field, e.g. data.locale" }),
  message: Schema.String,
  code: Schema.String
})

export interface FieldIssue extends Schema.Schema.Type<typeof FieldIssue> {}
