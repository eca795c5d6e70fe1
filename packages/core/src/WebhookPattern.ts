/**
 * Which events a webhook endpoint receives (webhooks, §12): a list of patterns, each an event name
 * (`purchase`, `segment.vip.entry`, `contact.unsubscribed`) or a prefix ending in `*`
 * (`segment.vip.*`, `*`), and the name each contact event is matched under.
 */
import type * as ContactEvent from "./ContactEvent.js"
import type * as FieldIssue from "./FieldIssue.js"
import * as TrackCommand from "./TrackCommand.js"

/** Fewest patterns an endpoint has: one that matches nothing would only ever be idle. */
export const MinPatterns = 1
/** Most patterns an endpoint has. */
export const MaxPatterns = 50
/** Longest pattern, in UTF-16 code units: an event name's limit (behaviour §1.2). */
export const MaxLength = TrackCommand.MaxEventLength

/** The code of a field issue of `events`, as it appears in `errors[].code`. */
export type IssueCode =
  | "required"
  | "invalid_type"
  | "too_short"
  | "too_long"
  | "blank"
  | "invalid_string"
  | "invalid_pattern"

/**
 * The issues of an `events` value at `field` (`events`, and `events[2]` for its third pattern):
 * an array of 1–50 strings, each 1–256 characters, not all whitespace, storable text, with `*`
 * only as the last character. Empty when it is valid.
 */
export const check = (value: unknown, field = "events"): Array<FieldIssue.FieldIssue> => {
  if (value === undefined) return [{ field, code: "required", message: "Give at least one event pattern" }]
  if (!Array.isArray(value)) return [{ field, code: "invalid_type", message: "Expected an array of event patterns" }]
  if (value.length < MinPatterns) {
    return [{ field, code: "too_short", message: "Give at least one event pattern" }]
  }
  if (value.length > MaxPatterns) {
    return [{ field, code: "too_long", message: `Give at most ${MaxPatterns} event patterns` }]
  }
  const out: Array<FieldIssue.FieldIssue> = []
  value.forEach((pattern: unknown, i) => {
    const at = `${field}[${i}]`
    const issue = patternIssue(pattern)
    if (issue !== undefined) out.push({ field: at, ...issue })
  })
  return out
}

/** True for a valid `events` value. */
export const isValid = (value: unknown): value is ReadonlyArray<string> => check(value).length === 0

// One issue per pattern: the first rule it breaks, in the order a reader fixes them.
const patternIssue = (pattern: unknown): { code: IssueCode; message: string } | undefined => {
  if (typeof pattern !== "string") return { code: "invalid_type", message: "Expected a string" }
  if (pattern.length === 0) return { code: "too_short", message: "A pattern must not be empty" }
  if (pattern.length > MaxLength) {
    return { code: "too_long", message: `A pattern must be at most ${MaxLength} characters` }
  }
  if (pattern.trim().length === 0) return { code: "blank", message: "A pattern must not be blank" }
  if (!TrackCommand.isStorableText(pattern)) {
    return { code: "invalid_string", message: "A pattern must not contain NUL or unpaired surrogates" }
  }
  // Only a trailing `*` is a wildcard; one anywhere else would read as a glob this does not have.
  const star = pattern.indexOf("*")
  if (star !== -1 && star !== pattern.length - 1) {
    return {
      code: "invalid_pattern",
      message: "`*` may only end a pattern: an event name, or a prefix ending in * (segment.vip.*, *)"
    }
  }
  return undefined
}

/** True when one of the patterns matches the name: equal to it, or a prefix of it ending in `*`. */
export const matches = (patterns: ReadonlyArray<string>, name: string): boolean => {
  for (const pattern of patterns) {
    if (pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : name === pattern) return true
  }
  return false
}

/**
 * The name a contact event is delivered and matched under: a tracked event's own name (the
 * `segment.<slug>.entry|exit` transitions are tracked events too), `contact.subscribed` /
 * `contact.unsubscribed` for a flip, `contact.created`, `contact.updated` for a data or an email
 * change, and `contact.erased`.
 */
export const nameOf = (event: ContactEvent.ContactEvent): string => {
  switch (event._tag) {
    case "EventTracked":
      return event.name
    case "SubscriptionChanged":
      return event.subscribed ? "contact.subscribed" : "contact.unsubscribed"
    case "ContactCreated":
      return "contact.created"
    case "ContactDataChanged":
    case "ContactEmailChanged":
      return "contact.updated"
    case "ContactErased":
      return "contact.erased"
  }
}
