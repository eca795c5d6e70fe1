/**
 * `decide` for webhook endpoints (webhooks, §12), pure: given a command and the endpoint's current
 * state, the events to append or a typed refusal. Time, the new id and the new secret are inputs.
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import type * as Decider from "./Decider.js"
import * as WebhookEndpoint from "./WebhookEndpoint.js"
import * as WebhookEndpointCommand from "./WebhookEndpointCommand.js"

/** How long a rotated-out secret still signs (both signatures are sent meanwhile). */
export const PreviousSecretSigns: Duration.Duration = Duration.hours(24)

/** What `decide` needs besides the command and the state. */
export interface Context {
  /** The project the command comes from: another project's endpoint is not found. */
  readonly projectId: string
  readonly now: Date
  /** The id a created endpoint gets. */
  readonly newId: string
  /** The secret a created endpoint, or a rotation, gets (`WebhookSecret.generate`). */
  readonly newSecret: string
}

/** Why `decide` refuses a command. */
export type Refusal =
  | WebhookEndpoint.WebhookEndpointNotFound
  | WebhookEndpoint.WebhookEndpointExists
  | WebhookEndpointCommand.InvalidWebhookEndpoint

/**
 * The events of one command: `WebhookEndpointCreated` (enabled, with the new secret) for a create;
 * `WebhookEndpointUpdated` with only the fields that change, none when nothing does;
 * `WebhookSecretRotated` keeping the replaced secret for 24 h (a second rotation within them drops
 * the older one: at most two secrets sign); `WebhookEndpointDeleted`; `WebhookEndpointDisabled`
 * for a `410`, none when already disabled. `WebhookEndpointNotFound` for no endpoint of the
 * project, `WebhookEndpointExists` for a create whose new id is taken, `InvalidWebhookEndpoint` for fields that break a rule of the body.
 */
export const decide = (
  command: WebhookEndpointCommand.Command,
  state: WebhookEndpoint.State,
  context: Context
): Either.Either<Array<WebhookEndpoint.Event>, Refusal> => {
  const issues = WebhookEndpointCommand.check(command)
  if (issues.length > 0) return Either.left(new WebhookEndpointCommand.InvalidWebhookEndpoint({ issues }))
  const at = context.now
  if (command._tag === "CreateEndpoint") {
    // A fresh id names no endpoint yet; one that does would be overwritten.
    if (state !== null) return Either.left(new WebhookEndpoint.WebhookEndpointExists({ endpointId: context.newId }))
    return Either.right([
      WebhookEndpoint.WebhookEndpointCreated.make({
        endpointId: context.newId,
        projectId: context.projectId,
        url: command.url,
        events: command.events,
        description: command.description,
        enabled: true,
        secret: context.newSecret,
        at
      })
    ])
  }
  if (state === null || state.id !== command.endpointId || state.projectId !== context.projectId) {
    return Either.left(new WebhookEndpoint.WebhookEndpointNotFound({ endpointId: command.endpointId }))
  }
  switch (command._tag) {
    case "UpdateEndpoint": {
      const changes = {
        ...(command.url !== undefined && command.url !== state.url ? { url: command.url } : {}),
        ...(command.events !== undefined && !samePatterns(command.events, state.events)
          ? { events: command.events }
          : {}),
        ...(command.enabled !== undefined && command.enabled !== state.enabled ? { enabled: command.enabled } : {}),
        ...(command.description !== undefined && command.description !== state.description
          ? { description: command.description }
          : {})
      }
      return Either.right(
        Object.keys(changes).length === 0 ? [] : [WebhookEndpoint.WebhookEndpointUpdated.make({ ...changes, at })]
      )
    }
    case "RotateSecret":
      return Either.right([
        WebhookEndpoint.WebhookSecretRotated.make({
          secret: context.newSecret,
          previousSecret: state.secret,
          previousUntil: new Date(at.getTime() + Duration.toMillis(PreviousSecretSigns)),
          at
        })
      ])
    case "DeleteEndpoint":
      return Either.right([WebhookEndpoint.WebhookEndpointDeleted.make({ at })])
    case "DisableEndpoint":
      return Either.right(state.enabled ? [WebhookEndpoint.WebhookEndpointDisabled.make({ reason: "gone", at })] : [])
  }
}

// Patterns are kept in the order given: a reordered list is a change the owner asked for.
const samePatterns = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean =>
  a.length === b.length && a.every((pattern, i) => pattern === b[i])

/** The endpoint decider, for `DeciderSpecification` and a command handler. */
export const decider: Decider.Decider<
  WebhookEndpointCommand.Command,
  WebhookEndpoint.Event,
  WebhookEndpoint.State,
  Context,
  Refusal
> = { decide, evolve: WebhookEndpoint.evolve, initialState: WebhookEndpoint.initialState }
