/**
 * The handlers of `Api`'s `track` group: `POST /v1/track` (behaviour §1, §6, §7) and
 * `POST /v1/track/batch` (behaviour §8), over the core's `Track`.
 */
import * as Idempotency from "@tracklog/core/Idempotency"
import type * as Suppressions from "@tracklog/core/Suppressions"
import * as Track from "@tracklog/core/Track"
import * as TrackBatch from "@tracklog/core/TrackBatch"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Api from "./Api.js"
import * as ApiError from "./ApiError.js"
import type * as Handlers from "./Handlers.js"
import * as Params from "./Params.js"
import * as Views from "./Views.js"

// What a trusted grant answers when the handler writes nothing: the key read again first, so a
// revoked one is refused as it would have been without the cache (decision 0024).
const confirmed = <A>(request: Handlers.Request, answer: Effect.Effect<A, ApiError.ApiError>) => {
  const trusted = request.grant.trusted
  return trusted === undefined ? answer : Effect.zipRight(trusted.confirm, answer)
}

/** What the group's handlers need. */
export type Services = Track.Track

/** The handlers of the `track` group. */
export const make = Effect.gen(function*() {
  const track = yield* Track.Track

  return {
    track: {
      trustsGrant: true,
      handle: (request) => {
        const key = Params.idempotencyKey(request)
        if (Either.isLeft(key)) return confirmed(request, Effect.fail(key.left))
        const command = TrackCommand.decode(request.body)
        if (Either.isLeft(command)) return confirmed(request, Effect.fail(ApiError.fromDomain(command.left)))
        const given = key.right
        // A suppressed email with no contact is answered, not refused: nothing was stored (behaviour §7).
        // With a key, `trackIdempotent` answers it itself, and keeps the answer for the key (§6).
        const onFailure = (error: Parameters<typeof ApiError.fromDomain>[0] | Suppressions.EmailSuppressed) =>
          error._tag === "EmailSuppressed"
            ? confirmed(request, Views.suppressedAnswer)
            : error._tag === "GrantRevoked"
            ? confirmed(request, Effect.fail(ApiError.fromDomain(error)))
            : Effect.fail(ApiError.fromDomain(error))
        if (Option.isSome(given)) {
          // An idempotent track may replay a stored answer and write nothing: its key is read first.
          return confirmed(request, Idempotency.fingerprint(request.body)).pipe(
            Effect.flatMap((fingerprint) =>
              track.trackIdempotent(request.grant.projectId, command.right, {
                key: given.value,
                fingerprint,
                render: Views.keyedTrackAnswer
              })
            ),
            Effect.matchEffect({ onFailure, onSuccess: (outcome) => Effect.succeed(Views.idempotentAnswer(outcome)) })
          )
        }
        return Effect.matchEffect(track.track(request.grant.projectId, command.right, request.grant.trusted?.keyHash), {
          onFailure,
          onSuccess: (result) => Effect.succeed(Views.trackAnswer(result))
        })
      }
    },
    trackBatch: {
      handle: (request) => {
        const key = Params.idempotencyKey(request)
        if (Either.isLeft(key)) return Effect.fail(key.left)
        const items = TrackBatch.decode(request.body)
        if (Either.isLeft(items)) return Effect.fail(ApiError.fromDomain(items.left))
        const given = key.right
        const idempotency: Effect.Effect<Idempotency.Request<TrackBatch.Result> | undefined> = Option.isNone(given)
          ? Effect.succeed(undefined)
          : Effect.map(
            Idempotency.fingerprint(request.body),
            (fingerprint) => ({ key: given.value, fingerprint, render: Views.batchAnswer })
          )
        return idempotency.pipe(
          Effect.flatMap((idempotency) => track.trackBatch(request.grant.projectId, items.right, idempotency)),
          Effect.mapBoth({
            onFailure: ApiError.fromDomain,
            onSuccess: (outcome) =>
              outcome._tag === "Done" && outcome.answer === undefined
                ? Views.batchAnswer(outcome.result)
                : Views.idempotentAnswer(outcome)
          })
        )
      }
    }
  } satisfies Handlers.Group<typeof Api.TrackGroup>
})
