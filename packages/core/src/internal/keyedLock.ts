import * as Effect from "effect/Effect"

/**
 * One-at-a-time per key, within this process. Commands on one contact queue here instead of
 * racing each other to the store; a key's entry lives while someone holds it.
 *
 * Not a `Semaphore` per key: that cost ~11 µs per command, half of a whole in-memory track. A key
 * that is free is taken without suspending; waiters queue in FIFO order and the lock is handed to
 * the next one directly on release.
 */
export const make = () => {
  // Present = held; the array holds the waiters, made only when someone has to wait.
  const held = new Map<string, Array<() => void> | null>()

  const release = (key: string) => {
    const waiters = held.get(key)
    const next = waiters?.shift()
    if (next === undefined) held.delete(key)
    else next()
  }

  const acquire = (key: string) =>
    Effect.async<void>((resume) => {
      let granted = false
      const wake = () => {
        granted = true
        resume(Effect.void)
      }
      let waiters = held.get(key)
      if (waiters === null || waiters === undefined) {
        waiters = []
        held.set(key, waiters)
      }
      waiters.push(wake)
      // Interrupted while waiting: leave the queue, or pass on a key handed over meanwhile.
      return Effect.sync(() => {
        if (granted) return release(key)
        const queue = held.get(key)
        const at = queue?.indexOf(wake) ?? -1
        if (at !== -1) queue!.splice(at, 1)
      })
    })

  // The release runs in the exit handlers themselves, not as an `ensuring` finalizer: `release`
  // cannot fail, and `ensuring` would add its own mask and three more steps to every command.
  const one = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) => {
      const run = Effect.matchCauseEffect(restore(effect), {
        onFailure: (cause) => {
          release(key)
          return Effect.failCause(cause)
        },
        onSuccess: (value) => {
          release(key)
          return Effect.succeed(value)
        }
      })
      if (!held.has(key)) {
        held.set(key, null)
        return run
      }
      return Effect.zipRight(restore(acquire(key)), run)
    })

  /**
   * Runs `effect` holding every key of `keys` (a batch's contacts). The keys are taken one by one
   * in sorted order, in one suspension instead of one nested lock (and fiber step) per key: free
   * ones at once, a held one by queueing for it and going on from the hand-over. No deadlock:
   * everyone waits for a key only while holding smaller ones (a single key holds nothing else), so
   * a cycle of waiters would need k₁ < k₂ < … < k₁.
   */
  const all = <A, E, R>(keys: Iterable<string>, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const sorted = [...new Set(keys)].sort()
    if (sorted.length === 1) return one(sorted[0]!, effect)
    return Effect.uninterruptibleMask((restore) => {
      // The keys held: always the first `taken` of `sorted`.
      let taken = 0
      const take = Effect.async<void>((resume) => {
        let waiting: { readonly key: string; readonly wake: () => void } | undefined
        const step = () => {
          while (taken < sorted.length) {
            const key = sorted[taken]!
            let waiters = held.get(key)
            if (waiters === undefined) {
              held.set(key, null)
              taken++
              continue
            }
            if (waiters === null) {
              waiters = []
              held.set(key, waiters)
            }
            // Handed over by its holder's release: the key is ours, go on with the next.
            const wake = () => {
              waiting = undefined
              taken++
              step()
            }
            waiting = { key, wake }
            waiters.push(wake)
            return
          }
          resume(Effect.void)
        }
        step()
        // Interrupted while waiting: leave that queue; the keys taken go in `done`.
        return Effect.sync(() => {
          if (waiting === undefined) return
          const queue = held.get(waiting.key)
          const at = queue?.indexOf(waiting.wake) ?? -1
          if (at !== -1) queue!.splice(at, 1)
        })
      })
      const done = Effect.sync(() => {
        while (taken > 0) release(sorted[--taken]!)
      })
      return Effect.ensuring(Effect.zipRight(restore(take), restore(effect)), done)
    })
  }

  return Object.assign(one, { all })
}
