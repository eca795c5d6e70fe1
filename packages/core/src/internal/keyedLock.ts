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

  return <A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) => {
      const done = Effect.sync(() => release(key))
      if (!held.has(key)) {
        held.set(key, null)
        return Effect.ensuring(restore(effect), done)
      }
      return Effect.zipRight(restore(acquire(key)), Effect.ensuring(restore(effect), done))
    })
}
