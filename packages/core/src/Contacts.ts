/**
 * Reads of the contact projection (behaviour §3): the port every store implements. Every read is
 * scoped to a project, so one project never sees another's contacts.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Contact from "./Contact.js"
import * as ContactEvent from "./ContactEvent.js"
import * as EventStore from "./EventStore.js"
import type * as Json from "./Json.js"
import type * as StoreError from "./StoreError.js"

/** No contact with this id in this project. */
export class ContactNotFound extends Schema.TaggedError<ContactNotFound>()("ContactNotFound", {
  contactId: Schema.String
}) {}

/** A page request: `cursor` is the opaque value a previous page returned. */
export interface PageRequest {
  readonly limit: number
  readonly cursor?: string | undefined
}

/** A page: `cursor` is set exactly when `hasMore` is. */
export interface Page<A> {
  readonly data: ReadonlyArray<A>
  readonly cursor?: string
  readonly hasMore: boolean
}

/** An event as the read API shows it: tracked events and subscription flips. */
export interface TimelineEvent {
  readonly id: string
  readonly name: string
  readonly data: Json.JsonObject
  readonly createdAt: Date
}

/** Reads of the projection. */
export class Contacts extends Context.Tag("@tracklog/core/Contacts")<Contacts, {
  readonly findById: (
    projectId: string,
    contactId: string
  ) => Effect.Effect<Option.Option<Contact.Contact>, StoreError.StoreUnavailable>
  /** By canonical email. */
  readonly findByEmail: (
    projectId: string,
    email: string
  ) => Effect.Effect<Option.Option<Contact.Contact>, StoreError.StoreUnavailable>
  /** By canonical emails, in one call (a batch's contacts): one answer per email, in their order. */
  readonly findManyByEmail: (
    projectId: string,
    emails: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyArray<Option.Option<Contact.Contact>>, StoreError.StoreUnavailable>
  /** Oldest first, by id. */
  readonly list: (
    projectId: string,
    page: PageRequest
  ) => Effect.Effect<Page<Contact.Contact>, StoreError.StoreUnavailable>
  /** Newest first. */
  readonly timeline: (
    projectId: string,
    contactId: string,
    page: PageRequest
  ) => Effect.Effect<Page<TimelineEvent>, ContactNotFound | StoreError.StoreUnavailable>
}>() {}

/** Builds a page from up to `limit + 1` rows: the extra row only says there is more. */
export const page = <A>(rows: ReadonlyArray<A>, limit: number, cursorOf: (a: A) => string): Page<A> => {
  if (rows.length <= limit) return { data: rows, hasMore: false }
  const data = rows.slice(0, limit)
  return { data, hasMore: true, cursor: cursorOf(data[data.length - 1]!) }
}

/** The timeline form of a recorded event the read API shows (see `ContactEvent.visibleName`). */
export const toTimelineEvent = (recorded: EventStore.RecordedEvent): TimelineEvent => {
  const event = recorded.event
  return {
    id: recorded.id,
    name: ContactEvent.visibleName(event) ?? event._tag,
    data: event._tag === "EventTracked" ? event.data : {},
    createdAt: event.at
  }
}

/**
 * A contact as it was at `at` (behaviour §5.2), read from the log, not the projection: its stream
 * folded up to then (`Contact.asOf`). None when it did not exist yet, or is another project's.
 */
export const findAt = (
  projectId: string,
  contactId: string,
  at: Date
): Effect.Effect<Option.Option<Contact.Contact>, StoreError.StoreUnavailable, EventStore.EventStore> =>
  Effect.flatMap(
    EventStore.EventStore,
    (store) =>
      Effect.map(store.readStream(contactId), (stream) => Option.fromNullable(Contact.asOf(stream, projectId, at)))
  )
