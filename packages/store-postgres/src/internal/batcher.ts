import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"

/** What one batch answers for each of its items, in order. */
export type Outcomes<O, E> = ReadonlyArray<Exit.Exit<O, E>>

/**
 * Group commit: calls that arrive while a batch is in flight wait and go together in the next
 * one. Nothing waits on a timer: an idle batcher sends at once, and under load a batch holds
 * whatever arrived during the previous round trip, so the added latency is at most one round
 * trip. Items that share a key with one already in the batch (the same stream twice) wait for
 * the next batch. A caller that gives up (interrupted, say by a request deadline) before its
 * item was taken takes the item back: it is never sent.
 */
export const make = <I, O, E>(options: {
  readonly maxSize: number
  readonly maxInFlight: number
  /** Most items waiting; past it a call fails at once with `overflow()`. */
  readonly maxQueued: number
  readonly overflow: () => E
  readonly run: (batch: ReadonlyArray<I>) => Effect.Effect<Outcomes<O, E>, E>
  readonly keyOf?: (item: I) => ReadonlyArray<string>
  /** Told the size of every batch sent (metrics). */
  readonly onBatch?: ((size: number) => void) | undefined
  /**
   * Starts a batch's fiber; by default on Effect's default runtime. The store passes the runtime
   * that built it, so its flags hold (a server turns Effect's fiber metrics off).
   */
  readonly runFork?: (<A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>) | undefined
}) => {
  const runFork = options.runFork ?? Effect.runFork
  interface Entry {
    readonly item: I
    readonly resume: (exit: Exit.Exit<O, E>) => void
  }
  const queue: Array<Entry> = []
  let inFlight = 0

  const take = (): Array<Entry> => {
    if (options.keyOf === undefined) return queue.splice(0, options.maxSize)
    const taken: Array<Entry> = []
    const keys = new Set<string>()
    for (let i = 0; i < queue.length && taken.length < options.maxSize;) {
      const entry = queue[i]!
      const entryKeys = options.keyOf(entry.item)
      if (entryKeys.some((k) => keys.has(k))) {
        i++
        continue
      }
      for (const k of entryKeys) keys.add(k)
      taken.push(entry)
      queue.splice(i, 1)
    }
    return taken
  }

  const pump = () => {
    while (inFlight < options.maxInFlight && queue.length > 0) {
      const batch = take()
      inFlight++
      options.onBatch?.(batch.length)
      // Suspended: a batch that throws while being built fails like any other, and still
      // releases its slot and answers its callers.
      const fiber = runFork(Effect.suspend(() => options.run(batch.map((e) => e.item))))
      fiber.addObserver((exit) => {
        inFlight--
        if (Exit.isSuccess(exit)) batch.forEach((entry, i) => entry.resume(exit.value[i]!))
        else batch.forEach((entry) => entry.resume(exit as Exit.Exit<never, E>))
        pump()
      })
    }
  }

  return (item: I): Effect.Effect<O, E> =>
    Effect.async<O, E>((resume) => {
      if (queue.length >= options.maxQueued) return resume(Effect.fail(options.overflow()))
      const entry: Entry = { item, resume: (exit) => resume(exit) }
      queue.push(entry)
      pump()
      return Effect.sync(() => {
        const at = queue.indexOf(entry)
        if (at !== -1) queue.splice(at, 1)
      })
    })
}
