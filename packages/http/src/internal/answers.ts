import * as PerTurn from "./perTurn.js"

/** Something a transport writes: an answer on its connection. */
export interface Write {
  write(): void
}

/**
 * Answers are written together at the end of the event-loop turn, not one by one as handlers
 * finish. A client reading many connections (a load balancer, a benchmark, a busy SDK) then wakes
 * once for a batch instead of once per answer; on a small machine that wake-up is the largest
 * cost of a small answer (docs/decisions/0008-answers-written-per-loop-turn.md). The wait is at
 * most the rest of the current turn. Queued as objects with a `write` method, not closures: a
 * transport queues its per-request object, and an answer costs no closure.
 */
export const make = <A extends Write>() => {
  const batches = PerTurn.make<A>((items) => {
    for (const item of items) {
      try {
        item.write()
      } catch {
        // A connection that broke meanwhile; the others still get their answers.
      }
    }
  })
  return { write: batches.add }
}
