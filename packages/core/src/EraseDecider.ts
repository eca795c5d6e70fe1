/**
 * `decide` for erasure (behaviour §7), pure: given the command and the contact's current state, the
 * events to append or a typed not-found. Time is an input.
 */
import * as Either from "effect/Either"
import type * as Contact from "./Contact.js"
import * as ContactEvent from "./ContactEvent.js"
import * as Contacts from "./Contacts.js"

/** Erase a contact, and with `suppress` keep its email from being tracked again. */
export interface EraseContact {
  readonly contactId: string
  readonly suppress: boolean
}

/** What `decide` needs besides the command and the state. */
export interface Context {
  /** The project the command comes from: another project's contact is not found. */
  readonly projectId: string
  readonly now: Date
}

/**
 * The one `ContactErased` marker, with nothing but the id and the time; `ContactNotFound` when
 * there is no contact (never created, already erased) or it belongs to another project.
 */
export const decide = (
  command: EraseContact,
  state: Contact.State,
  context: Context
): Either.Either<Array<ContactEvent.ContactErased>, Contacts.ContactNotFound> => {
  if (state === null || state.id !== command.contactId || state.projectId !== context.projectId) {
    return Either.left(new Contacts.ContactNotFound({ contactId: command.contactId }))
  }
  return Either.right([ContactEvent.trusted.ContactErased({ contactId: state.id, at: context.now })])
}
