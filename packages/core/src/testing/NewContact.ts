/**
 * A fresh contact's first append, built by hand for the contract suites: its stream's start as
 * `EventStore.append` takes it, not yet sent.
 */
import * as Effect from "effect/Effect"
import * as Contact from "../Contact.js"
import * as ContactEvent from "../ContactEvent.js"
import type * as EventStore from "../EventStore.js"
import * as Ids from "../Ids.js"

/** A `ContactCreated` for `email` (then `extra`), each with a new id; the contact they fold to. */
export const firstAppend = (projectId: string, email: string, extra: ReadonlyArray<ContactEvent.ContactEvent> = []) =>
  Effect.gen(function*() {
    const ids = yield* Ids.Ids
    const contactId = yield* ids.next
    const events = [
      ContactEvent.ContactCreated.make({ contactId, projectId, email, subscribed: true, at: new Date() }),
      ...extra
    ]
    const newEvents: Array<EventStore.NewEvent> = []
    for (const event of events) newEvents.push({ id: yield* ids.next, event })
    const append: EventStore.Append = {
      streamId: contactId,
      expectedVersion: 0,
      events: newEvents,
      projection: { _tag: "Upsert", contact: Contact.fold(events)! }
    }
    return { contactId, events, append }
  })
