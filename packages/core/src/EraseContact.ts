/**
 * The erase command handler (behaviour §7): load the contact → decide → erase, and on a conflict (a
 * track committed in between) decide again on fresh state.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Contacts from "./Contacts.js"
import * as EraseDecider from "./EraseDecider.js"
import * as Erasure from "./Erasure.js"
import * as Ids from "./Ids.js"
import type * as StoreError from "./StoreError.js"
import * as Track from "./Track.js"

/** Every attempt lost a race with tracks on the same contact; nothing was erased. */
export class EraseRetriesExhausted extends Schema.TaggedError<EraseRetriesExhausted>()("EraseRetriesExhausted", {
  attempts: Schema.Number
}) {}

/** Bound on decisions per erasure; each conflict means a track on the contact committed in between. */
export const MaxAttempts = 32

/** Erases contacts. */
export class EraseContact extends Context.Tag("@tracklog/core/EraseContact")<EraseContact, {
  readonly erase: (
    projectId: string,
    command: EraseDecider.EraseContact
  ) => Effect.Effect<void, Contacts.ContactNotFound | EraseRetriesExhausted | StoreError.StoreUnavailable>
}>() {}

/** Builds the handler over the store ports. */
export const make = Effect.gen(function*() {
  const contacts = yield* Contacts.Contacts
  const erasure = yield* Erasure.Erasure
  const ids = yield* Ids.Ids
  const track = yield* Track.Track
  const clock = yield* Effect.clock

  const attempt = (
    projectId: string,
    command: EraseDecider.EraseContact,
    attempts: number
  ): Effect.Effect<void, Contacts.ContactNotFound | EraseRetriesExhausted | StoreError.StoreUnavailable> =>
    Effect.gen(function*() {
      const state = Option.getOrNull(yield* contacts.findById(projectId, command.contactId))
      const millis = clock.unsafeCurrentTimeMillis()
      const decided = EraseDecider.decide(command, state, { projectId, now: new Date(millis) })
      if (Either.isLeft(decided)) return yield* decided.left
      const result = yield* Effect.either(erasure.erase({
        projectId,
        streamId: command.contactId,
        expectedVersion: state!.version,
        marker: { id: ids.make(millis), event: decided.right[0]! },
        suppress: command.suppress
      }))
      // The track handler's memory of the contact goes too: the data was in it.
      if (Either.isRight(result)) return yield* track.forget(projectId, state!.email)
      if (result.left._tag !== "ConcurrencyConflict") return yield* result.left
      if (attempts >= MaxAttempts) return yield* new EraseRetriesExhausted({ attempts })
      yield* Effect.sleep(`${Math.min(20, attempts)} millis`)
      return yield* attempt(projectId, command, attempts + 1)
    })

  return EraseContact.of({ erase: (projectId, command) => attempt(projectId, command, 1) })
})

/** The handler, needing the projection reads, the erasure port, the track handler and ids. */
export const layer: Layer.Layer<EraseContact, never, Contacts.Contacts | Erasure.Erasure | Track.Track | Ids.Ids> =
  Layer.effect(
    EraseContact,
    make
  )
