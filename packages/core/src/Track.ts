/**
 * The track command: `TrackDecider` run by the `CommandHandler` — one track, a batch of tracks
 * (behaviour §8), each optionally with an idempotency key (behaviour §6).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as CommandHandler from "./CommandHandler.js"
import * as Contact from "./Contact.js"
import * as Contacts from "./Contacts.js"
import type * as EventStore from "./EventStore.js"
import type * as Idempotency from "./Idempotency.js"
import type * as Ids from "./Ids.js"
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

/** Every attempt lost a race; the command was not applied. */
export const TrackRetriesExhausted = CommandHandler.RetriesExhausted
export type TrackRetriesExhausted = CommandHandler.RetriesExhausted

/** See `CommandHandler.MaxAttempts`. */
export const MaxAttempts = CommandHandler.MaxAttempts

/** See `CommandHandler.MaxKnownContacts`. */
export const MaxKnownContacts = CommandHandler.MaxKnownContacts

/** The track decider: `TrackDecider.decide` over `Contact`'s fold. */
export const decider = {
  decide: TrackDecider.decide,
  evolve: Contact.evolve,
  initialState: Contact.initialState
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
  /**
   * Drops what this process remembers of a contact, after it was erased (behaviour §7): nothing of
   * it stays in the process. Waits for a track of that email in flight here.
   */
  readonly forget: (projectId: string, email: string) => Effect.Effect<void>
}>() {}

const resultOf = (decided: CommandHandler.Decided): TrackResult => ({
  contact: decided.streamId,
  event: decided.events[decided.events.length - 1]!.id,
  timestamp: decided.at
})

/** Builds the service over the command handler. */
export const make = Effect.gen(function*() {
  const handler = yield* CommandHandler.CommandHandler
  const contacts = yield* Contacts.Contacts
  const suppressions = yield* Suppressions.Suppressions
  const clock = yield* Effect.clock

  const keyOf = Contact.emailKey
  const base = {
    decider,
    keyOf: (projectId: string, command: TrackCommand.TrackCommand) => keyOf(projectId, command.email),
    context: (projectId: string, state: Contact.State, now: Date, newId: () => string) => ({
      projectId,
      contactId: state === null ? newId() : state.id,
      now
    })
  }
  // Only a track that would create the contact asks the suppression list (behaviour §7): in its
  // append on a first try (below), here when a retry reads the contact and finds none.
  const handling: CommandHandler.Handling<
    TrackCommand.TrackCommand,
    TrackDecider.Context,
    Suppressions.EmailSuppressed
  > = {
    ...base,
    find: (projectId, command) =>
      Effect.flatMap(contacts.findByEmail(projectId, command.email), (found): Effect.Effect<
        Option.Option<Contact.Contact>,
        StoreError.StoreUnavailable | Suppressions.EmailSuppressed
      > =>
        found._tag === "Some"
          ? Effect.succeed(found)
          : Effect.flatMap(
            suppressions.isSuppressed(projectId, command.email),
            (suppressed) => suppressed ? Effect.fail(new Suppressions.EmailSuppressed()) : Effect.succeed(found)
          )),
    // A contact this process does not know is most often a new one: its first track is appended
    // without a read, the store checking the suppression list as it creates the contact.
    createUnlessSuppressed: true
  }
  // A batch asks the list for its emails first, and answers their items alone; its contacts are
  // read in one store call.
  const unchecked: CommandHandler.Handling<TrackCommand.TrackCommand, TrackDecider.Context> = {
    ...base,
    find: (projectId, command) => contacts.findByEmail(projectId, command.email),
    findMany: (projectId, commands) => contacts.findManyByEmail(projectId, commands.map((command) => command.email))
  }

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
            unchecked,
            projectId,
            [],
            (): KeyedResult => ({ _tag: "Suppressed", timestamp }),
            idempotency
          )
        })
      )

  const trackBatch = (
    projectId: string,
    items: ReadonlyArray<TrackBatch.Item>,
    idempotency?: Idempotency.Request<TrackBatch.Result> | undefined
  ) => {
    const valid = items.filter(Either.isRight).map((item) => item.right)
    // One store call for every email: a lookup each cost a fiber and, 8 at a time, a round trip
    // per 8 emails.
    const emails = [...new Set(valid.map((command) => command.email))]
    return suppressions.suppressedAmong(projectId, emails).pipe(
      Effect.flatMap((suppressed) => {
        const commands = valid.filter((command) => !suppressed.has(command.email))
        const timestamp = new Date(clock.unsafeCurrentTimeMillis())
        return handler.handleAll(unchecked, projectId, commands, (decided): TrackBatch.Result => {
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
      })
    )
  }

  const forget = (projectId: string, email: string) => handler.forget(keyOf(projectId, email))

  return Track.of({ track, trackIdempotent, trackBatch, forget })
})

/** The service and the command handler it runs on, with default options. */
export const layer: Layer.Layer<
  Track | CommandHandler.CommandHandler,
  never,
  EventStore.EventStore | Contacts.Contacts | Suppressions.Suppressions | Ids.Ids
> = Layer.effect(Track, make).pipe(Layer.provideMerge(CommandHandler.layer))

/** The same with the handler's options (cache budget, idempotency TTL). */
export const layerWith = (
  options: CommandHandler.Options
): Layer.Layer<
  Track | CommandHandler.CommandHandler,
  never,
  EventStore.EventStore | Contacts.Contacts | Suppressions.Suppressions | Ids.Ids
> => Layer.effect(Track, make).pipe(Layer.provideMerge(CommandHandler.layerWith(options)))
