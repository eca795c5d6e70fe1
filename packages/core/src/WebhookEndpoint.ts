/**
 * A webhook endpoint (webhooks, §12): project data, kept as the fold of its own events. `evolve` is
 * a total fold with no rules in it; the rules live in `WebhookEndpointDecider.decide`.
 */
import * as Schema from "effect/Schema"

/** An endpoint came into being: where it sends, what it receives, and the secret that signs. */
export class WebhookEndpointCreated extends Schema.TaggedClass<WebhookEndpointCreated>()("WebhookEndpointCreated", {
  endpointId: Schema.String,
  projectId: Schema.String,
  url: Schema.String,
  events: Schema.Array(Schema.String),
  description: Schema.NullOr(Schema.String),
  enabled: Schema.Boolean,
  secret: Schema.String,
  at: Schema.Date
}) {}

/** The owner changed some of the endpoint's settings: only the fields present changed. */
export class WebhookEndpointUpdated extends Schema.TaggedClass<WebhookEndpointUpdated>()("WebhookEndpointUpdated", {
  url: Schema.optionalWith(Schema.String, { exact: true }),
  events: Schema.optionalWith(Schema.Array(Schema.String), { exact: true }),
  enabled: Schema.optionalWith(Schema.Boolean, { exact: true }),
  description: Schema.optionalWith(Schema.NullOr(Schema.String), { exact: true }),
  at: Schema.Date
}) {}

/**
 * The endpoint signs with a new secret; the one it replaces still signs until `previousUntil`, so
 * a receiver can switch without losing a message (both signatures are sent meanwhile).
 */
export class WebhookSecretRotated extends Schema.TaggedClass<WebhookSecretRotated>()("WebhookSecretRotated", {
  secret: Schema.String,
  previousSecret: Schema.String,
  previousUntil: Schema.Date,
  at: Schema.Date
}) {}

/** The endpoint answered `410 Gone`: it receives nothing until its owner enables it again. */
export class WebhookEndpointDisabled extends Schema.TaggedClass<WebhookEndpointDisabled>()("WebhookEndpointDisabled", {
  reason: Schema.Literal("gone"),
  at: Schema.Date
}) {}

/** The owner deleted the endpoint: nothing of it remains to read or to send. */
export class WebhookEndpointDeleted extends Schema.TaggedClass<WebhookEndpointDeleted>()("WebhookEndpointDeleted", {
  at: Schema.Date
}) {}

/** Any event of an endpoint. */
export const Event = Schema.Union(
  WebhookEndpointCreated,
  WebhookEndpointUpdated,
  WebhookSecretRotated,
  WebhookEndpointDisabled,
  WebhookEndpointDeleted
)
export type Event = typeof Event.Type

/** No endpoint of the project has this id (never created, deleted, or another project's). */
export class WebhookEndpointNotFound extends Schema.TaggedError<WebhookEndpointNotFound>()("WebhookEndpointNotFound", {
  endpointId: Schema.String
}) {}

/** An endpoint already has the id a create was given: ids are fresh, so this is a fault, never an answer. */
export class WebhookEndpointExists extends Schema.TaggedError<WebhookEndpointExists>()("WebhookEndpointExists", {
  endpointId: Schema.String
}) {}

/** The secret a rotation replaced, and until when it still signs. */
export interface PreviousSecret {
  readonly secret: string
  readonly until: Date
}

/** The state of an endpoint after `version` events. */
export interface WebhookEndpoint {
  readonly id: string
  readonly projectId: string
  readonly url: string
  readonly events: ReadonlyArray<string>
  readonly description: string | null
  readonly enabled: boolean
  readonly secret: string
  readonly previous: PreviousSecret | null
  readonly createdAt: Date
  readonly updatedAt: Date
  readonly version: number
}

/** An endpoint not created yet, or deleted, has no state. */
export type State = WebhookEndpoint | null

/** The state before the first event. */
export const initialState: State = null

/** Applies one event to a state. */
export const evolve = (state: State, event: Event): State => {
  if (event._tag === "WebhookEndpointCreated") {
    return {
      id: event.endpointId,
      projectId: event.projectId,
      url: event.url,
      events: event.events,
      description: event.description,
      enabled: event.enabled,
      secret: event.secret,
      previous: null,
      createdAt: event.at,
      updatedAt: event.at,
      version: (state?.version ?? 0) + 1
    }
  }
  if (event._tag === "WebhookEndpointDeleted" || state === null) return null
  const version = state.version + 1
  switch (event._tag) {
    case "WebhookEndpointUpdated":
      return {
        ...state,
        ...(event.url !== undefined ? { url: event.url } : {}),
        ...(event.events !== undefined ? { events: event.events } : {}),
        ...(event.enabled !== undefined ? { enabled: event.enabled } : {}),
        ...(event.description !== undefined ? { description: event.description } : {}),
        updatedAt: event.at,
        version
      }
    case "WebhookSecretRotated":
      return {
        ...state,
        secret: event.secret,
        previous: { secret: event.previousSecret, until: event.previousUntil },
        updatedAt: event.at,
        version
      }
    case "WebhookEndpointDisabled":
      return { ...state, enabled: false, updatedAt: event.at, version }
  }
}

/** Folds events from a state. */
export const fold = (events: Iterable<Event>, state: State = initialState): State => {
  let current = state
  for (const event of events) current = evolve(current, event)
  return current
}

/**
 * The secrets a message sent at `now` is signed with: the current one first, and the one a
 * rotation replaced while it still signs.
 */
export const signingSecrets = (endpoint: WebhookEndpoint, now: Date): ReadonlyArray<string> =>
  endpoint.previous !== null && now.getTime() < endpoint.previous.until.getTime()
    ? [endpoint.secret, endpoint.previous.secret]
    : [endpoint.secret]
