/**
 * The commands on a webhook endpoint (webhooks, §12) and the request bodies that make them:
 * `POST /webhooks` `{url, events, description?}` and `PATCH /webhooks/:id` (at least one of `url`,
 * `events`, `enabled`, `description`). Checking is syntactic only: whether the URL's host is, or
 * resolves to, a private address needs the network and is asked outside core.
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as FieldIssue from "./FieldIssue.js"
import * as Json from "./Json.js"
import * as TrackCommand from "./TrackCommand.js"
import * as WebhookPattern from "./WebhookPattern.js"

/** Longest URL accepted, in UTF-16 code units (what browsers and proxies reliably carry). */
export const MaxUrlLength = 2048
/** Longest description accepted. */
export const MaxDescriptionLength = 512

/** Make an endpoint; its id and secret come from the decider's context. */
export interface CreateEndpoint {
  readonly _tag: "CreateEndpoint"
  readonly url: string
  readonly events: ReadonlyArray<string>
  readonly description: string | null
}

/** Change some of an endpoint's settings; absent fields stay as they are. */
export interface UpdateEndpoint {
  readonly _tag: "UpdateEndpoint"
  readonly endpointId: string
  readonly url?: string | undefined
  readonly events?: ReadonlyArray<string> | undefined
  readonly enabled?: boolean | undefined
  /** `null` removes the description. */
  readonly description?: string | null | undefined
}

/** Sign with a new secret (from the decider's context); the old one still signs for a while. */
export interface RotateSecret {
  readonly _tag: "RotateSecret"
  readonly endpointId: string
}

/** Delete an endpoint. */
export interface DeleteEndpoint {
  readonly _tag: "DeleteEndpoint"
  readonly endpointId: string
}

/** Stop sending to an endpoint that answered `410 Gone` (the sender's command, not the owner's). */
export interface DisableEndpoint {
  readonly _tag: "DisableEndpoint"
  readonly endpointId: string
}

/** Any command on an endpoint. */
export type Command = CreateEndpoint | UpdateEndpoint | RotateSecret | DeleteEndpoint | DisableEndpoint

/** A body that breaks one or more rules; nothing was changed. */
export class InvalidWebhookEndpoint extends Schema.TaggedError<InvalidWebhookEndpoint>()("InvalidWebhookEndpoint", {
  issues: Schema.Array(FieldIssue.FieldIssue)
}) {
  override get message() {
    return this.issues.map((i) => `${i.field}: ${i.message}`).join("; ")
  }
}

const Controls = /[\u0000-\u001f\u007f]/

/**
 * The issues of a `url`: an absolute `http:` or `https:` URL of at most 2048 characters, with a
 * host and no credentials, and nothing the URL parser would silently drop (surrounding spaces,
 * control characters), so the text stored is the text sent to. `url_not_allowed` for another
 * scheme, the code a private target gets too.
 */
export const checkUrl = (value: unknown, field = "url"): Array<FieldIssue.FieldIssue> => {
  const issue = (code: string, message: string) => [{ field, code, message }]
  if (value === undefined) return issue("required", "Give the URL to send to")
  if (typeof value !== "string") return issue("invalid_type", "Expected a string")
  if (value.length > MaxUrlLength) return issue("too_long", `The URL must be at most ${MaxUrlLength} characters`)
  if (!TrackCommand.isStorableText(value)) {
    return issue("invalid_string", "The URL must not contain NUL or unpaired surrogates")
  }
  if (Controls.test(value) || value.trim() !== value) {
    return issue("invalid_url", "The URL must not contain spaces at its ends or control characters")
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return issue("invalid_url", "Expected an absolute URL, such as https://example.com/hooks")
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return issue("url_not_allowed", "Only http and https URLs are allowed")
  }
  if (url.hostname === "") return issue("invalid_url", "The URL must have a host")
  // A user name or password would be sent to the receiver, and logged as part of the URL.
  if (url.username !== "" || url.password !== "") {
    return issue("invalid_url", "The URL must not carry a user name or password")
  }
  return []
}

/** The issues of a `description`: a string of at most 512 characters, or `null` for none. */
export const checkDescription = (value: unknown, field = "description"): Array<FieldIssue.FieldIssue> => {
  if (value === null) return []
  if (typeof value !== "string") return [{ field, code: "invalid_type", message: "Expected a string or null" }]
  if (value.length > MaxDescriptionLength) {
    return [{ field, code: "too_long", message: `The description must be at most ${MaxDescriptionLength} characters` }]
  }
  return TrackCommand.isStorableText(value)
    ? []
    : [{ field, code: "invalid_string", message: "The description must not contain NUL or unpaired surrogates" }]
}

/** The issues of the fields a command carries: the same rules as its body's. */
export const check = (command: Command): Array<FieldIssue.FieldIssue> => {
  switch (command._tag) {
    case "CreateEndpoint":
      return [
        ...checkUrl(command.url),
        ...WebhookPattern.check(command.events),
        ...checkDescription(command.description)
      ]
    case "UpdateEndpoint":
      return [
        ...(command.url !== undefined ? checkUrl(command.url) : []),
        ...(command.events !== undefined ? WebhookPattern.check(command.events) : []),
        ...(command.description !== undefined ? checkDescription(command.description) : [])
      ]
    default:
      return []
  }
}

const notAnObject = () =>
  Either.left(
    new InvalidWebhookEndpoint({ issues: [{ field: "body", code: "invalid_type", message: "Expected an object" }] })
  )

/**
 * The command of a `POST /webhooks` body (already parsed JSON), or one issue per broken rule.
 * Unknown fields are ignored, as a track's are (behaviour §1.2).
 */
export const decodeCreate = (body: unknown): Either.Either<CreateEndpoint, InvalidWebhookEndpoint> => {
  if (!Json.isObject(body)) return notAnObject()
  const { description, events, url } = body
  const issues = [
    ...checkUrl(url),
    ...WebhookPattern.check(events),
    ...(description !== undefined ? checkDescription(description) : [])
  ]
  if (issues.length > 0) return Either.left(new InvalidWebhookEndpoint({ issues }))
  return Either.right({
    _tag: "CreateEndpoint",
    url: url as string,
    events: events as ReadonlyArray<string>,
    description: (description as string | null | undefined) ?? null
  })
}

const UpdateFields = ["url", "events", "enabled", "description"] as const

/**
 * The command of a `PATCH /webhooks/:id` body for the endpoint `endpointId`, or one issue per
 * broken rule. A body with none of its fields is refused, as a contact update's is (behaviour §10).
 */
export const decodeUpdate = (
  endpointId: string,
  body: unknown
): Either.Either<UpdateEndpoint, InvalidWebhookEndpoint> => {
  if (!Json.isObject(body)) return notAnObject()
  const has = (key: string) => Object.hasOwn(body, key)
  const issues: Array<FieldIssue.FieldIssue> = []
  if (!UpdateFields.some(has)) {
    issues.push({ field: "body", code: "required", message: "Send at least one of url, events, enabled, description" })
  }
  if (has("url")) issues.push(...checkUrl(body["url"]))
  if (has("events")) issues.push(...WebhookPattern.check(body["events"]))
  if (has("enabled") && typeof body["enabled"] !== "boolean") {
    issues.push({ field: "enabled", code: "invalid_type", message: "Expected a boolean" })
  }
  if (has("description")) issues.push(...checkDescription(body["description"]))
  if (issues.length > 0) return Either.left(new InvalidWebhookEndpoint({ issues }))
  return Either.right({
    _tag: "UpdateEndpoint",
    endpointId,
    ...(has("url") ? { url: body["url"] as string } : {}),
    ...(has("events") ? { events: body["events"] as ReadonlyArray<string> } : {}),
    ...(has("enabled") ? { enabled: body["enabled"] as boolean } : {}),
    ...(has("description") ? { description: body["description"] as string | null } : {})
  })
}
