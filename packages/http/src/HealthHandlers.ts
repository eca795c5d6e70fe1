/**
 * The handler of `Api`'s `health` group: `GET /health`, which answers only once the store does.
 */
import * as Contacts from "@tracklog/core/Contacts"
import * as Effect from "effect/Effect"
import type * as Api from "./Api.js"
import * as ApiError from "./ApiError.js"
import type * as Handlers from "./Handlers.js"
import * as Views from "./Views.js"

/** What the group's handler needs. */
export type Services = Contacts.Contacts

const healthy = Views.ok({ status: "ok" })

/** The handlers of the `health` group. */
export const make = Effect.gen(function*() {
  const contacts = yield* Contacts.Contacts

  return {
    health: {
      // A read of the store, so a store that cannot answer makes the health check fail (503).
      handle: () =>
        Effect.mapBoth(contacts.list("", { limit: 1 }), { onFailure: ApiError.fromDomain, onSuccess: () => healthy })
    }
  } satisfies Handlers.Group<typeof Api.HealthGroup>
})
