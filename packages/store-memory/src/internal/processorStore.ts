/**
 * Processor checkpoints and leases in the memory store (behaviour §5.3): the `ProcessorStore` port.
 *
 * No transactions here: `work` runs, then the checkpoint moves if it still can. The memory store
 * is for one process, where the lease is only ever contended by fibers.
 */
import * as EventStore from "@tracklog/core/EventStore"
import * as Processor from "@tracklog/core/Processor"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as State from "./state.js"

/** The `ProcessorStore` of a memory store. */
export const make = (state: State.State): Processor.ProcessorStore["Type"] =>
  Processor.ProcessorStore.of({
    claim: (name, owner, ttl) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          const row = state.processors.get(name)
          if (row === undefined) {
            state.processors.set(name, {
              checkpoint: EventStore.start,
              owner,
              leaseUntil: now + Duration.toMillis(ttl)
            })
            return Option.some(EventStore.start)
          }
          if (row.owner !== undefined && row.owner !== owner && row.leaseUntil > now) return Option.none()
          row.owner = owner
          row.leaseUntil = now + Duration.toMillis(ttl)
          return Option.some(row.checkpoint)
        })),
    release: (name, owner) =>
      Effect.sync(() => {
        const row = state.processors.get(name)
        if (row !== undefined && row.owner === owner) row.owner = undefined
      }),
    // Uninterruptible: an interruption between `work` and the checkpoint would keep the one without
    // the other, and the next instance would do `work` again.
    commit: (name, owner, from, to, work) =>
      Effect.uninterruptible(Effect.flatMap(work, (a) =>
        Effect.flatMap(
          Effect.sync(() => {
            const row = state.processors.get(name)
            if (
              row === undefined || row.owner !== owner || row.checkpoint.transactionId !== from.transactionId ||
              row.checkpoint.position !== from.position
            ) return false
            row.checkpoint = to
            return true
          }),
          (moved) => (moved ? Effect.succeed(a) : Effect.fail(new Processor.CheckpointConflict({ name })))
        ))),
    status: (name) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          const row = state.processors.get(name)
          return row === undefined ? Option.none() : Option.some({
            checkpoint: row.checkpoint,
            owner: row.owner !== undefined && row.leaseUntil > now ? Option.some(row.owner) : Option.none<string>()
          })
        }))
  })
