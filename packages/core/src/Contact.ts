/**
 * A contact: the projection of its event stream. `evolve` is a total fold with no rules in it;
 * the rules live in `TrackDecider.decide`.
 */
import type * as ContactEvent from "./ContactEvent.js"
import type * as EventStore from "./EventStore.js"
import type * as Json from "./Json.js"

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

/**
 * The key of the one contact a project may have per canonical email (behaviour §1.4), for maps
 * and locks: `projectId \0 email` (neither can hold a NUL).
 */
export const emailKey = (projectId: string, email: string): string => `${projectId}\u0000${email}`

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
  // Nothing of an erased contact survives it, also when its log is replayed (behaviour §7).
  if (event._tag === "ContactErased" || state === null) return null
  switch (event._tag) {
    case "SubscriptionChanged":
      return { ...state, subscribed: event.subscribed, updatedAt: event.at, version: state.version + 1 }
    case "ContactDataChanged":
      return {
        ...state,
        data: patch(state.data, event.set, event.unset),
        updatedAt: event.at,
        version: state.version + 1
      }
    case "ContactEmailChanged":
      return { ...state, email: event.email, updatedAt: event.at, version: state.version + 1 }
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

/**
 * The contact as it was at `at` (behaviour §5.2): the events of its stream with a time ≤ `at`,
 * folded. None when it did not exist yet, and none for a stream of another project than
 * `projectId`: a contact id names no contact outside its project.
 */
export const asOf = (stream: ReadonlyArray<EventStore.RecordedEvent>, projectId: string, at: Date): State => {
  if (stream.length === 0 || stream[0]!.projectId !== projectId) return null
  const until = at.getTime()
  let current: State = initialState
  // Each event by its own time, not the first later one ending the fold: times come from the
  // clocks of the processes that appended them, which need not agree.
  for (const recorded of stream) {
    if (recorded.event.at.getTime() <= until) current = evolve(current, recorded.event)
  }
  return current
}

// Spread copies own keys as data properties (a `__proto__` key stays plain data) and keeps their
// order; a replaced key keeps its place and new keys are appended, the order behaviour §1.5 promises.
const patch = (data: Json.JsonObject, set: Json.JsonObject, unset: ReadonlyArray<string>): Json.JsonObject => {
  const next: Record<string, Json.Json> = { ...data }
  for (const key in set) {
    if (!Object.hasOwn(set, key)) continue
    // Assigning `__proto__` would set the prototype instead of a key.
    if (key === "__proto__")
      Object.defineProperty(next, key, { value: set[key], writable: true, enumerable: true, configurable: true })
    else next[key] = set[key]!
  }
  for (const key of unset) delete next[key]
  return next
}
