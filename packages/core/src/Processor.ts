/**
 * Durable named processors (behaviour §5.3): a handler run over the log from a checkpoint kept in the
 * store under the processor's name, by one active instance per name across processes
 * (docs/decisions/0011-processor-checkpoints-and-instances.md).
 *
 * Delivery is at least once for outside effects: a batch whose checkpoint was not stored is
 * handled again. On Postgres a handler that writes through the store's `SqlClient` commits in the
 * same transaction as its checkpoint, so its own writes happen exactly once.
 */
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as EventStore from "./EventStore.js"
import * as Ids from "./Ids.js"
import * as LogStream from "./LogStream.js"
import type * as StoreError from "./StoreError.js"

/** The stored checkpoint moved, or the lease passed to another instance: nothing was committed. */
export class CheckpointConflict extends Schema.TaggedError<CheckpointConflict>()("CheckpointConflict", {
  name: Schema.String
}) {}

/** A handler kept failing on a batch: the processor stopped there, its checkpoint before it. */
export class ProcessorFailed extends Schema.TaggedError<ProcessorFailed>()("ProcessorFailed", {
  name: Schema.String,
  /** The first event of the batch that failed. */
  eventId: Schema.String,
  attempts: Schema.Number,
  reason: Schema.String
}) {}

/** A processor's row in the store. */
export interface Status {
  readonly checkpoint: EventStore.Checkpoint
  /** The instance holding the lease, when it has not expired. */
  readonly owner: Option.Option<string>
}

/** What a store implements for processors: checkpoints and leases, by name. */
export class ProcessorStore extends Context.Tag("@tracklog/core/Processor/ProcessorStore")<ProcessorStore, {
  /**
   * Takes the lease of `name` for `owner` for `ttl` when it is free, expired or already
   * `owner`'s (so it is also the heartbeat); the stored checkpoint when granted.
   */
  readonly claim: (
    name: string,
    owner: string,
    ttl: Duration.Duration
  ) => Effect.Effect<Option.Option<EventStore.Checkpoint>, StoreError.StoreUnavailable>
  /** Gives the lease up, if `owner` holds it. */
  readonly release: (name: string, owner: string) => Effect.Effect<void, StoreError.StoreUnavailable>
  /**
   * Runs `work` and moves the checkpoint from `from` to `to` if `owner` still holds the lease and
   * the checkpoint is still `from`; on Postgres in one transaction, so a failed compare-and-set
   * rolls `work`'s writes back.
   */
  readonly commit: <A, E, R>(
    name: string,
    owner: string,
    from: EventStore.Checkpoint,
    to: EventStore.Checkpoint,
    work: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | CheckpointConflict | StoreError.StoreUnavailable, R>
  readonly status: (name: string) => Effect.Effect<Option.Option<Status>, StoreError.StoreUnavailable>
}>() {}

/** A processor. */
export interface Config<E, R> {
  /** The name its checkpoint and lease are kept under. */
  readonly name: string
  /** Only this project's events (default: the whole log). */
  readonly projectId?: string | undefined
  /** Events per handler call, at most (default 100). */
  readonly batchSize?: number | undefined
  /** Payload bytes per handler call, at most (default: no bound; see `EventStore.readAll`). */
  readonly maxBytes?: number | undefined
  /** Handles events in log order; fails to have the batch retried. */
  readonly handle: (events: ReadonlyArray<EventStore.RecordedEvent>) => Effect.Effect<void, E, R>
  /** Runs after each batch's commit: what `handle` wrote is stored for good by then. */
  readonly committed?: Effect.Effect<void> | undefined
  /**
   * Whether `handle` has anything to do with events now (default: always). Asked when the processor becomes active and each time it has read all there is: while
   * the answer is no, it moves its checkpoint to the log's head every poll interval instead of
   * reading what it passes over (a webhook dispatcher with no endpoint). The head is taken before
   * each question, so no event appended after a yes is passed over.
   */
  readonly wanted?: Effect.Effect<boolean> | undefined
  /** How long a lease lasts without a heartbeat (default 5 s): a standby takes over after it. */
  readonly leaseTtl?: Duration.DurationInput | undefined
  /** Retries of a failing batch before the processor stops (default 5, backoff from 100 ms). */
  readonly retries?: number | undefined
  readonly retryBase?: Duration.DurationInput | undefined
  /** This instance's id (default: a new UUID). */
  readonly instanceId?: string | undefined
  /** Called when this instance becomes active or stops being so. */
  readonly onActive?: ((active: boolean) => void) | undefined
}

class LeaseLost extends Schema.TaggedError<LeaseLost>()("LeaseLost", {}) {}

// Read all there is, and `wanted` said no: the processor skips ahead instead of reading.
class Unwanted extends Schema.TaggedError<Unwanted>()("Unwanted", {}) {}

const newInstanceId = () => Ids.uuidv7(Date.now(), globalThis.crypto.getRandomValues(new Uint8Array(10)))

/**
 * Runs the processor until it fails: waits as a standby until it holds the lease, then handles
 * the log from its checkpoint, catch-up then live; goes back to standby if the lease is lost.
 * Fails with `ProcessorFailed` when a batch keeps failing (its checkpoint stays before it).
 */
export const run = <E, R>(
  config: Config<E, R>
): Effect.Effect<never, ProcessorFailed, R | ProcessorStore | LogStream.LogSource> =>
  Effect.gen(function*() {
    const store = yield* ProcessorStore
    const source = yield* LogStream.LogSource
    const wanted = config.wanted
    const owner = config.instanceId ?? newInstanceId()
    const ttl = Duration.decode(config.leaseTtl ?? Duration.seconds(5))
    const beat = Duration.divide(ttl, 4).pipe(Option.getOrElse(() => Duration.seconds(1)))
    const retries = config.retries ?? 5
    const retryBase = config.retryBase ?? Duration.millis(100)

    // Standby: try again every beat until the lease is ours; a store that cannot be reached is
    // the same as a lease held by another.
    const acquire: Effect.Effect<EventStore.Checkpoint> = store.claim(config.name, owner, ttl).pipe(
      Effect.orElseSucceed(() => Option.none<EventStore.Checkpoint>()),
      Effect.flatMap(Option.match({
        onSome: Effect.succeed,
        onNone: () => Effect.zipRight(Effect.sleep(beat), Effect.suspend(() => acquire))
      }))
    )

    const heartbeat = store.claim(config.name, owner, ttl).pipe(
      Effect.flatMap((granted) => (Option.isSome(granted) ? Effect.void : Effect.fail(new LeaseLost()))),
      // An unreachable store: the checkpoint's compare-and-set still guards every commit.
      Effect.catchTag("StoreUnavailable", () => Effect.void),
      Effect.repeat(Schedule.spaced(beat)),
      Effect.zipRight(Effect.never)
    )

    const process = (from: EventStore.Checkpoint) =>
      Effect.suspend(() => {
        let checkpoint = from
        const handleBatch = (events: ReadonlyArray<EventStore.RecordedEvent>) => {
          const last = events[events.length - 1]!
          const to = LogStream.checkpointOf(last)
          let attempts = 0
          return Effect.suspend(() => {
            attempts++
            return store.commit(config.name, owner, checkpoint, to, config.handle(events))
          }).pipe(
            Effect.mapError((e) => (e instanceof CheckpointConflict ? new LeaseLost() : e)),
            Effect.retry({
              schedule: Schedule.exponential(retryBase).pipe(Schedule.intersect(Schedule.recurs(retries))),
              while: (e) => !(e instanceof LeaseLost)
            }),
            Effect.mapError((e): LeaseLost | ProcessorFailed | StoreError.StoreUnavailable =>
              e instanceof LeaseLost || isStoreUnavailable(e)
                ? e
                : new ProcessorFailed({ name: config.name, eventId: events[0]!.id, attempts, reason: describe(e) })
            ),
            Effect.tap(() => Effect.sync(() => (checkpoint = to))),
            Effect.zipLeft(config.committed ?? Effect.void)
          )
        }
        const reading = Effect.suspend(() =>
          LogStream.items({
            after: checkpoint,
            projectId: config.projectId,
            batchSize: config.batchSize ?? 100,
            maxBytes: config.maxBytes
          }).pipe(
            Stream.mapError((e): LeaseLost | ProcessorFailed | StoreError.StoreUnavailable | Unwanted => e),
            Stream.runForEachChunk((
              chunk
            ): Effect.Effect<void, LeaseLost | ProcessorFailed | StoreError.StoreUnavailable | Unwanted, R> => {
              const events = Chunk.toReadonlyArray(chunk).flatMap((item) => (item._tag === "Event" ? [item.event] : []))
              if (events.length > 0) return handleBatch(events)
              // Caught up: a handler with nothing to do skips ahead until it has.
              return wanted === undefined
                ? Effect.void
                : Effect.flatMap(wanted, (yes) => yes ? Effect.void : new Unwanted())
            })
          )
        )
        // The head before the question: what is appended once the answer is yes is read.
        const skipping = (wanted: Effect.Effect<boolean>) =>
          Effect.gen(function*() {
            for (;;) {
              const head = yield* source.head(config.projectId)
              if (yield* wanted) return
              if (EventStore.isAfter(head, checkpoint)) {
                yield* store.commit(config.name, owner, checkpoint, head, Effect.void).pipe(
                  Effect.mapError((e) => (e instanceof CheckpointConflict ? new LeaseLost() : e))
                )
                checkpoint = head
              }
              yield* Effect.sleep(source.pollInterval)
            }
          })
        const turn: Effect.Effect<
          void,
          LeaseLost | ProcessorFailed | StoreError.StoreUnavailable,
          R | LogStream.LogSource
        > = reading.pipe(
          Effect.catchTag("Unwanted", () => Effect.zipRight(skipping(wanted!), Effect.suspend(() => turn)))
        )
        // Asked before the first read as well: a backlog with nothing to do is not read either.
        return wanted === undefined ? turn : Effect.zipRight(skipping(wanted), turn)
      })

    const active = Effect.gen(function*() {
      const from = yield* acquire
      config.onActive?.(true)
      return yield* Effect.raceFirst(process(from), heartbeat).pipe(
        Effect.ensuring(Effect.sync(() => config.onActive?.(false))),
        // Let a standby in at once, whatever ended this turn.
        Effect.ensuring(Effect.ignore(store.release(config.name, owner)))
      )
    })

    return yield* active.pipe(
      // A lost lease or an unreachable store: back to standby, then resume from the stored checkpoint.
      Effect.catchIf(
        (e): e is LeaseLost | StoreError.StoreUnavailable => !(e instanceof ProcessorFailed),
        () => Effect.sleep(beat)
      ),
      Effect.forever
    )
  }).pipe(Effect.tapError((e) => Effect.logError(`processor ${e.name} stopped at event ${e.eventId}: ${e.reason}`)))

const isStoreUnavailable = (e: unknown): e is StoreError.StoreUnavailable =>
  typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "StoreUnavailable"

const describe = (error: unknown): string => {
  if (error instanceof Error) return `${error.name}: ${error.message}`
  if (typeof error === "object" && error !== null && "_tag" in error) return String((error as { _tag: unknown })._tag)
  return String(error)
}

/** How far a processor is behind the log (behaviour §5.3): events after its checkpoint, and the oldest's age. */
export const lag = (name: string, projectId?: string) =>
  Effect.gen(function*() {
    const store = yield* ProcessorStore
    const source = yield* LogStream.LogSource
    const status = yield* store.status(name)
    const checkpoint = Option.match(status, {
      onNone: () => ({ transactionId: 0n, position: 0n }),
      onSome: (s) => s.checkpoint
    })
    return yield* source.lag(checkpoint, projectId)
  })
