/**
 * Webhook endpoints in the memory store (behaviour §12): the `WebhookEndpoints` port, each
 * endpoint's state by id, written with a compare-and-set of its version.
 */
import * as WebhookEndpoints from "@tracklog/core/WebhookEndpoints"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as State from "./state.js"
import * as WebhookOutbox from "./webhookOutbox.js"

/** The `WebhookEndpoints` of a memory store. */
export const make = (state: State.State): WebhookEndpoints.WebhookEndpoints["Type"] =>
  WebhookEndpoints.WebhookEndpoints.of({
    get: (projectId, endpointId) =>
      Effect.sync(() => {
        const endpoint = state.webhookEndpoints.get(endpointId)
        return endpoint !== undefined && endpoint.projectId === projectId ? Option.some(endpoint) : Option.none()
      }),
    list: (projectId) =>
      Effect.sync(() => [...state.webhookEndpoints.values()].filter((e) => e.projectId === projectId)),
    enabled: Effect.sync(() => [...state.webhookEndpoints.values()].filter((e) => e.enabled)),
    save: (projectId, endpointId, expectedVersion, next) =>
      Effect.suspend(() => {
        const stored = state.webhookEndpoints.get(endpointId)
        // An id of another project's endpoint is never this project's to write.
        if ((stored !== undefined && stored.projectId !== projectId) || (stored?.version ?? 0) !== expectedVersion) {
          return Effect.fail(new WebhookEndpoints.EndpointConflict({ endpointId }))
        }
        if (next === null) {
          state.webhookEndpoints.delete(endpointId)
          WebhookOutbox.dropEndpoint(state, endpointId)
        } else state.webhookEndpoints.set(endpointId, next)
        return Effect.void
      })
  })
