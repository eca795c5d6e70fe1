/**
 * The log, read live (behaviour §5.3): a catch-up-then-live `Stream` of recorded events after a
 * checkpoint, for one project or the whole log. A store provides a `LogSource` (a gap-safe page
 * read, the head of the log, lag, and a wake-up signal); the stream itself is store-agnostic.
 */
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as EventStore from "./EventStore.js"
import * as Digest from "./internal/digest.js"
import type * as StoreError from "./StoreError.js"

/** Where a reader stands against the log: how far behind it is. */
export interface Lag {
  /** Events after the checkpoint, committed or held back behind an older open transaction. */
  readonly events: number
  /** Time of the oldest of those events; none when the reader is level with the log. */
  readonly oldestAt: Option.Option<Date>
}

/**
 * Wakes readers when the log may have grown. `version` changes on every `notify`; a reader takes
 * it before it reads, and `await`s it after an empty read: a notify in between is never lost.
 */
export interface Signal {
  readonly version: () => number
  readonly notify: () => void
  /** Resolves once the version differs from `seen`. */
  readonly await: (seen: number) => Effect.Effect<void>
}

/** A signal for the appends of this process (no database round trip). */
export const makeSignal = (): Signal => {
  let version = 0
  const waiting = new Set<() => void>()
  return {
    version: () => version,
    notify: () => {
      version++
      if (waiting.size === 0) return
      const resumes = [...waiting]
      waiting.clear()
      for (const resume of resumes) resume()
    },
    await: (seen) =>
      Effect.async<void>((resume) => {
        if (version !== seen) return resume(Effect.void)
        const wake = () => resume(Effect.void)
        waiting.add(wake)
        return Effect.sync(() => waiting.delete(wake))
      })
  }
}

/**
 * Which log a cursor belongs to (behaviour §5.1; docs/decisions/0033-cursors-name-their-log.md).
 * Positions mean nothing outside the log that numbered them: an import numbers the log anew.
 */
export interface Identity {
  /**
   * The log's epoch, 16 lowercase hex digits: random, made when the store is created (the memory
   * store: when its layer is built), the same for every process on the store, and kept by an
   * import into it. Every cursor the store hands out names it.
   */
  readonly epoch: string
  /**
   * Whether a cursor without an epoch (`<tx>-<pos>`, as versions before epochs wrote them) may be
   * one of this log: only a store that held events before it had an epoch can have handed it out.
   */
  readonly legacyCursors: boolean
}

/** A new epoch: 64 random bits as 16 lowercase hex digits. */
export const newEpoch = (): string => Digest.hex(crypto.getRandomValues(new Uint8Array(8)))

/** What a store implements for live reads. */
export class LogSource extends Context.Tag("@tracklog/core/LogStream/LogSource")<LogSource, {
  /** Which log this is: what every cursor of it names. */
  readonly identity: Identity
  /**
   * Up to `limit` events after the checkpoint, in log order, of one project or (when `projectId`
   * is undefined) the whole log; gap-safe, and bounded by `maxBytes`, as `EventStore.readAll`.
   */
  readonly read: (
    after: EventStore.Checkpoint,
    limit: number,
    projectId: string | undefined,
    maxBytes?: number
  ) => Effect.Effect<EventStore.Batch, StoreError.StoreUnavailable>
  /** The checkpoint of the last event a reader can see now: where "from now" starts. */
  readonly head: (projectId: string | undefined) => Effect.Effect<EventStore.Checkpoint, StoreError.StoreUnavailable>
  /** How far a reader at `after` is behind. */
  readonly lag: (
    after: EventStore.Checkpoint,
    projectId: string | undefined
  ) => Effect.Effect<Lag, StoreError.StoreUnavailable>
  /** Notified by this process's appends. */
  readonly signal: Signal
  /**
   * How often an idle reader reads again anyway: for other processes' appends, and for events
   * held back behind a transaction that was open at the last read.
   */
  readonly pollInterval: Duration.Duration
}>() {}

/** One item of a live stream: an event, or the news that the reader has read all there is. */
export type Item =
  | { readonly _tag: "Event"; readonly event: EventStore.RecordedEvent }
  | { readonly _tag: "CaughtUp"; readonly checkpoint: EventStore.Checkpoint }

/** How to read. */
export interface Options {
  /** Resume strictly after this checkpoint (default: the start of the log). */
  readonly after?: EventStore.Checkpoint | undefined
  /** Only this project's events (default: the whole log). */
  readonly projectId?: string | undefined
  /** Events per page read (default 1000). */
  readonly batchSize?: number | undefined
  /** Payload bytes per page read, at most (see `EventStore.readAll`; default: no bound). */
  readonly maxBytes?: number | undefined
}

interface Reader {
  readonly checkpoint: EventStore.Checkpoint
  readonly caughtUp: boolean
}

/**
 * The log from a checkpoint: every event once, in log order, then live. A `CaughtUp` item follows
 * each time the reader has read all that is visible (once per catch-up, not per idle poll).
 */
export const items = (options: Options = {}): Stream.Stream<Item, StoreError.StoreUnavailable, LogSource> =>
  Stream.unwrap(Effect.map(LogSource, (source) => {
    const limit = options.batchSize ?? 1000
    const step = (reader: Reader): Effect.Effect<readonly [Chunk.Chunk<Item>, Reader], StoreError.StoreUnavailable> =>
      Effect.suspend(() => {
        // Taken before the read: an append that lands after the read still wakes the wait below.
        const seen = source.signal.version()
        return Effect.flatMap(source.read(reader.checkpoint, limit, options.projectId, options.maxBytes), (batch) => {
          if (batch.events.length > 0) {
            const events = Chunk.unsafeFromArray(batch.events.map((event): Item => ({ _tag: "Event", event })))
            return Effect.succeed([events, { checkpoint: batch.checkpoint, caughtUp: false }] as const)
          }
          if (!reader.caughtUp) {
            return Effect.succeed(
              [Chunk.of<Item>({ _tag: "CaughtUp", checkpoint: reader.checkpoint }), {
                ...reader,
                caughtUp: true
              }] as const
            )
          }
          return source.signal.await(seen).pipe(
            Effect.timeoutOption(source.pollInterval),
            Effect.zipRight(step(reader))
          )
        })
      })
    return Stream.unfoldChunkEffect<Reader, Item, StoreError.StoreUnavailable, never>(
      { checkpoint: options.after ?? EventStore.start, caughtUp: false },
      (reader) => Effect.map(step(reader), Option.some)
    )
  }))

/** The log's events from a checkpoint, catch-up then live, without the `CaughtUp` items. */
export const events = (
  options: Options = {}
): Stream.Stream<EventStore.RecordedEvent, StoreError.StoreUnavailable, LogSource> =>
  Stream.filterMap(items(options), (item) => (item._tag === "Event" ? Option.some(item.event) : Option.none()))

/** The checkpoint of a recorded event. */
export const checkpointOf = (event: EventStore.Checkpoint): EventStore.Checkpoint => ({
  transactionId: event.transactionId,
  position: event.position
})

/** A cursor a client sent: the log it names (none for a legacy cursor) and the checkpoint in it. */
export interface Cursor {
  readonly epoch: string | undefined
  readonly checkpoint: EventStore.Checkpoint
}

const checkpointText = (checkpoint: EventStore.Checkpoint) =>
  `${checkpoint.transactionId.toString(36)}-${checkpoint.position.toString(36)}`

/**
 * A checkpoint of the log with this epoch as an opaque cursor (behaviour §5.1), `<epoch>.<tx>-<pos>`:
 * both parts of the checkpoint, since a position alone is not a safe resume point when transactions
 * commit out of order, and the log's epoch, since a checkpoint names an event of one log only.
 * No line breaks: it is an SSE `id:`.
 */
export const encodeCursor = (epoch: string, checkpoint: EventStore.Checkpoint): string =>
  `${epoch}.${checkpointText(checkpoint)}`

/**
 * A cursor `encodeCursor` made, or a legacy one (`<tx>-<pos>`, no epoch); none for anything else.
 * Only the one canonical spelling of each is a cursor.
 */
export const decodeCursor = (cursor: string): Option.Option<Cursor> => {
  const match = /^(?:([0-9a-f]{16})\.)?([0-9a-z]{1,13})-([0-9a-z]{1,13})$/.exec(cursor)
  if (match === null) return Option.none()
  const epoch = match[1]
  const checkpoint = { transactionId: parse36(match[2]!), position: parse36(match[3]!) }
  const text = checkpointText(checkpoint)
  // No leading zeros, and within the 64-bit columns.
  return (epoch === undefined ? text : `${epoch}.${text}`) === cursor && checkpoint.transactionId < 2n ** 63n &&
      checkpoint.position < 2n ** 63n
    ? Option.some({ epoch, checkpoint })
    : Option.none()
}

/**
 * Whether a cursor may name an event of the log with this identity: it names that log's epoch,
 * or it is a legacy cursor and the log may have handed such out. A cursor of another log (one
 * exported from it and imported here, say) never does: its positions are another numbering.
 */
export const belongsTo = (cursor: Cursor, identity: Identity): boolean =>
  cursor.epoch === undefined ? identity.legacyCursors : cursor.epoch === identity.epoch

const parse36 = (digits: string): bigint => {
  let n = 0n
  for (const d of digits) n = n * 36n + BigInt(parseInt(d, 36))
  return n
}

/** The poll interval of a store that is not told otherwise (docs/decisions/0010-log-wake-up.md). */
export const DefaultPollInterval = Duration.millis(200)
