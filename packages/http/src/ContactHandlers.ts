/**
 * The handlers of `Api`'s `contacts` group: read a contact (now, or as it was: behaviour §3, §5.2),
 * list contacts, a contact's timeline, change a contact (behaviour §10) and erase one (behaviour §7).
 */
import * as CommandHandler from "@tracklog/core/CommandHandler"
import * as ContactUpdate from "@tracklog/core/ContactUpdate"
import * as Contacts from "@tracklog/core/Contacts"
import * as EraseContact from "@tracklog/core/EraseContact"
import * as EventStore from "@tracklog/core/EventStore"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Api from "./Api.js"
import * as ApiError from "./ApiError.js"
import type * as Handlers from "./Handlers.js"
import * as Params from "./Params.js"
import * as Views from "./Views.js"

/** What the group's handlers need. */
export type Services = Contacts.Contacts | CommandHandler.CommandHandler | EventStore.EventStore

/** The handlers of the `contacts` group. */
export const make = Effect.gen(function*() {
  const contacts = yield* Contacts.Contacts
  const handler = yield* CommandHandler.CommandHandler
  const eventStore = yield* EventStore.EventStore

  return {
    getContact: {
      handle: (request) => {
        const at = Params.at(request.query)
        if (Either.isLeft(at)) return Effect.fail(at.left)
        return Params.contactId(request).pipe(
          Effect.flatMap((id) =>
            Option.isNone(at.right)
              ? contacts.findById(request.grant.projectId, id)
              : Effect.provideService(
                Contacts.findAt(request.grant.projectId, id, at.right.value),
                EventStore.EventStore,
                eventStore
              )
          ),
          Effect.mapError(ApiError.fromDomain),
          Effect.flatMap(Option.match({
            onNone: () => Effect.fail(ApiError.contactNotFound()),
            onSome: (contact) => Effect.succeed(Views.ok(Views.contact(contact)))
          }))
        )
      }
    },
    listContacts: {
      handle: (request) =>
        Effect.gen(function*() {
          const limit = yield* Params.limit(request.query, Api.ContactsPage)
          const email = request.query.get("email")
          if (email !== null) {
            // A filter: what the track route could never store matches nothing.
            const canonical = Params.canonicalEmail(email)
            if (Option.isNone(canonical)) return Views.ok({ data: [], hasMore: false })
            const found = yield* contacts.findByEmail(request.grant.projectId, canonical.value)
            return Views.ok({ data: Option.toArray(found).map(Views.contact), hasMore: false })
          }
          const cursor = yield* Params.contactsCursor(request.query)
          const page = yield* contacts.list(request.grant.projectId, { limit, cursor })
          return Views.ok({ ...page, data: page.data.map(Views.contact) })
        }).pipe(Effect.mapError(ApiError.fromDomain))
    },
    contactEvents: {
      handle: (request) =>
        Effect.gen(function*() {
          const limit = yield* Params.limit(request.query, Api.EventsPage)
          const id = yield* Params.contactId(request)
          const cursor = yield* Params.eventsCursor(request.query)
          const page = yield* contacts.timeline(request.grant.projectId, id, { limit, cursor })
          return Views.ok({ ...page, data: page.data.map(Views.event) })
        }).pipe(Effect.mapError(ApiError.fromDomain))
    },
    updateContact: {
      handle: (request) =>
        Effect.gen(function*() {
          const id = yield* Params.contactId(request)
          const command = yield* ContactUpdate.decode(id, request.body)
          const decided = yield* handler.handle(ContactUpdate.handling, request.grant.projectId, command)
          return Views.ok({ success: true, data: Views.contact(decided.state!) })
        }).pipe(Effect.mapError(ApiError.fromDomain))
    },
    eraseContact: {
      handle: (request) =>
        Effect.gen(function*() {
          const suppress = yield* Params.suppress(request.query)
          const id = yield* Params.contactId(request)
          yield* handler.handle(EraseContact.handling, request.grant.projectId, { contactId: id, suppress })
          return Views.noContent
        }).pipe(Effect.mapError(ApiError.fromDomain))
    }
  } satisfies Handlers.Group<typeof Api.ContactsGroup>
})
