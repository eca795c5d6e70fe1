/**
 * The memory store's idempotency records (behaviour §6): stored by the append that carries them,
 * found and expired by `EventStore`'s `findIdempotency` and `expireIdempotency`, and trimmed when
 * a contact they name is erased (behaviour §7).
 */
import type * as EventStore from "@tracklog/core/EventStore"
import * as Idempotency from "@tracklog/core/Idempotency"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as State from "./state.js"

const keyOf = (projectId: string, key: string) => `${projectId}\u0000${key}`

/** Whether a record is stored for the project's key, expired or not: its key is taken until it is removed. */
export const isStored = (state: State.State, projectId: string, key: string): boolean =>
  state.idempotency.has(keyOf(projectId, key))

/** Stores a record, in the step of the append that carries it. */
export const put = (state: State.State, record: Idempotency.Record): void => {
  state.idempotency.set(keyOf(record.projectId, record.key), record)
}

/**
 * Takes an erased contact out of the project's records, in the erasure's step: a record of its
 * tracks alone goes, one that names other contacts too (a batch's) stays without it, so a retry
 * of that batch tracks nothing twice (docs/decisions/0029-erasure-keeps-shared-batch-records.md).
 */
export const withoutContact = (state: State.State, projectId: string, contactId: string): void => {
  for (const [at, record] of state.idempotency) {
    if (record.projectId !== projectId) continue
    const kept = Idempotency.withoutContact(record, contactId)
    if (kept === undefined) state.idempotency.delete(at)
    else if (kept !== record) state.idempotency.set(at, kept)
  }
}

/** The records' part of the `EventStore` port. */
export const make = (
  state: State.State
): Pick<EventStore.EventStore["Type"], "findIdempotency" | "expireIdempotency"> => ({
  // An expired record is removed as it is found, so its key is free again.
  findIdempotency: (projectId, key, notBefore) =>
    Effect.sync(() => {
      const at = keyOf(projectId, key)
      const record = state.idempotency.get(at)
      if (record === undefined) return Option.none()
      if (Idempotency.isLive(record, notBefore)) return Option.some(record)
      state.idempotency.delete(at)
      return Option.none()
    }),
  expireIdempotency: (before) =>
    Effect.sync(() => {
      let removed = 0
      for (const [at, record] of state.idempotency) {
        if (!Idempotency.isLive(record, before)) {
          state.idempotency.delete(at)
          removed++
        }
      }
      return removed
    })
})
