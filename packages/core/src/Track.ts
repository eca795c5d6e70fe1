/**
 * The track command handler: find the contact → decide → append, and on a conflict decide
 * again on fresh state.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Contact from "./Contact.js"
import * as Contacts from "./Contacts.js"
import * as EventStore from "./EventStore.js"
import * as Ids from "./Ids.js"
import * as KeyedLock from "./internal/keyedLock.js"
import type * as StoreError from "./StoreError.js"
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

// Jittered, capped backoff: racers on one contact spread out instead of colliding again at once.
const backoff = Schedule.exponential(Duration.micros(500n), 1.5).pipe(
  Schedule.modifyDelay((delay) => Duration.min(delay, Duration.millis(20))),
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(MaxAttempts - 1))
)

/** Tracks events for contacts. */
export class Track extends Context.Tag("@tracklog/core/Track")<Track, {
  readonly track: (
    projectId: string,
    command: TrackCommand.TrackCommand
  ) => Effect.Effect<TrackResult, TrackRetriesExhausted | StoreError.StoreUnavailable>
}>() {}

/** Builds the handler over the store ports. */
export const make = Effect.gen(function*() {
  const store = yield* EventStore.EventStore
  const contacts = yield* Contacts.Contacts
  const ids = yield* Ids.Ids

  const attempt = (projectId: string, command: TrackCommand.TrackCommand) =>
    Effect.gen(function*() {
      const state = Option.getOrNull(yield* contacts.findByEmail(projectId, command.email))
      const now = new Date(yield* Clock.currentTimeMillis)
      const contactId = state === null ? yield* ids.next : state.id
      const events = TrackDecider.decide(command, state, { projectId, contactId, now })
      const newEvents: Array<EventStore.NewEvent> = []
      for (const event of events) newEvents.push({ id: yield* ids.next, event })
      yield* store.append({
        streamId: contactId,
        expectedVersion: state?.version ?? 0,
        events: newEvents,
        contact: Contact.fold(events, state)!
      })
      return { contact: contactId, event: newEvents[newEvents.length - 1]!.id, timestamp: now }
    })

  const serialized = KeyedLock.make()

  // Conflicts then only come from other processes sharing the store; the retry handles those.
  const track = (projectId: string, command: TrackCommand.TrackCommand) =>
    serialized(
      `${projectId}\u0000${command.email}`,
      attempt(projectId, command).pipe(
        Effect.retry({ while: (e) => e._tag === "ConcurrencyConflict", schedule: backoff }),
        Effect.catchTag("ConcurrencyConflict", () => new TrackRetriesExhausted({ attempts: MaxAttempts }))
      )
    )

  return Track.of({ track })
})

/** The handler, needing a store and ids. */
export const layer: Layer.Layer<Track, never, EventStore.EventStore | Contacts.Contacts | Ids.Ids> = Layer.effect(
  Track,
  make
)
