/**
 * The handler of `Api`'s `suppressions` group: `DELETE /suppressions?email=` lifts a suppression
 * (behaviour §7).
 */
import * as Suppressions from "@tracklog/core/Suppressions"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Api from "./Api.js"
import * as ApiError from "./ApiError.js"
import type * as Handlers from "./Handlers.js"
import * as Params from "./Params.js"
import * as Views from "./Views.js"

/** What the group's handler needs. */
export type Services = Suppressions.Suppressions

const invalidEmail = ApiError.validation([{
  field: "email",
  code: "invalid_email",
  message: "email must be a valid email address"
}])

/** The handlers of the `suppressions` group. */
export const make = Effect.gen(function*() {
  const suppressions = yield* Suppressions.Suppressions

  return {
    liftSuppression: {
      handle: (request) => {
        const email = Params.canonicalEmail(request.query.get("email") ?? "")
        if (Option.isNone(email)) return Effect.fail(invalidEmail)
        return Effect.mapBoth(suppressions.lift(request.grant.projectId, email.value), {
          onFailure: ApiError.fromDomain,
          onSuccess: () => Views.noContent
        })
      }
    }
  } satisfies Handlers.Group<typeof Api.SuppressionsGroup>
})
