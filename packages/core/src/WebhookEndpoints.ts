/**
 * The webhook endpoints port (webhooks, §12): endpoints as project data, each kept as its current
 * state (the fold of `WebhookEndpoint`'s events) with a version that every write compares and
 * sets; and `execute`, which runs a command through `WebhookEndpointDecider` on that state.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Ids from "./Ids.js"
import * as StoreError from "./StoreError.js"
import * as WebhookEndpoint from "./WebhookEndpoint.js"
import type * as WebhookEndpointCommand from "./WebhookEndpointCommand.js"
import * as WebhookEndpointDecider from "./WebhookEndpointDecider.js"
import * as WebhookSecret from "./WebhookSecret.js"

/** The stored version was not the one read: another writer changed the endpoint in between. */
export class EndpointConflict extends Schema.TaggedError<EndpointConflict>()("EndpointConflict", {
  endpointId: Schema.String
}) {}

/** What a store implements for endpoints. */
export class WebhookEndpoints extends Context.Tag("@tracklog/core/WebhookEndpoints")<WebhookEndpoints, {
  /** The project's endpoint with this id; none for another project's. */
  readonly get: (
    projectId: string,
    endpointId: string
  ) => Effect.Effect<Option.Option<WebhookEndpoint.WebhookEndpoint>, StoreError.StoreUnavailable>
  /** The project's endpoints, oldest first. */
  readonly list: (
    projectId: string
  ) => Effect.Effect<ReadonlyArray<WebhookEndpoint.WebhookEndpoint>, StoreError.StoreUnavailable>
  /** Every enabled endpoint of every project: what the dispatcher matches events against. */
  readonly enabled: Effect.Effect<ReadonlyArray<WebhookEndpoint.WebhookEndpoint>, StoreError.StoreUnavailable>
  /**
   * Writes the endpoint's next state (`null` deletes it, with its messages) if its stored version
   * is still `expectedVersion` (0: no endpoint yet).
   */
  readonly save: (
    projectId: string,
    endpointId: string,
    expectedVersion: number,
    next: WebhookEndpoint.State
  ) => Effect.Effect<void, EndpointConflict | StoreError.StoreUnavailable>
}>() {}

/** What `execute` refuses with, besides the store's failure. */
export type ExecuteError = WebhookEndpointDecider.Refusal | StoreError.StoreUnavailable

// A conflict means another writer won the race on this one endpoint; a few tries settle it.
const MaxAttempts = 5

/**
 * Runs an endpoint command: read the endpoint, decide, write its new state if nobody wrote in
 * between (else decide again). Time from the `Clock`, a new id from `Ids`, a new secret from
 * `WebhookSecret.generate`. Answers the endpoint's state after the command (`null` once deleted).
 */
export const execute = (
  projectId: string,
  command: WebhookEndpointCommand.Command
): Effect.Effect<WebhookEndpoint.State, ExecuteError, WebhookEndpoints | Ids.Ids> =>
  Effect.gen(function*() {
    const store = yield* WebhookEndpoints
    const ids = yield* Ids.Ids
    const attempt = Effect.gen(function*() {
      const now = new Date(yield* Clock.currentTimeMillis)
      const newId = command._tag === "CreateEndpoint" ? ids.make(now.getTime()) : command.endpointId
      const newSecret = command._tag === "CreateEndpoint" || command._tag === "RotateSecret"
        ? yield* WebhookSecret.generate
        : ""
      const state = command._tag === "CreateEndpoint"
        ? WebhookEndpoint.initialState
        : Option.getOrNull(yield* store.get(projectId, command.endpointId))
      const events = yield* Either.match(
        WebhookEndpointDecider.decide(command, state, { projectId, now, newId, newSecret }),
        { onLeft: Effect.fail, onRight: Effect.succeed }
      )
      if (events.length === 0) return state
      const next = WebhookEndpoint.fold(events, state)
      yield* store.save(projectId, newId, state?.version ?? 0, next)
      return next
    })
    const loop = (n: number): Effect.Effect<WebhookEndpoint.State, ExecuteError> =>
      Effect.catchTag(attempt, "EndpointConflict", (conflict) =>
        n >= MaxAttempts
          ? Effect.fail(
            new StoreError.StoreUnavailable({
              reason: `endpoint ${conflict.endpointId} kept changing under its writes`
            })
          )
          : loop(n + 1))
    return yield* loop(1)
  })
