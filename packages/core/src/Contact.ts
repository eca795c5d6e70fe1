/**
 * A contact: the projection of its event stream. `evolve` is a total fold with no rules in it;
 * the rules live in `TrackDecider.decide`.
 */
import type * as ContactEvent from "./ContactEvent.js"
import * as Json from "./Json.js"

/** The state of a contact after `version` events. */
export interface Contact {
  readonly id: string
  readonly projectId: string
  readonly email: string
  readonly subscribed: boolean
  readonly data: Json.JsonObject
  readonly createdAt: Date
  readonly updatedAt: Date
  /** The number of events folded into this state: the stream version it was read at. */
  readonly version: number
}

/** A stream that has not started yet has no contact. */
export type State = Contact | null

/** The state before the first event. */
export const initialState: State = null

/** Applies one event to a state. */
export const evolve = (state: State, event: ContactEvent.ContactEvent): State => {
  if (event._tag === "ContactCreated") {
    return {
      id: event.contactId,
      projectId: event.projectId,
      email: event.email,
      subscribed: event.subscribed,
      data: {},
      createdAt: event.at,
      updatedAt: event.at,
      version: (state?.version ?? 0) + 1
    }
  }
  if (state === null) return state
  switch (event._tag) {
    case "SubscriptionChanged":
      return { ...state, subscribed: event.subscribed, updatedAt: event.at, version: state.version + 1 }
    case "ContactDataChanged":
      return { ...state, data: patch(state.data, event.set, event.unset), updatedAt: event.at, version: state.version + 1 }
    case "EventTracked":
      return { ...state, version: state.version + 1 }
  }
}

/** Folds events from a state. */
export const fold = (events: Iterable<ContactEvent.ContactEvent>, state: State = initialState): State => {
  let current = state
  for (const event of events) current = evolve(current, event)
  return current
}

// A Map keeps a replaced key where it was and appends new keys, which is the order SPEC §1.5 promises.
const patch = (data: Json.JsonObject, set: Json.JsonObject, unset: ReadonlyArray<string>): Json.JsonObject => {
  const next = new Map(Object.entries(data))
  for (const [key, value] of Object.entries(set)) next.set(key, value)
  for (const key of unset) next.delete(key)
  return Json.fromEntries(next)
}
