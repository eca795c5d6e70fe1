/**
 * The one command pipeline (Emmett's `DeciderCommandHandler`), for every command on a contact
 * stream: track, the batch, erase, the contact update. A command provides its decider, where its
 * contact is (by email or by id) and, when it is not the contact after its events, the projection
 * change they imply; the handler does lock → read (cache) → decide → append → retry. It owns what
 * every command shares: one command per contact at a time in this process, the cache of the
 * states this process committed, bounded retries with jittered backoff, atomic multi-stream
 * appends (batches, behaviour §8) and idempotency records (behaviour §6).
 * docs/decisions/0031-one-command-pipeline.md.
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
import type * as ContactEvent from "./ContactEvent.js"
import * as Decider from "./Decider.js"
import * as EventStore from "./EventStore.js"
import * as Idempotency from "./Idempotency.js"
import * as Ids from "./Ids.js"
import * as ContactCache from "./internal/contactCache.js"
import * as KeyedLock from "./internal/keyedLock.js"
import type * as Projects from "./Projects.js"
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

/** Where a command's contact is: by its canonical email in the project, or by its id. */
export type Address =
  | { readonly _tag: "Email"; readonly email: string }
  | { readonly _tag: "Id"; readonly contactId: string }

/** What one kind of command brings to the pipeline. */
export interface Handling<Command, DecideContext, Refusal = never, Extra = void> {
  /** Its rules, over the contact's state (`Contact.evolve`). */
  readonly decider: Decider.Decider<Command, ContactEvent.ContactEvent, Contact.State, DecideContext, Refusal>
  readonly address: (command: Command) => Address
  /** The decider's context; `newId` makes an id for something created now, `extra` is what `prepare` read. */
  readonly context: (
    projectId: string,
    state: Contact.State,
    at: Date,
    newId: () => string,
    extra: Extra
  ) => DecideContext
  /**
   * What `decide` needs besides the state, read on every attempt under the contact's lock (the
   * contact update: whether another contact holds the email it asks for). The store's append
   * enforces the same fact, so a race only costs an attempt.
   */
  readonly prepare?: (
    projectId: string,
    command: Command,
    state: Contact.State
  ) => Effect.Effect<Extra, StoreError.StoreUnavailable, Contacts.Contacts>
  /** The projection change of the decided events, when it is not the contact after them (an erasure). */
  readonly project?: (projectId: string, command: Command, state: Contact.State) => EventStore.Projection
  /**
   * A command by email whose contact this process does not know is appended as that contact's
   * creation at once, without a read: the store hands back the email's contact when it has one
   * (`ConcurrencyConflict.holder`) and the command is decided again on it. For commands that
   * create their contact (the track): a first track costs one round trip, not two
   * (docs/decisions/0026-first-track-without-a-read.md).
   */
  readonly guessNew?: boolean | undefined
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

/** How one command fails besides its refusal: what its append can answer. */
export type HandleError =
  | RetriesExhausted
  | Projects.GrantRevoked
  | Suppressions.EmailSuppressed
  | StoreError.StoreUnavailable

/** How commands run together fail. */
export type HandleAllError =
  | RetriesExhausted
  | Idempotency.IdempotencyKeyReused
  | Suppressions.EmailSuppressed
  | StoreError.StoreUnavailable

/** Runs commands over the store ports. */
export class CommandHandler extends Context.Tag("@tracklog/core/CommandHandler")<CommandHandler, {
  /**
   * One command. With `grantedBy` (an API key's hash, `EventStore.Append`), its append writes only
   * while that key still grants the project; a command that decides no events appends nothing,
   * and checks nothing.
   */
  readonly handle: <Command, DecideContext, Refusal, Extra>(
    handling: Handling<Command, DecideContext, Refusal, Extra>,
    projectId: string,
    command: Command,
    grantedBy?: string | undefined
  ) => Effect.Effect<Decided, Refusal | HandleError>
  /**
   * Commands by email applied in order and committed together (all or none), decided again as a
   * whole on a conflict; `finish` makes the result of the decisions. With `idempotency`, the key
   * and the answer are stored in the same append, and a key already stored replays its answer.
   */
  readonly handleAll: <Command, DecideContext, R>(
    handling: Handling<Command, DecideContext>,
    projectId: string,
    commands: ReadonlyArray<Command>,
    finish: (decided: ReadonlyArray<Decided>) => R,
    idempotency?: Idempotency.Request<R> | undefined
  ) => Effect.Effect<Outcome<R>, HandleAllError>
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

// The lock key of a contact id that names no contact: nothing to share a lock with.
const idKey = (projectId: string, contactId: string) => `${projectId}\u0000#${contactId}`

/** Builds the handler over the store. */
export const make = (options: Options = {}) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    const contacts = yield* Contacts.Contacts
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

    const read = (projectId: string, address: Address) =>
      Effect.map(
        address._tag === "Email"
          ? contacts.findByEmail(projectId, address.email)
          : contacts.findById(projectId, address.contactId),
        Option.getOrNull
      )

    // The cached state of a key, when it is the addressed contact's.
    const cachedAt = (key: string, address: Address): Contact.Contact | undefined => {
      const cached = known.get(key)
      return cached === undefined || (address._tag === "Id" && cached.id !== address.contactId) ? undefined : cached
    }

    type Step<Command, DecideContext, Refusal, Extra> = {
      readonly handling: Handling<Command, DecideContext, Refusal, Extra>
      readonly key: string
      readonly address: Address
      readonly projectId: string
      readonly command: Command
      readonly grantedBy: string | undefined
    }

    // Plain flatMaps, not a generator, and one failure handler for both outcomes of an append:
    // this is the hot path of every track. `state` is the state to decide on when the caller has
    // it (read just before the lock, or handed back by the store), else the cache or a read.
    const attempt = <Command, DecideContext, Refusal, Extra>(
      step: Step<Command, DecideContext, Refusal, Extra>,
      attempts: number,
      state: Contact.State | undefined
    ): Effect.Effect<Decided, Refusal | HandleError> =>
      Effect.suspend(() => {
        const cached = cachedAt(step.key, step.address)
        if (cached !== undefined) return prepared(step, attempts, cached)
        if (state !== undefined) return prepared(step, attempts, state)
        // Only the first attempt guesses: a retry has lost a race, and reads.
        return attempts === 1 && step.handling.guessNew === true && step.address._tag === "Email"
          ? prepared(step, attempts, null)
          : Effect.flatMap(read(step.projectId, step.address), (found) => prepared(step, attempts, found))
      })

    const prepared = <Command, DecideContext, Refusal, Extra>(
      step: Step<Command, DecideContext, Refusal, Extra>,
      attempts: number,
      state: Contact.State
    ): Effect.Effect<Decided, Refusal | HandleError> => {
      const prepare = step.handling.prepare
      return prepare === undefined
        ? write(step, attempts, state, undefined as Extra)
        : Effect.flatMap(
          Effect.provideService(prepare(step.projectId, step.command, state), Contacts.Contacts, contacts),
          (extra) => write(step, attempts, state, extra)
        )
    }

    const write = <Command, DecideContext, Refusal, Extra>(
      step: Step<Command, DecideContext, Refusal, Extra>,
      attempts: number,
      state: Contact.State,
      extra: Extra
    ): Effect.Effect<Decided, Refusal | HandleError> => {
      const { handling, key, projectId } = step
      const millis = clock.unsafeCurrentTimeMillis()
      const at = new Date(millis)
      const decision = handling.decider.decide(
        step.command,
        state,
        handling.context(projectId, state, at, () => ids.make(millis), extra)
      )
      if (decision._tag === "Left") return Effect.fail(decision.left)
      const events = decision.right
      const newEvents = events.map((event) => ({ id: ids.make(millis), event }))
      const next = Decider.fold(handling.decider, events, state)
      const decided: Decided = { streamId: next?.id ?? state?.id ?? "", events: newEvents, state: next, at }
      if (events.length === 0) return Effect.succeed(decided)
      const projection = projectionOf(handling, projectId, step.command, next, decided)
      return Effect.matchEffect(
        store.append({
          streamId: decided.streamId,
          expectedVersion: state?.version ?? 0,
          events: newEvents,
          projection,
          grantedBy: step.grantedBy
        }),
        {
          onFailure: (error) => {
            // Lost a race, or an outage that may or may not have committed: read afresh next time.
            known.forget(key)
            if (error._tag !== "ConcurrencyConflict") return Effect.fail(error)
            if (attempts >= MaxAttempts) return Effect.fail(new RetriesExhausted({ attempts }))
            // The email's contact, handed back by the store: decided on at once, with no read and
            // no wait (most often a first track guessed new for a contact it did not know, not a
            // race). Only a command by email wants the email's contact.
            const holder = step.address._tag === "Email" ? error.holder : undefined
            return holder !== undefined
              ? attempt(step, attempts + 1, holder)
              : Effect.zipRight(backoff(attempts), attempt(step, attempts + 1, undefined))
          },
          onSuccess: () => {
            remember(key, projection)
            return Effect.succeed(decided)
          }
        }
      )
    }

    // What the handler keeps of a committed contact: its state under its email's key, which an
    // email change moves; nothing of an erased one (behaviour §7: its state holds its data).
    const remember = (key: string, projection: EventStore.Projection) => {
      if (projection._tag === "Erase") return known.forget(key)
      const contact = projection.contact
      const current = Contact.emailKey(contact.projectId, contact.email)
      if (current !== key) known.forget(key)
      known.remember(current, contact)
    }

    const handle = <Command, DecideContext, Refusal, Extra>(
      handling: Handling<Command, DecideContext, Refusal, Extra>,
      projectId: string,
      command: Command,
      grantedBy?: string | undefined
    ): Effect.Effect<Decided, Refusal | HandleError> => {
      const address = handling.address(command)
      const run = (key: string, state: Contact.State | undefined) =>
        serialized(key, attempt({ handling, key, address, projectId, command, grantedBy }, 1, state))
      if (address._tag === "Email") return run(Contact.emailKey(projectId, address.email), undefined)
      // By id: the lock of the contact's email, so commands by id and by email on one contact
      // queue on one lock and share its cached state; read first when this process does not
      // know the contact.
      const key = known.keyOf(address.contactId)
      if (key !== undefined) return run(key, undefined)
      return Effect.flatMap(
        read(projectId, address),
        (found) =>
          run(
            found === null ? idKey(projectId, address.contactId) : Contact.emailKey(found.projectId, found.email),
            found
          )
      )
    }

    // Expired records go in the background: an append never waits for the sweep.
    const sweep = (millis: number) => {
      if (millis - lastSweep < SweepEveryMillis) return Effect.void
      lastSweep = millis
      return Effect.asVoid(
        Effect.forkDaemon(Effect.ignore(store.expireIdempotency(new Date(millis - ttlSeconds * 1000))))
      )
    }

    const attemptAll = <Command, DecideContext, R>(
      handling: Handling<Command, DecideContext>,
      projectId: string,
      commands: ReadonlyArray<Command>,
      keys: ReadonlyArray<string>,
      finish: (decided: ReadonlyArray<Decided>) => R,
      idempotency: Idempotency.Request<R> | undefined,
      attempts: number
    ): Effect.Effect<Outcome<R>, HandleAllError> =>
      Effect.gen(function*() {
        const millis = yield* now
        // Each contact's state once (the cache, else the store: one call for all the others),
        // read at the same time as the idempotency record: a round trip less for a request with
        // a key.
        const initial = new Map<string, Contact.State>()
        const missing = new Map<string, string>()
        commands.forEach((command, i) => {
          const key = keys[i]!
          if (initial.has(key) || missing.has(key)) return
          const cached = known.get(key)
          if (cached !== undefined) initial.set(key, cached)
          else missing.set(key, emailOf(handling, command))
        })
        const states = missing.size === 0
          ? Effect.void
          : Effect.map(contacts.findManyByEmail(projectId, [...missing.values()]), (found) => {
            let i = 0
            for (const key of missing.keys()) initial.set(key, Option.getOrNull(found[i++]!))
          })
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
        const at = new Date(millis)
        const decided = commands.map((command, i): Decided => {
          const key = keys[i]!
          const state = current.get(key)!
          const decision = handling.decider.decide(
            command,
            state,
            handling.context(projectId, state, at, () => ids.make(millis), undefined)
          )
          // A handling run together never refuses (its `Refusal` is `never`).
          const list = decision._tag === "Right" ? decision.right : []
          const next = Decider.fold(handling.decider, list, state)
          current.set(key, next)
          const newEvents = list.map((event) => ({ id: ids.make(millis), event }))
          // A copy: `newEvents` is this command's own answer, and later commands of the same
          // contact extend the stream's list.
          const pending = events.get(key)
          if (pending === undefined) events.set(key, [...newEvents])
          else pending.push(...newEvents)
          return { streamId: next?.id ?? state?.id ?? "", events: newEvents, state: next, at }
        })
        const appends: Array<EventStore.Append> = []
        for (const [key, list] of events) {
          if (list.length === 0) continue
          const contact = current.get(key)!
          if (contact === null) return yield* Effect.dieMessage("CommandHandler.handleAll: a stream ended in a batch")
          appends.push({
            streamId: contact.id,
            expectedVersion: initial.get(key)?.version ?? 0,
            events: list,
            projection: { _tag: "Upsert", contact }
          })
        }
        const result = finish(decided)
        const answer = idempotency?.render(result)
        const record: Idempotency.Record | undefined = idempotency === undefined ? undefined : {
          projectId,
          key: idempotency.key,
          fingerprint: idempotency.fingerprint,
          answer: answer!,
          contactIds: appends.map((a) => a.streamId),
          createdAt: at
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

    const handleAll = <Command, DecideContext, R>(
      handling: Handling<Command, DecideContext>,
      projectId: string,
      commands: ReadonlyArray<Command>,
      finish: (decided: ReadonlyArray<Decided>) => R,
      idempotency?: Idempotency.Request<R> | undefined
    ) => {
      const keys = commands.map((command) => Contact.emailKey(projectId, emailOf(handling, command)))
      // Every contact's lock and the idempotency key's, when there is one, taken at once in one
      // global order, so two batches cannot wait on each other (see `KeyedLock`).
      const locks = idempotency === undefined ? keys : [...keys, `\u0001${projectId}\u0000${idempotency.key}`]
      return serialized.all(locks, attemptAll(handling, projectId, commands, keys, finish, idempotency, 1))
    }

    return CommandHandler.of({ handle, handleAll, cacheStats: known.stats })
  })

// Commands run together are addressed by email: their contacts are read in one call.
const emailOf = <Command, DecideContext>(handling: Handling<Command, DecideContext>, command: Command): string => {
  const address = handling.address(command)
  if (address._tag !== "Email")
    throw new Error("CommandHandler.handleAll: commands run together are addressed by email")
  return address.email
}

const projectionOf = <Command, DecideContext, Refusal, Extra>(
  handling: Handling<Command, DecideContext, Refusal, Extra>,
  projectId: string,
  command: Command,
  next: Contact.State,
  decided: Decided
): EventStore.Projection => {
  if (handling.project !== undefined) return handling.project(projectId, command, next)
  if (next === null) throw new Error(`CommandHandler: stream ${decided.streamId} ends without a projection change`)
  return { _tag: "Upsert", contact: next }
}

/** The handler over the store ports, with default options. */
export const layer: Layer.Layer<CommandHandler, never, EventStore.EventStore | Contacts.Contacts | Ids.Ids> = Layer
  .effect(CommandHandler, make())

/** The handler with the given options. */
export const layerWith = (
  options: Options
): Layer.Layer<CommandHandler, never, EventStore.EventStore | Contacts.Contacts | Ids.Ids> =>
  Layer.effect(CommandHandler, make(options))
