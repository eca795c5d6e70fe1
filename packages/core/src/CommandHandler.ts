/**
 * The generic command handler (Emmett's `DeciderCommandHandler`): runs any decider over contact
 * streams — find the contact → decide → append, and on a conflict decide again on fresh state.
 * It owns what every command shares: one command per contact at a time in this process, the
 * cache of the states this process committed, bounded retries with jittered backoff, atomic
 * multi-stream appends (batches, behaviour §8) and idempotency records (behaviour §6).
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import type * as Contact from "./Contact.js"
import type * as Projects from "./Projects.js"
import type * as ContactEvent from "./ContactEvent.js"
import * as Decider from "./Decider.js"
import * as EventStore from "./EventStore.js"
import * as Idempotency from "./Idempotency.js"
import * as Ids from "./Ids.js"
import * as ContactCache from "./internal/contactCache.js"
import * as KeyedLock from "./internal/keyedLock.js"
import type * as StoreError from "./StoreError.js"
import type * as Suppressions from "./Suppressions.js"

/** Every attempt lost a race; the command was not applied. */
export class RetriesExhausted extends Schema.TaggedError<RetriesExhausted>()("RetriesExhausted", {
  attempts: Schema.Number
}) {}

/**
 * How often a command is decided again after a conflict. A conflict means another command on
 * the same contact committed in between, so each retry is progress for someone; the bound only
 * guards against a pathological hot contact.
 */
export const MaxAttempts = 32

/** How many contacts' last committed states the handler keeps to skip a read, at most. */
export const MaxKnownContacts = 10_000

/**
 * The default byte budget of that cache (`Options.cacheBytes`): 16 MiB. 10 000 contacts of ~1 KB
 * fit; with 64 MiB, 2 000 tracks of 400 KB contacts left a server at ~400 MB of RSS, with 16 MiB
 * at ~300 MB (`pnpm stress memory`).
 */
export const DefaultCacheBytes = 16 * 1024 * 1024

/** Tuning of the handler. */
export interface Options {
  /** Byte budget of the contact cache, estimated from each contact's data as JSON (default 16 MiB). */
  readonly cacheBytes?: number | undefined
  /** Most contacts in the cache (default 10 000). */
  readonly cacheEntries?: number | undefined
  /** How long idempotency records are kept, in seconds (default 24 h). */
  readonly idempotencyTtlSeconds?: number | undefined
}

/** How one kind of command reaches its contact stream. */
export interface Handling<Command, DecideContext, FindError = never> {
  readonly decider: Decider.Decider<Command, ContactEvent.ContactEvent, Contact.State, DecideContext>
  /** The command's contact within this process: its lock and cache key. */
  readonly keyOf: (projectId: string, command: Command) => string
  /** Reads the command's contact from the projection. */
  readonly find: (
    projectId: string,
    command: Command
  ) => Effect.Effect<Option.Option<Contact.Contact>, StoreError.StoreUnavailable | FindError>
  /**
   * Reads the contacts of several commands in one store call (a batch's), in their order; without
   * it each is read with `find`.
   */
  readonly findMany?: (
    projectId: string,
    commands: ReadonlyArray<Command>
  ) => Effect.Effect<ReadonlyArray<Option.Option<Contact.Contact>>, StoreError.StoreUnavailable | FindError>
  /**
   * The store checks, in the append that starts a contact's stream, what `find` checks before a
   * creation (the track: that its email is not suppressed, `EventStore.Append.unlessSuppressed`).
   * A command whose contact this process does not know is then appended at once as that contact's
   * creation, without a read. A store refuses a creation whose email has a contact already and
   * hands that contact back (`ConcurrencyConflict.holder`): the command is decided again on it. A
   * first track costs one round trip, not two; one of a contact this process does not know, two
   * as before.
   */
  readonly createUnlessSuppressed?: boolean | undefined
  /** The decider's context; `newId` makes an id for something created now. */
  readonly context: (projectId: string, state: Contact.State, at: Date, newId: () => string) => DecideContext
}

/** One command, decided and appended. */
export interface Decided {
  readonly streamId: string
  /** The new events, in append order, with their ids. */
  readonly events: ReadonlyArray<EventStore.NewEvent>
  /** The contact after them. */
  readonly state: Contact.State
  readonly at: Date
}

/** The outcome of commands run together. */
export type Outcome<R> = Idempotency.Outcome<R>

/** How one command fails: besides its own `find`'s errors, what its append can answer. */
export type HandleError<FindError> =
  | RetriesExhausted
  | Projects.GrantRevoked
  | Suppressions.EmailSuppressed
  | StoreError.StoreUnavailable
  | FindError

/** Runs commands over the store ports. */
export class CommandHandler extends Context.Tag("@tracklog/core/CommandHandler")<CommandHandler, {
  /**
   * One command, on the hot path. With `grantedBy` (an API key's hash, `EventStore.Append`), its
   * append writes only while that key still grants the project; a command that decides no events
   * appends nothing, and checks nothing.
   */
  readonly handle: <Command, DecideContext, FindError>(
    handling: Handling<Command, DecideContext, FindError>,
    projectId: string,
    command: Command,
    grantedBy?: string | undefined
  ) => Effect.Effect<Decided, HandleError<FindError>>
  /**
   * Commands applied in order and committed together (all or none), decided again as a whole on
   * a conflict; `finish` makes the result of the decisions. With `idempotency`, the key and the
   * answer are stored in the same append, and a key already stored replays its answer.
   */
  readonly handleAll: <Command, DecideContext, FindError, R>(
    handling: Handling<Command, DecideContext, FindError>,
    projectId: string,
    commands: ReadonlyArray<Command>,
    finish: (decided: ReadonlyArray<Decided>) => R,
    idempotency?: Idempotency.Request<R> | undefined
  ) => Effect.Effect<
    Outcome<R>,
    RetriesExhausted | Idempotency.IdempotencyKeyReused | StoreError.StoreUnavailable | FindError
  >
  /**
   * Drops what this process remembers of a contact (after it was erased, behaviour §7: its cached
   * state holds its email and data); waits for a command on that key in flight here.
   */
  readonly forget: (key: string) => Effect.Effect<void>
  /** What the contact cache holds now. */
  readonly cacheStats: () => { readonly entries: number; readonly bytes: number }
}>() {}

// Jittered, capped exponential backoff (0.5 ms × 1.5ⁿ, at most 20 ms): racers on one contact
// spread out instead of colliding again at once.
const backoff = (attempt: number) =>
  Effect.flatMap(
    Random.nextRange(0.5, 1.5),
    (jitter) => Effect.sleep(Duration.millis(Math.min(20, 0.5 * 1.5 ** (attempt - 1)) * jitter))
  )

// Expired idempotency records are swept at most this often, in the background.
const SweepEveryMillis = 60_000

/** Builds the handler over the store. */
export const make = (options: Options = {}) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    const ids = yield* Ids.Ids
    // The clock of the environment that builds the service (a `TestClock` in tests), read directly
    // per command instead of looked up in the fiber's services each time.
    const clock = yield* Effect.clock
    const now = Effect.sync(() => clock.unsafeCurrentTimeMillis())
    const serialized = KeyedLock.make()
    const ttlSeconds = options.idempotencyTtlSeconds ?? Idempotency.DefaultTtlSeconds
    let lastSweep = -Infinity

    // The state this process last committed for a contact. Commands on one contact run one at a
    // time here, so it is exact unless another process wrote since — and then the append's
    // version check fails and the retry reads the store. It saves a read per command.
    const known = ContactCache.make({
      maxEntries: options.cacheEntries ?? MaxKnownContacts,
      maxBytes: options.cacheBytes ?? DefaultCacheBytes
    })

    const decideOne = <Command, DecideContext, FindError>(
      handling: Handling<Command, DecideContext, FindError>,
      projectId: string,
      command: Command,
      state: Contact.State,
      millis: number
    ): Decided => {
      const at = new Date(millis)
      const events = handling.decider.decide(
        command,
        state,
        handling.context(projectId, state, at, () => ids.make(millis))
      )
      const newEvents = events.map((event) => ({ id: ids.make(millis), event }))
      const next = Decider.fold(handling.decider, events, state)
      return { streamId: next?.id ?? state?.id ?? "", events: newEvents, state: next, at }
    }

    // A stream that ends (its contact null after the events) has no projection row to write.
    const ended = (decided: Decided) =>
      Effect.dieMessage(`CommandHandler: stream ${decided.streamId} ends; this store append needs a contact`)

    // Plain flatMaps, not a generator, and one failure handler for both outcomes of an append:
    // this is the hot path of every track.
    const attempt = <Command, DecideContext, FindError>(
      handling: Handling<Command, DecideContext, FindError>,
      key: string,
      projectId: string,
      command: Command,
      grantedBy: string | undefined,
      attempts: number
    ): Effect.Effect<Decided, HandleError<FindError>> =>
      // The clock read inside the step, not as an Effect of its own: one step less per command.
      Effect.suspend(() => {
        const millis = clock.unsafeCurrentTimeMillis()
        const cached = known.get(key)
        if (cached !== undefined) return write(handling, key, projectId, command, grantedBy, attempts, cached, millis)
        // Only the first attempt guesses: a retry has lost a race, and reads.
        return attempts === 1 && handling.createUnlessSuppressed === true
          ? write(handling, key, projectId, command, grantedBy, attempts, null, millis)
          : Effect.flatMap(
            handling.find(projectId, command),
            (found) => write(handling, key, projectId, command, grantedBy, attempts, Option.getOrNull(found), millis)
          )
      })

    const write = <Command, DecideContext, FindError>(
      handling: Handling<Command, DecideContext, FindError>,
      key: string,
      projectId: string,
      command: Command,
      grantedBy: string | undefined,
      attempts: number,
      state: Contact.State,
      millis: number
    ): Effect.Effect<Decided, HandleError<FindError>> => {
      const decided = decideOne(handling, projectId, command, state, millis)
      if (decided.events.length === 0) return Effect.succeed(decided)
      const contact = decided.state
      if (contact === null) return ended(decided)
      return Effect.matchEffect(
        store.append({
          streamId: decided.streamId,
          expectedVersion: state?.version ?? 0,
          events: decided.events,
          contact,
          grantedBy,
          unlessSuppressed: handling.createUnlessSuppressed
        }),
        {
          onFailure: (error) => {
            // Lost a race, or an outage that may or may not have committed: read afresh next time.
            known.forget(key)
            if (error._tag !== "ConcurrencyConflict") return Effect.fail(error)
            if (attempts >= MaxAttempts) return Effect.fail(new RetriesExhausted({ attempts }))
            // The email's contact, handed back by the store: decided on at once, with no read and
            // no wait (most often a first track guessed new for a contact it did not know, not a
            // race).
            const holder = error.holder
            return holder !== undefined
              ? Effect.suspend(() =>
                write(
                  handling,
                  key,
                  projectId,
                  command,
                  grantedBy,
                  attempts + 1,
                  holder,
                  clock.unsafeCurrentTimeMillis()
                )
              )
              : Effect.zipRight(backoff(attempts), attempt(handling, key, projectId, command, grantedBy, attempts + 1))
          },
          onSuccess: () => {
            known.remember(key, contact)
            return Effect.succeed(decided)
          }
        }
      )
    }

    // Conflicts then only come from other processes sharing the store; the retry handles those.
    const handle = <Command, DecideContext, FindError>(
      handling: Handling<Command, DecideContext, FindError>,
      projectId: string,
      command: Command,
      grantedBy?: string | undefined
    ) => {
      const key = handling.keyOf(projectId, command)
      return serialized(key, attempt(handling, key, projectId, command, grantedBy, 1))
    }

    // Expired records go in the background: an append never waits for the sweep.
    const sweep = (millis: number) => {
      if (millis - lastSweep < SweepEveryMillis) return Effect.void
      lastSweep = millis
      return Effect.asVoid(
        Effect.forkDaemon(Effect.ignore(store.expireIdempotency(new Date(millis - ttlSeconds * 1000))))
      )
    }

    const attemptAll = <Command, DecideContext, FindError, R>(
      handling: Handling<Command, DecideContext, FindError>,
      projectId: string,
      commands: ReadonlyArray<Command>,
      keys: ReadonlyArray<string>,
      finish: (decided: ReadonlyArray<Decided>) => R,
      idempotency: Idempotency.Request<R> | undefined,
      attempts: number
    ): Effect.Effect<
      Outcome<R>,
      RetriesExhausted | Idempotency.IdempotencyKeyReused | StoreError.StoreUnavailable | FindError
    > =>
      Effect.gen(function*() {
        const millis = yield* now
        // Each contact's state once (the cache, else the store: one call for all the others when
        // the handling reads many at once), read at the same time as the idempotency record: a
        // round trip less for a request with a key.
        const initial = new Map<string, Contact.State>()
        const missing = new Map<string, Command>()
        commands.forEach((command, i) => {
          const key = keys[i]!
          if (initial.has(key) || missing.has(key)) return
          const cached = known.get(key)
          if (cached !== undefined) initial.set(key, cached)
          else missing.set(key, command)
        })
        const findMany = handling.findMany
        const states = missing.size === 0
          ? Effect.void
          : findMany !== undefined && missing.size > 1
          ? Effect.map(findMany(projectId, [...missing.values()]), (found) => {
            let i = 0
            for (const key of missing.keys()) initial.set(key, Option.getOrNull(found[i++]!))
          })
          : Effect.forEach(
            missing,
            ([key, command]) =>
              Effect.map(handling.find(projectId, command), (found) => initial.set(key, Option.getOrNull(found))),
            { concurrency: missing.size > 1 ? "unbounded" : 1, discard: true }
          )
        if (idempotency !== undefined && attempts === 1) {
          // Optimistic: a fresh key is the common case, so the first attempt appends at once and
          // the store refuses a key already stored (a conflict). Only a retry looks the key up.
          yield* sweep(millis)
          yield* states
        } else if (idempotency !== undefined) {
          // Read under the key's lock: a request with the same key in this process has finished,
          // and one in another process either committed (then it is found) or will conflict.
          const [found] = yield* Effect.all([
            store.findIdempotency(projectId, idempotency.key, new Date(millis - ttlSeconds * 1000)),
            states
          ], { concurrency: 2 })
          if (Option.isSome(found)) {
            if (found.value.fingerprint !== idempotency.fingerprint) {
              return yield* new Idempotency.IdempotencyKeyReused({ key: idempotency.key })
            }
            return { _tag: "Replayed", answer: found.value.answer } as const
          }
        } else {
          yield* states
        }
        // Every command decided in order on its contact's running state.
        const current = new Map(initial)
        const events = new Map<string, Array<EventStore.NewEvent>>()
        const decided = commands.map((command, i) => {
          const key = keys[i]!
          const one = decideOne(handling, projectId, command, current.get(key)!, millis)
          current.set(key, one.state)
          const list = events.get(key)
          if (list === undefined) events.set(key, [...one.events])
          else list.push(...one.events)
          return one
        })
        const appends: Array<EventStore.Append> = []
        for (const [key, list] of events) {
          if (list.length === 0) continue
          const contact = current.get(key)!
          if (contact === null) return yield* ended(decided[keys.lastIndexOf(key)]!)
          appends.push({ streamId: contact.id, expectedVersion: initial.get(key)?.version ?? 0, events: list, contact })
        }
        const result = finish(decided)
        const answer = idempotency?.render(result)
        const record: Idempotency.Record | undefined = idempotency === undefined ? undefined : {
          projectId,
          key: idempotency.key,
          fingerprint: idempotency.fingerprint,
          answer: answer!,
          contactIds: appends.map((a) => a.streamId),
          createdAt: new Date(millis)
        }
        if (appends.length > 0 || record !== undefined) {
          const appended = yield* Effect.either(store.appendAll({ appends, idempotency: record }))
          if (appended._tag === "Left") {
            for (const key of events.keys()) known.forget(key)
            const error = appended.left
            if (error._tag !== "ConcurrencyConflict") return yield* error
            if (attempts >= MaxAttempts) return yield* new RetriesExhausted({ attempts })
            yield* backoff(attempts)
            return yield* attemptAll(handling, projectId, commands, keys, finish, idempotency, attempts + 1)
          }
          for (const [key, contact] of current)
            if (contact !== null && events.get(key)!.length > 0) known.remember(key, contact)
        }
        return { _tag: "Done", result, answer } as const
      })

    const handleAll = <Command, DecideContext, FindError, R>(
      handling: Handling<Command, DecideContext, FindError>,
      projectId: string,
      commands: ReadonlyArray<Command>,
      finish: (decided: ReadonlyArray<Decided>) => R,
      idempotency?: Idempotency.Request<R> | undefined
    ) => {
      const keys = commands.map((command) => handling.keyOf(projectId, command))
      // Every contact's lock and the idempotency key's, when there is one, taken at once in one
      // global order, so two batches cannot wait on each other (see `KeyedLock`).
      const locks = idempotency === undefined ? keys : [...keys, `\u0001${projectId}\u0000${idempotency.key}`]
      return serialized.all(locks, attemptAll(handling, projectId, commands, keys, finish, idempotency, 1))
    }

    const forget = (key: string) => serialized(key, Effect.sync(() => known.forget(key)))

    return CommandHandler.of({ handle, handleAll, forget, cacheStats: known.stats })
  })

/** The handler over the store ports, with default options. */
export const layer: Layer.Layer<CommandHandler, never, EventStore.EventStore | Ids.Ids> = Layer.effect(
  CommandHandler,
  make()
)

/** The handler with the given options. */
export const layerWith = (options: Options): Layer.Layer<CommandHandler, never, EventStore.EventStore | Ids.Ids> =>
  Layer.effect(CommandHandler, make(options))
