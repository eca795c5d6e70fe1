/**
 * Physical erasure of a contact (behaviour §7): the store port that forgets a person. The log is
 * append-only for everything else; this is its one deletion, and it leaves a marker.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as ContactEvent from "./ContactEvent.js"
import type * as EventStore from "./EventStore.js"
import type * as StoreError from "./StoreError.js"

/** What one erasure asks for. */
export interface Erase {
  readonly projectId: string
  /** The contact's id, which is its stream's id. */
  readonly streamId: string
  /** The stream version the erasure was decided on. */
  readonly expectedVersion: number
  /** The marker that takes the stream's next version: all the log keeps of the contact. */
  readonly marker: { readonly id: string; readonly event: ContactEvent.ContactErased }
  /** Also put the contact's email on the project's suppression list (as its keyed hash). */
  readonly suppress: boolean
}

/** Erasure. */
export class Erasure extends Context.Tag("@tracklog/core/Erasure")<Erasure, {
  /**
   * In one atomic step: removes the contact's projection row, every event of its stream and the
   * idempotency records of its tracks (one that names other contacts too stays, without this one:
   * decision 0029); suppresses its email when asked; appends the marker at
   * version `expectedVersion + 1`. The stream's version moves on, so a track decided on the old
   * contact conflicts, is decided again, and finds no contact. A stream that moved on, or whose
   * contact is not in the project any more, is a `ConcurrencyConflict` and nothing is written.
   */
  readonly erase: (input: Erase) => Effect.Effect<void, EventStore.ConcurrencyConflict | StoreError.StoreUnavailable>
}>() {}
