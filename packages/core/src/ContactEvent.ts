/**
 * The events of a contact stream. The log of these is the only source of truth; `Contact` is
 * their fold.
 */
import * as Schema from "effect/Schema"
import * as Json from "./Json.js"
import * as Timestamp from "./Timestamp.js"

/** A contact came into being, with its initial subscription state. */
export class ContactCreated extends Schema.TaggedClass<ContactCreated>()("ContactCreated", {
  contactId: Schema.String,
  projectId: Schema.String,
  email: Schema.String,
  subscribed: Schema.Boolean,
  at: Schema.Date
}) {}

/** An existing contact's subscription state flipped. */
export class SubscriptionChanged extends Schema.TaggedClass<SubscriptionChanged>()("SubscriptionChanged", {
  subscribed: Schema.Boolean,
  at: Schema.Date
}) {}

/** A shallow patch of the contact's data: `set` keys in input order, then `unset` keys removed. */
export class ContactDataChanged extends Schema.TaggedClass<ContactDataChanged>()("ContactDataChanged", {
  set: Json.Object,
  unset: Schema.Array(Schema.String),
  at: Schema.Date
}) {}

/**
 * The contact's email changed (behaviour §10): the canonical email it now has. Its claim on the
 * email moves with it: one contact per (project, canonical email) still holds.
 */
export class ContactEmailChanged extends Schema.TaggedClass<ContactEmailChanged>()("ContactEmailChanged", {
  email: Schema.String,
  at: Schema.Date
}) {}

/** A tracked event, with its name and its `data` exactly as sent (one-shot variables included). */
export class EventTracked extends Schema.TaggedClass<EventTracked>()("EventTracked", {
  name: Schema.String,
  data: Json.Object,
  at: Schema.Date
}) {}

/**
 * The contact was erased (behaviour §7): the only trace its stream keeps in the log. It carries no
 * personal data, only the contact's id and the time.
 */
export class ContactErased extends Schema.TaggedClass<ContactErased>()("ContactErased", {
  contactId: Schema.String,
  at: Schema.Date
}) {}

/** Any event of a contact stream. */
export const ContactEvent = Schema.Union(
  ContactCreated,
  SubscriptionChanged,
  ContactDataChanged,
  ContactEmailChanged,
  EventTracked,
  ContactErased
)
export type ContactEvent = typeof ContactEvent.Type
export type Encoded = typeof ContactEvent.Encoded

/** The event's tag, as stored in the log's `type` column. */
export type Type = ContactEvent["_tag"]

// The events a contact's timeline (behaviour §3) shows, and under what name: one table, from which
// both the name of an event and the list of types a store selects are read.
const Visible: { readonly [T in Type]?: (event: Extract<ContactEvent, { _tag: T }>) => string } = {
  EventTracked: (event) => event.name,
  SubscriptionChanged: (event) => (event.subscribed ? "contact.subscribed" : "contact.unsubscribed")
}

/** The name the read API shows for an event, or `undefined` for events that are not shown. */
export const visibleName = (event: ContactEvent): string | undefined =>
  (Visible[event._tag] as ((event: ContactEvent) => string) | undefined)?.(event)

/** The types `visibleName` shows: what a contact's event list (behaviour §3) holds. */
export const visibleTypes: ReadonlyArray<Type> = Object.keys(Visible) as Array<Type>

/**
 * Encodes an event to its JSON form: the schema's encoding written out (every append encodes its
 * events: ~0.5 µs here against ~1.8 µs through the schema). A property test holds the two to the
 * same answers.
 */
export const encode = (event: ContactEvent): Encoded => {
  const at = Timestamp.iso(event.at)
  // Keys in the schema's order (`_tag` last), so the stored text is what it always was.
  switch (event._tag) {
    case "ContactCreated":
      return {
        contactId: event.contactId,
        projectId: event.projectId,
        email: event.email,
        subscribed: event.subscribed,
        at,
        _tag: event._tag
      }
    case "SubscriptionChanged":
      return { subscribed: event.subscribed, at, _tag: event._tag }
    case "ContactDataChanged":
      return { set: event.set, unset: event.unset, at, _tag: event._tag }
    case "ContactEmailChanged":
      return { email: event.email, at, _tag: event._tag }
    case "EventTracked":
      return { name: event.name, data: event.data, at, _tag: event._tag }
    case "ContactErased":
      return { contactId: event.contactId, at, _tag: event._tag }
  }
}

const decodeWithSchema = Schema.decodeUnknownSync(ContactEvent)

/** Decodes an event from its JSON form; throws on anything else. */
export const decode = (u: unknown): ContactEvent => decodeWellFormed(u) ?? decodeWithSchema(u)

// An instance as the class's constructor would build it, without running the constructor: the
// constructor's bookkeeping (~0.5 µs even with validation off) is most of the cost of making an event.
const instance = <A extends object>(Class: { readonly prototype: A }, fields: NoInfer<A>): A =>
  Object.assign(Object.create(Class.prototype) as A, fields)

type Fields<A> = Omit<A, "_tag">

/**
 * Builds events from fields already known to be valid (`decide` makes them so, `decodeWellFormed`
 * checks them): the same instances as `new`, without its checks. Anything else should use the
 * class constructors.
 */
export const trusted = {
  ContactCreated: (fields: Fields<ContactCreated>): ContactCreated =>
    instance(ContactCreated, { _tag: "ContactCreated", ...fields }),
  SubscriptionChanged: (fields: Fields<SubscriptionChanged>): SubscriptionChanged =>
    instance(SubscriptionChanged, { _tag: "SubscriptionChanged", ...fields }),
  ContactDataChanged: (fields: Fields<ContactDataChanged>): ContactDataChanged =>
    instance(ContactDataChanged, { _tag: "ContactDataChanged", ...fields }),
  ContactEmailChanged: (fields: Fields<ContactEmailChanged>): ContactEmailChanged =>
    instance(ContactEmailChanged, { _tag: "ContactEmailChanged", ...fields }),
  EventTracked: (fields: Fields<EventTracked>): EventTracked =>
    instance(EventTracked, { _tag: "EventTracked", ...fields }),
  ContactErased: (fields: Fields<ContactErased>): ContactErased =>
    instance(ContactErased, { _tag: "ContactErased", ...fields })
}

/**
 * The schema's decoding for a well-formed encoded event, without its machinery (replaying a log
 * decodes every event: ~0.3 µs here against ~7 µs); `undefined` for anything else, which the
 * schema then decodes or rejects. A property test holds the two to the same answers.
 */
export const decodeWellFormed = (u: unknown): ContactEvent | undefined => {
  if (!Json.isObject(u) || typeof u["at"] !== "string") return undefined
  const at = new Date(u["at"])
  if (Number.isNaN(at.getTime())) return undefined
  switch (u["_tag"]) {
    case "EventTracked": {
      const { data, name } = u
      return typeof name === "string" && Json.isObject(data)
        ? trusted.EventTracked({ name, data, at })
        : undefined
    }
    case "ContactDataChanged": {
      const { set, unset } = u
      return Json.isObject(set) && Array.isArray(unset) && unset.every((k) => typeof k === "string")
        ? trusted.ContactDataChanged({ set, unset, at })
        : undefined
    }
    case "ContactEmailChanged":
      return typeof u["email"] === "string" ? trusted.ContactEmailChanged({ email: u["email"], at }) : undefined
    case "SubscriptionChanged":
      return typeof u["subscribed"] === "boolean"
        ? trusted.SubscriptionChanged({ subscribed: u["subscribed"], at })
        : undefined
    case "ContactCreated": {
      const { contactId, email, projectId, subscribed } = u
      return typeof contactId === "string" && typeof projectId === "string" && typeof email === "string" &&
          typeof subscribed === "boolean"
        ? trusted.ContactCreated({ contactId, projectId, email, subscribed, at })
        : undefined
    }
    case "ContactErased": {
      const { contactId } = u
      return typeof contactId === "string" ? trusted.ContactErased({ contactId, at }) : undefined
    }
    default:
      return undefined
  }
}
