/**
 * A log event as the outside sees it (behaviour §5.1): its type and its `data`, exactly the shapes
 * of the stream's table. The event stream sends them as frames and webhooks deliver the same `data`
 * (webhooks, §12), so both read them from here and cannot drift apart.
 */
import type * as ContactEvent from "./ContactEvent.js"
import type * as EventStore from "./EventStore.js"
import type * as Json from "./Json.js"
import * as Timestamp from "./Timestamp.js"

/** `contact.created`: the new contact and its initial subscription state. */
export interface ContactCreatedData {
  readonly id: string
  readonly contact: string
  readonly email: string
  readonly subscribed: boolean
  readonly timestamp: string
}

/** `contact.subscribed`, `contact.unsubscribed`: a flip of the contact's subscription state. */
export interface SubscriptionData {
  readonly id: string
  readonly contact: string
  readonly email: string
  readonly timestamp: string
}

/** `contact.updated`: a data change (`set`, `unset`), or an email change (the new `email`, nothing set). */
export interface ContactUpdatedData {
  readonly id: string
  readonly contact: string
  readonly email: string
  readonly set: Json.JsonObject
  readonly unset: ReadonlyArray<string>
  readonly timestamp: string
}

/** `event.tracked`: the tracked event's name and its `data` as sent (one-shot values included). */
export interface EventTrackedData {
  readonly id: string
  readonly contact: string
  readonly email: string
  readonly name: string
  readonly data: Json.JsonObject
  readonly timestamp: string
}

/** `contact.erased`: the contact's id and the time, no email and no data (behaviour §7). */
export interface ContactErasedData {
  readonly id: string
  readonly contact: string
  readonly timestamp: string
}

/** An event's type on the stream and its `data`. */
export type PublicEvent =
  | { readonly type: "contact.created"; readonly data: ContactCreatedData }
  | { readonly type: "contact.subscribed" | "contact.unsubscribed"; readonly data: SubscriptionData }
  | { readonly type: "contact.updated"; readonly data: ContactUpdatedData }
  | { readonly type: "event.tracked"; readonly data: EventTrackedData }
  | { readonly type: "contact.erased"; readonly data: ContactErasedData }

/** The types of the stream's `event:` lines. */
export type Type = PublicEvent["type"]

/** What `of` reads of a recorded event: a stored webhook message can give the same. */
export type Source = Pick<EventStore.RecordedEvent, "id" | "streamId" | "event">

/**
 * The public form of a recorded event, given its contact's email as of that event (`email`: the
 * email of the last `ContactCreated` / `ContactEmailChanged` before it). `undefined` for an event
 * that needs an email when none is known: its contact was erased since, and nothing of it is shown.
 * Keys are in the order the stream has always written them.
 */
export const of = (recorded: Source, email: string | undefined): PublicEvent | undefined => {
  const event = recorded.event
  const id = recorded.id
  const contact = recorded.streamId
  const timestamp = Timestamp.iso(event.at)
  switch (event._tag) {
    case "ContactCreated":
      return {
        type: "contact.created",
        data: { id, contact, email: event.email, subscribed: event.subscribed, timestamp }
      }
    case "SubscriptionChanged":
      if (email === undefined) return undefined
      return {
        type: event.subscribed ? "contact.subscribed" : "contact.unsubscribed",
        data: { id, contact, email, timestamp }
      }
    case "ContactDataChanged":
      if (email === undefined) return undefined
      return { type: "contact.updated", data: { id, contact, email, set: event.set, unset: event.unset, timestamp } }
    // An email change is a contact update too (behaviour §10): `email` is the new one.
    case "ContactEmailChanged":
      return { type: "contact.updated", data: { id, contact, email: event.email, set: {}, unset: [], timestamp } }
    case "EventTracked":
      if (email === undefined) return undefined
      return { type: "event.tracked", data: { id, contact, email, name: event.name, data: event.data, timestamp } }
    case "ContactErased":
      return { type: "contact.erased", data: { id, contact: event.contactId, timestamp } }
  }
}

/**
 * The contact's email after this event, given the one before it: what a reader of the log keeps
 * per contact to call `of` (a creation or an email change says it, an erasure forgets it).
 */
export const emailAfter = (event: ContactEvent.ContactEvent, before: string | undefined): string | undefined => {
  switch (event._tag) {
    case "ContactCreated":
    case "ContactEmailChanged":
      return event.email
    case "ContactErased":
      return undefined
    default:
      return before
  }
}
