/**
 * `decide`: every rule of behaviour §1.4–§1.6, pure. Given a valid command and the contact's current
 * state, returns the events to append. Time and ids are inputs.
 */
import type * as Contact from "./Contact.js"
import * as ContactEvent from "./ContactEvent.js"
import * as Json from "./Json.js"
import * as TrackCommand from "./TrackCommand.js"

/** What `decide` needs besides the command and the state. */
export interface Context {
  readonly projectId: string
  /** The id the contact gets if this command creates it. */
  readonly contactId: string
  readonly now: Date
}

/**
 * The events of one track command, in append order: `ContactCreated` when the contact is new, a
 * `SubscriptionChanged` on an actual flip, a `ContactDataChanged` when the data changes, and
 * always the `EventTracked` last.
 */
export const decide = (
  command: TrackCommand.TrackCommand,
  state: Contact.State,
  context: Context
): Array<ContactEvent.ContactEvent> => {
  const at = context.now
  const events: Array<ContactEvent.ContactEvent> = []
  if (state === null) {
    events.push(ContactEvent.trusted.ContactCreated({
      contactId: context.contactId,
      projectId: context.projectId,
      email: command.email,
      subscribed: command.subscribed ?? true,
      at
    }))
  } else if (flipsSubscription(command, state)) {
    events.push(ContactEvent.trusted.SubscriptionChanged({ subscribed: !state.subscribed, at }))
  }
  const change = dataChange(command.data ?? {}, state?.data ?? {})
  if (change !== undefined) events.push(ContactEvent.trusted.ContactDataChanged({ ...change, at }))
  events.push(ContactEvent.trusted.EventTracked({ name: command.event, data: command.data ?? {}, at }))
  return events
}

// Omitting `subscribed` is not `false`; `preserveExistingSubscription` keeps an existing state (Plunk #370).
const flipsSubscription = (command: TrackCommand.TrackCommand, state: Contact.Contact): boolean =>
  command.preserveExistingSubscription !== true &&
  command.subscribed !== undefined &&
  command.subscribed !== state.subscribed

/** `{ value, persistent }` and nothing else: a wrapped value, stored unwrapped or not at all. */
export const isWrapped = (value: Json.Json): value is { readonly value: Json.Json; readonly persistent: boolean } => {
  if (!Json.isObject(value)) return false
  const keys = Object.keys(value)
  return keys.length === 2 && Object.hasOwn(value, "value") && typeof value["persistent"] === "boolean"
}

/** The merge table of behaviour §1.5 against the current data; `undefined` when nothing changes. */
export const dataChange = (
  incoming: Json.JsonObject,
  current: Json.JsonObject
): { set: Json.JsonObject; unset: Array<string> } | undefined => {
  const set: Array<[string, Json.Json]> = []
  const unset: Array<string> = []
  for (const [key, raw] of Object.entries(incoming)) {
    if (TrackCommand.ReservedDataKeys.has(key) || raw === "") continue
    if (raw === null) {
      if (Object.hasOwn(current, key)) unset.push(key)
      continue
    }
    let value: Json.Json = raw
    if (isWrapped(raw)) {
      if (!raw.persistent) continue
      value = raw.value
    }
    if (Object.hasOwn(current, key) && Json.equals(current[key] as Json.Json, value)) continue
    set.push([key, value])
  }
  return set.length === 0 && unset.length === 0 ? undefined : { set: Json.fromEntries(set), unset }
}
