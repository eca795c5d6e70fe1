/**
 * Reads of the memory store's contact projection (behaviour §3): the `Contacts` port.
 */
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as Contacts from "@tracklog/core/Contacts"
import type * as EventStore from "@tracklog/core/EventStore"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as LogRecord from "./logRecord.js"
import * as SortedIds from "./sortedIds.js"
import type * as State from "./state.js"

/** The contact that holds an email in a project, if any. */
export const byEmail = (state: State.State, projectId: string, email: string): Option.Option<Contact.Contact> => {
  const id = state.byEmail.get(Contact.emailKey(projectId, email))
  return id === undefined ? Option.none() : Option.some(state.contacts.get(id)!)
}

// The contact's timeline page (newest first), or undefined for a contact not in the project.
const timelinePage = (state: State.State, projectId: string, contactId: string, request: Contacts.PageRequest) => {
  const contact = state.contacts.get(contactId)
  if (contact === undefined || contact.projectId !== projectId) return undefined
  const positions = state.streams.get(contactId) ?? []
  const before = request.cursor === undefined ? Infinity : Number(request.cursor)
  const rows: Array<EventStore.RecordedEvent> = []
  // Versions are 1, 2, 3… at indexes 0, 1, 2…: the ones below the cursor are the first
  // ⌈cursor − 1⌉, so nothing after it is decoded.
  for (let i = Math.min(positions.length, Math.ceil(before - 1)) - 1; i >= 0 && rows.length <= request.limit; i--) {
    const stored = LogRecord.at(state.log, positions[i]!)
    if (LogRecord.isErased(stored)) continue
    const recorded = LogRecord.toRecorded(stored, positions[i]!)
    if (ContactEvent.visibleName(recorded.event) !== undefined) rows.push(recorded)
  }
  return Contacts.page(rows, request.limit, (r) => String(r.version))
}

/** The `Contacts` port of a memory store. */
export const make = (state: State.State): Contacts.Contacts["Type"] =>
  Contacts.Contacts.of({
    findById: (projectId, contactId) =>
      Effect.sync(() => {
        const contact = state.contacts.get(contactId)
        return contact !== undefined && contact.projectId === projectId ? Option.some(contact) : Option.none()
      }),
    findByEmail: (projectId, email) => Effect.sync(() => byEmail(state, projectId, email)),
    findManyByEmail: (projectId, emails) => Effect.sync(() => emails.map((email) => byEmail(state, projectId, email))),
    list: (projectId, request) =>
      Effect.sync(() => {
        const ids = state.byProject.get(projectId) ?? []
        const from = request.cursor === undefined ? 0 : SortedIds.firstAbove(ids, request.cursor)
        const rows = ids.slice(from, from + request.limit + 1).map((id) => state.contacts.get(id)!)
        return Contacts.page(rows, request.limit, (c) => c.id)
      }),
    timeline: (projectId, contactId, request) =>
      Effect.suspend(() => {
        const page = timelinePage(state, projectId, contactId, request)
        return page === undefined
          ? Effect.fail(new Contacts.ContactNotFound({ contactId }))
          : Effect.succeed({ ...page, data: page.data.map(Contacts.toTimelineEvent) })
      })
  })
