import * as Effect from "effect/Effect"

/**
 * One-at-a-time per key, within this process. Commands on one contact queue here instead of
 * racing each other to the store; entries are dropped when their last user leaves.
 */
export const make = () => {
  const locks = new Map<string, { readonly semaphore: Effect.Semaphore; users: number }>()
  return <A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      let entry = locks.get(key)
      if (entry === undefined) {
        entry = { semaphore: Effect.unsafeMakeSemaphore(1), users: 0 }
        locks.set(key, entry)
      }
      const lock = entry
      lock.users++
      return lock.semaphore.withPermits(1)(effect).pipe(
        Effect.ensuring(Effect.sync(() => {
          if (--lock.users === 0) locks.delete(key)
        }))
      )
    })
}
