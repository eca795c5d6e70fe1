/**
 * The track command: `TrackDecider` run by the `CommandHandler` — one track, a batch of tracks
 * (behaviour §8), each optionally with an idempotency key (behaviour §6).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as CommandHandler from "./CommandHandler.js"
import * as Contact from "./Contact.js"
import type * as ContactEvent from "./ContactEvent.js"
import * as Decider from "./Decider.js"
import type * as Idempotency from "./Idempotency.js"
import type * as Projects from "./Projects.js"
import type * as StoreError from "./StoreError.js"
import * as Suppressions from "./Suppressions.js"
import type * as TrackBatch from "./TrackBatch.js"
import type * as TrackCommand from "./TrackCommand.js"
import * as TrackDecider from "./TrackDecider.js"

/** What a track answers (behaviour §1.7). */
export interface TrackResult {
  readonly contact: string
  readonly event: string
  readonly timestamp: Date
}

/** A track of a suppressed email that has no contact: nothing was stored for it (behaviour §7). */
export interface Suppressed {
  readonly _tag: "Suppressed"
  /** When it was answered. */
  readonly timestamp: Date
}

/**
 * What a track with an idempotency key answers, and stores for the key (behaviour §6): its result,
 * or that its email is suppressed.
 */
export type KeyedResult = TrackResult | Suppressed

/** True for the answer to a suppressed email. */
export const isSuppressed = (result: KeyedResult): result is Suppressed => "_tag" in result

/** The track decider: `TrackDecider.decide` over `Contact`'s fold. */
export const decider: Decider.Decider<
  TrackCommand.TrackCommand,
  ContactEvent.ContactEvent,
  Contact.State,
  TrackDecider.Context
> = {
  decide: Decider.accepting(TrackDecider.decide),
  evolve: Contact.evolve,
  initialState: Contact.initialState
}

/**
 * The track on the command pipeline: its contact by email, created when absent. A contact this
 * process does not know is most often a new one: its first track is appended without a read, the
 * store checking the suppression list as it creates the contact (decision 0026).
 */
export const handling: CommandHandler.Handling<TrackCommand.TrackCommand, TrackDecider.Context> = {
  decider,
  address: (command) => ({ _tag: "Email", email: command.email }),
  context: (projectId, state, now, newId) => ({ projectId, contactId: state === null ? newId() : state.id, now }),
  guessNew: true
}

type Failure = CommandHandler.RetriesExhausted | StoreError.StoreUnavailable

/** Tracks events for contacts. */
export class Track extends Context.Tag("@tracklog/core/Track")<Track, {
  /**
   * One track. With `grantedBy`, the hash of the API key it came with, the event is written only
   * while that key still grants the project (`EventStore.Append.grantedBy`), else `GrantRevoked`.
   */
  readonly track: (
    projectId: string,
    command: TrackCommand.TrackCommand,
    grantedBy?: string | undefined
  ) => Effect.Effect<TrackResult, Failure | Suppressions.EmailSuppressed | Projects.GrantRevoked>
  /**
   * One track with an idempotency key: done now, or the stored answer of the first time. A
   * suppressed email's answer is stored for the key too, with no events (behaviour §6, §7).
   */
  readonly trackIdempotent: (
    projectId: string,
    command: TrackCommand.TrackCommand,
    idempotency: Idempotency.Request<KeyedResult>
  ) => Effect.Effect<Idempotency.Outcome<KeyedResult>, Failure | Idempotency.IdempotencyKeyReused>
  /** The valid items of a batch, applied in order and committed together; the invalid ones rejected alone. */
  readonly trackBatch: (
    projectId: string,
    items: ReadonlyArray<TrackBatch.Item>,
    idempotency?: Idempotency.Request<TrackBatch.Result> | undefined
  ) => Effect.Effect<Idempotency.Outcome<TrackBatch.Result>, Failure | Idempotency.IdempotencyKeyReused>
}>() {}

const noneSuppressed: ReadonlySet<string> = new Set()

const resultOf = (decided: CommandHandler.Decided): TrackResult => ({
  contact: decided.streamId,
  event: decided.events[decided.events.length - 1]!.id,
  timestamp: decided.at
})

/** Builds the service over the command handler. */
export const make = Effect.gen(function*() {
  const handler = yield* CommandHandler.CommandHandler
  const suppressions = yield* Suppressions.Suppressions
  const clock = yield* Effect.clock

  const track = (projectId: string, command: TrackCommand.TrackCommand, grantedBy?: string | undefined) =>
    Effect.map(handler.handle(handling, projectId, command, grantedBy), resultOf)

  const trackIdempotent = (
    projectId: string,
    command: TrackCommand.TrackCommand,
    idempotency: Idempotency.Request<KeyedResult>
  ) =>
    handler.handleAll(handling, projectId, [command], (decided): KeyedResult => resultOf(decided[0]!), idempotency)
      .pipe(
        // A suppressed email is an answer like any other 2xx: kept for the key, with no events and
        // no contact (behaviour §6), so a retry replays it, another body is refused, and lifting the
        // suppression later changes nothing. Stored by `handleAll` with no commands: under the key's
        // lock, and when the key was stored meanwhile, its answer is replayed (or the body refused).
        Effect.catchTag("EmailSuppressed", () => {
          const timestamp = new Date(clock.unsafeCurrentTimeMillis())
          return handler.handleAll(
            handling,
            projectId,
            [],
            (): KeyedResult => ({ _tag: "Suppressed", timestamp }),
            idempotency
          ).pipe(
            // No append, so no list to meet.
            Effect.catchTag("EmailSuppressed", (e) => Effect.die(e))
          )
        })
      )

  // A batch is appended at once: the append refuses a new contact whose email is suppressed, as it
  // does a first track's (decision 0026), and then the batch asks the list for its emails and
  // answers their items alone (behaviour §7); an email suppressed after that is refused by the
  // append again, and the batch is asked again. A batch without suppressed emails, the common
  // case, hashes none and reads no list (decision 0046).
  const trackBatch = (
    projectId: string,
    items: ReadonlyArray<TrackBatch.Item>,
    idempotency?: Idempotency.Request<TrackBatch.Result> | undefined,
    attempts = 1
  ): Effect.Effect<Idempotency.Outcome<TrackBatch.Result>, Failure | Idempotency.IdempotencyKeyReused> => {
    const valid = items.filter(Either.isRight).map((item) => item.right)
    // When it asks, one store call for every email: a lookup each cost a fiber and, 8 at a time,
    // a round trip per 8 emails.
    const suppressedAmong = attempts === 1
      ? Effect.succeed(noneSuppressed)
      : suppressions.suppressedAmong(projectId, [...new Set(valid.map((command) => command.email))])
    return suppressedAmong.pipe(
      Effect.flatMap((suppressed) => {
        const commands = valid.filter((command) => !suppressed.has(command.email))
        const timestamp = new Date(clock.unsafeCurrentTimeMillis())
        return handler.handleAll(handling, projectId, commands, (decided): TrackBatch.Result => {
          let next = 0
          const results = items.map((item): TrackBatch.ItemResult => {
            if (Either.isLeft(item)) return { _tag: "Rejected", error: item.left }
            if (suppressed.has(item.right.email)) return { _tag: "Suppressed", timestamp }
            return { _tag: "Accepted", ...resultOf(decided[next++]!) }
          })
          return {
            accepted: commands.length,
            rejected: items.length - valid.length,
            suppressed: valid.length - commands.length,
            items: results
          }
        }, idempotency)
      }),
      Effect.catchTag("EmailSuppressed", () =>
        attempts >= CommandHandler.MaxAttempts
          ? Effect.fail(new CommandHandler.RetriesExhausted({ attempts }))
          : trackBatch(projectId, items, idempotency, attempts + 1))
    )
  }

  return Track.of({
    track,
    trackIdempotent,
    trackBatch: (projectId, items, idempotency) => trackBatch(projectId, items, idempotency)
  })
})

/** The service over the command handler (`Commands.layer` composes the two). */
export const layer: Layer.Layer<Track, never, CommandHandler.CommandHandler | Suppressions.Suppressions> = Layer.effect(
  Track,
  make
)
