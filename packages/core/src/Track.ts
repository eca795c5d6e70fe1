/**
 * The track command handler: find the contact → decide → append, and on a conflict decide
 * again on fresh state.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import * as Contact from "./Contact.js"
import * as Contacts from "./Contacts.js"
import * as EventStore from "./EventStore.js"
import * as Ids from "./Ids.js"
import * as KeyedLock from "./internal/keyedLock.js"
import type * as StoreError from "./StoreError.js"
import * as Suppressions from "./Suppressions.js"
import * as TrackCommand from "./TrackCommand.js"
import * as TrackDecider from "./TrackDecider.js"

/** What a track answers (SPEC §1.7). */
export interface TrackResult {
  readonly contact: string
  readonly event: string
  readonly timestamp: Date
}

/** Every attempt lost a race; the command was not applied. */
export class TrackRetriesExhausted extends Schema.TaggedError<TrackRetriesExhausted>()("TrackRetriesExhausted", {
  attempts: Schema.Number
}) {}

/**
 * How often a command is decided again after a conflict. A conflict means another command on
 * the same contact committed in between, so each retry is progress for someone; the bound only
 * guards against a pathological hot contact.
 */
export const MaxAttempts = 32

/** How many contacts' last committed states a `Track` service keeps to skip a read. */
export const MaxKnownContacts = 10_000

// Jittered, capped exponential backoff (0.5 ms × 1.5ⁿ, at most 20 ms): racers on one contact
// spread out instead of colliding again at once.
const backoff = (attempt: number) =>
  Effect.flatMap(Random.nextRange(0.5, 1.5), (jitter) =>
    Effect.sleep(Duration.millis(Math.min(20, 0.5 * 1.5 ** (attempt - 1)) * jitter)))

/** Tracks events for contacts. */
export class Track extends Context.Tag("@tracklog/core/Track")<Track, {
  readonly track: (
    projectId: string,
    command: TrackCommand.TrackCommand
  ) => Effect.Effect<TrackResult, TrackRetriesExhausted | Suppressions.EmailSuppressed | StoreError.StoreUnavailable>
  /**
   * Drops what this process remembers of a contact, after it was erased (SPEC §7): nothing of
   * it stays in the process. Waits for a track of that email in flight here.
   */
  readonly forget: (projectId: string, email: string) => Effect.Effect<void>
}>() {}

/** Builds the handler over the store ports. */
export const make = Effect.gen(function*() {
  const store = yield* EventStore.EventStore
  const contacts = yield* Contacts.Contacts
  const ids = yield* Ids.Ids
  const suppressions = yield* Suppressions.Suppressions
  // The clock of the environment that builds the service (a `TestClock` in tests), read directly
  // per command instead of looked up in the fiber's services each time.
  const clock = yield* Effect.clock
  const now = Effect.sync(() => clock.unsafeCurrentTimeMillis())
  const serialized = KeyedLock.make()
  const known = new Map<string, Contact.Contact>()

  // The state this process last committed for a contact. Commands on one contact run one at a
  // time here, so it is exact unless another process wrote since — and then the append's
  // version check fails and the retry reads the store. It saves a read per command.
  const remember = (key: string, contact: Contact.Contact) => {
    known.delete(key)
    if (known.size >= MaxKnownContacts) known.delete(known.keys().next().value!)
    known.set(key, contact)
  }

  // Plain flatMaps, not a generator, and one failure handler for both outcomes of an append:
  // this is the hot path of every track.
  const attempt = (
    key: string,
    projectId: string,
    command: TrackCommand.TrackCommand,
    attempts: number
  ): Effect.Effect<TrackResult, TrackRetriesExhausted | Suppressions.EmailSuppressed | StoreError.StoreUnavailable> =>
    Effect.flatMap(now, (millis) => {
      const cached = known.get(key)
      return cached !== undefined
        ? write(key, projectId, command, attempts, cached, millis)
        : Effect.flatMap(
          contacts.findByEmail(projectId, command.email),
          (found) =>
            Option.isSome(found)
              ? write(key, projectId, command, attempts, found.value, millis)
              // Only a track that would create the contact asks the suppression list (SPEC §7).
              : Effect.flatMap(suppressions.isSuppressed(projectId, command.email), (suppressed) =>
                suppressed
                  ? Effect.fail(new Suppressions.EmailSuppressed())
                  : write(key, projectId, command, attempts, null, millis))
        )
    })

  const write = (
    key: string,
    projectId: string,
    command: TrackCommand.TrackCommand,
    attempts: number,
    state: Contact.State,
    millis: number
  ): Effect.Effect<TrackResult, TrackRetriesExhausted | Suppressions.EmailSuppressed | StoreError.StoreUnavailable> => {
    const at = new Date(millis)
    const contactId = state === null ? ids.make(millis) : state.id
    const events = TrackDecider.decide(command, state, { projectId, contactId, now: at })
    const newEvents = events.map((event) => ({ id: ids.make(millis), event }))
    const result: TrackResult = { contact: contactId, event: newEvents[newEvents.length - 1]!.id, timestamp: at }
    const contact = Contact.fold(events, state)!
    return Effect.matchEffect(store.append({ streamId: contactId, expectedVersion: state?.version ?? 0, events: newEvents, contact }), {
      onFailure: (error) => {
        // Lost a race, or an outage that may or may not have committed: read afresh next time.
        known.delete(key)
        if (error._tag !== "ConcurrencyConflict") return Effect.fail(error)
        return attempts >= MaxAttempts
          ? Effect.fail(new TrackRetriesExhausted({ attempts }))
          : Effect.zipRight(backoff(attempts), attempt(key, projectId, command, attempts + 1))
      },
      onSuccess: () => {
        remember(key, contact)
        return Effect.succeed(result)
      }
    })
  }

  // Conflicts then only come from other processes sharing the store; the retry handles those.
  const track = (projectId: string, command: TrackCommand.TrackCommand) => {
    const key = `${projectId}\u0000${command.email}`
    return serialized(key, attempt(key, projectId, command, 1))
  }

  const forget = (projectId: string, email: string) => {
    const key = `${projectId}\u0000${email}`
    return serialized(key, Effect.sync(() => void known.delete(key)))
  }

  return Track.of({ track, forget })
})

/** The handler, needing a store and ids. */
export const layer: Layer.Layer<Track, never, EventStore.EventStore | Contacts.Contacts | Suppressions.Suppressions | Ids.Ids> = Layer.effect(
  Track,
  make
)
