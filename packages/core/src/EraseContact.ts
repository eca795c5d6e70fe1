/**
 * The erase command on the command pipeline (behaviour §7): its contact by id, `EraseDecider`'s
 * rules, and the projection change that removes the contact, its events and its idempotency
 * records in the marker's append. A track that committed in between makes it decide again on
 * fresh state, as any command.
 */
import * as Effect from "effect/Effect"
import * as CommandHandler from "./CommandHandler.js"
import * as Contact from "./Contact.js"
import type * as Contacts from "./Contacts.js"
import * as EraseDecider from "./EraseDecider.js"

/** Erasure on the pipeline. */
export const handling: CommandHandler.Handling<
  EraseDecider.EraseContact,
  EraseDecider.Context,
  Contacts.ContactNotFound
> = {
  decider: { decide: EraseDecider.decide, evolve: Contact.evolve, initialState: Contact.initialState },
  address: (command) => ({ _tag: "Id", contactId: command.contactId }),
  context: (projectId, _state, now) => ({ projectId, now }),
  project: (projectId, command) => ({ _tag: "Erase", projectId, suppress: command.suppress })
}

/** Erases a contact; `ContactNotFound` for an unknown id, another project's, or one erased already. */
export const erase = (
  projectId: string,
  command: EraseDecider.EraseContact
): Effect.Effect<void, Contacts.ContactNotFound | CommandHandler.HandleError, CommandHandler.CommandHandler> =>
  Effect.flatMap(
    CommandHandler.CommandHandler,
    (handler) => Effect.asVoid(handler.handle(handling, projectId, command))
  )
