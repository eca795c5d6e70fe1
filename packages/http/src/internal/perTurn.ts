/**
 * Collects items during an event-loop turn and delivers them together at its end (one
 * `setImmediate`), or at once on `flush`. Answers and log lines are written this way: many
 * requests, one wake-up of the reader.
 */
export const make = <A>(deliver: (batch: ReadonlyArray<A>) => void) => {
  let queued: Array<A> = []

  const flush = () => {
    if (queued.length === 0) return
    const batch = queued
    queued = []
    deliver(batch)
  }

  return {
    add: (item: A) => {
      if (queued.push(item) === 1) setImmediate(flush)
    },
    flush
  }
}
