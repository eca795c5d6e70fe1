/**
 * The contact update (behaviour §10, `PATCH /contacts/:id`): the request, its rules and its place
 * on the command pipeline. Decided like a track (§1.4–§1.6) on the contact's state, run by the
 * same `CommandHandler`; it records only what changes, and never a tracked event.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as CommandHandler from "./CommandHandler.js"
import * as Contact from "./Contact.js"
import * as ContactEvent from "./ContactEvent.js"
import * as Contacts from "./Contacts.js"
import type * as FieldIssue from "./FieldIssue.js"
import * as Json from "./Json.js"
import * as TrackCommand from "./TrackCommand.js"
import * as TrackDecider from "./TrackDecider.js"

/** The body of a contact update: at least one of its fields, each ruled as in a track (behaviour §1.2). */
export const ContactPatch = Schema.Struct({
  email: Schema.optionalWith(TrackCommand.Email, { exact: true }),
  subscribed: Schema.optionalWith(Schema.Boolean, { exact: true }),
  data: Schema.optionalWith(TrackCommand.Data, { exact: true })
}).annotations({
  identifier: "ContactPatch",
  description: "At least one of email, subscribed, data; data merges as a track's does (no one-shot values)"
})

/** A valid update of one contact. */
export interface UpdateContact {
  readonly contactId: string
  /** The canonical email (trimmed, lowercased). */
  readonly email?: string | undefined
  readonly subscribed?: boolean | undefined
  readonly data?: Json.JsonObject | undefined
}

/** A body that breaks one or more rules; nothing was changed. */
export class InvalidContactUpdate extends Schema.TaggedError<InvalidContactUpdate>()("InvalidContactUpdate", {
  issues: Schema.Array(Schema.Struct({ field: Schema.String, message: Schema.String, code: Schema.String }))
}) {}

/** Another contact of the project holds the email asked for: nothing was changed. */
export class ContactExists extends Schema.TaggedError<ContactExists>()("ContactExists", {}) {}

const Fields = ["email", "subscribed", "data"] as const

/** Decodes a parsed body for the contact `contactId`, or fails with one issue per broken rule. */
export const decode = (contactId: string, body: unknown): Either.Either<UpdateContact, InvalidContactUpdate> => {
  const out: Array<FieldIssue.FieldIssue> = []
  if (!Json.isObject(body)) {
    out.push({ field: "body", code: "invalid_type", message: "Expected an object" })
    return Either.left(new InvalidContactUpdate({ issues: out }))
  }
  if (!Fields.some((key) => Object.hasOwn(body, key))) {
    out.push({ field: "body", code: "required", message: "Send at least one of email, subscribed, data" })
  }
  const email = body["email"]
  if (Object.hasOwn(body, "email")) {
    if (typeof email !== "string") out.push({ field: "email", code: "invalid_type", message: "Expected a string" })
    else TrackCommand.apply(TrackCommand.EmailRules, email.trim().toLowerCase(), "email", out)
  }
  if (Object.hasOwn(body, "subscribed") && typeof body["subscribed"] !== "boolean") {
    out.push({ field: "subscribed", code: "invalid_type", message: "Expected a boolean" })
  }
  const data = body["data"]
  if (Object.hasOwn(body, "data")) {
    if (!Json.isObject(data)) out.push({ field: "data", code: "invalid_type", message: "Expected an object" })
    else {
      TrackCommand.apply(TrackCommand.DataRules, data, "data", out)
      // A one-shot value is a variable of the event that carries it; an update records no event.
      for (const [key, value] of Object.entries(data)) {
        if (TrackDecider.isWrapped(value) && !value.persistent) {
          out.push({
            field: `data.${key}`,
            code: "invalid_type",
            message: "One-shot values ({ value, persistent: false }) belong to a tracked event, not to an update"
          })
        }
      }
    }
  }
  if (out.length > 0) return Either.left(new InvalidContactUpdate({ issues: out }))
  return Either.right({
    contactId,
    ...(typeof email === "string" ? { email: email.trim().toLowerCase() } : {}),
    ...(typeof body["subscribed"] === "boolean" ? { subscribed: body["subscribed"] } : {}),
    ...(Json.isObject(data) ? { data } : {})
  })
}

/** What `decide` needs besides the command and the state. */
export interface Context {
  readonly projectId: string
  readonly now: Date
  /** Another contact of the project holds the email the command asks for. */
  readonly emailTaken: boolean
}

/**
 * The events of one update, in append order: `ContactEmailChanged` when the email changes,
 * `SubscriptionChanged` on an actual flip, `ContactDataChanged` when the data changes (the merge
 * of behaviour §1.5). None when nothing changes. `ContactNotFound` for no contact in the project,
 * `ContactExists` for an email another contact holds.
 */
export const decide = (
  command: UpdateContact,
  state: Contact.State,
  context: Context
): Either.Either<Array<ContactEvent.ContactEvent>, Contacts.ContactNotFound | ContactExists> => {
  if (state === null || state.id !== command.contactId || state.projectId !== context.projectId) {
    return Either.left(new Contacts.ContactNotFound({ contactId: command.contactId }))
  }
  const at = context.now
  const events: Array<ContactEvent.ContactEvent> = []
  if (command.email !== undefined && command.email !== state.email) {
    if (context.emailTaken) return Either.left(new ContactExists())
    events.push(ContactEvent.trusted.ContactEmailChanged({ email: command.email, at }))
  }
  if (command.subscribed !== undefined && command.subscribed !== state.subscribed) {
    events.push(ContactEvent.trusted.SubscriptionChanged({ subscribed: command.subscribed, at }))
  }
  const change = TrackDecider.dataChange(command.data ?? {}, state.data)
  if (change !== undefined) events.push(ContactEvent.trusted.ContactDataChanged({ ...change, at }))
  return Either.right(events)
}

/** The update on the command pipeline: its contact by id; the email asked for read under its lock. */
export const handling: CommandHandler.Handling<
  UpdateContact,
  Context,
  Contacts.ContactNotFound | ContactExists,
  boolean
> = {
  decider: { decide, evolve: Contact.evolve, initialState: Contact.initialState },
  address: (command) => ({ _tag: "Id", contactId: command.contactId }),
  context: (projectId, _state, now, _newId, emailTaken) => ({ projectId, now, emailTaken }),
  prepare: (projectId, command, state) =>
    command.email === undefined || state === null || command.email === state.email
      ? Effect.succeed(false)
      : Effect.flatMap(
        Contacts.Contacts,
        (contacts) =>
          Effect.map(
            contacts.findByEmail(projectId, command.email!),
            (holder) => Option.isSome(holder) && holder.value.id !== state.id
          )
      )
}

/** Updates a contact; answers it as it is after the update (unchanged when nothing changed). */
export const update = (
  projectId: string,
  command: UpdateContact
): Effect.Effect<
  Contact.Contact,
  Contacts.ContactNotFound | ContactExists | CommandHandler.HandleError,
  CommandHandler.CommandHandler
> =>
  Effect.flatMap(
    CommandHandler.CommandHandler,
    (handler) => Effect.map(handler.handle(handling, projectId, command), (decided) => decided.state!)
  )
