/**
 * The handler of `Api`'s `events` group: `GET /events/stream`, the project's log as Server-Sent
 * Events (behaviour §5.1). The stream itself is `EventStream`'s; the transports write it.
 */
import * as Contacts from "@tracklog/core/Contacts"
import * as LogStream from "@tracklog/core/LogStream"
import * as Projects from "@tracklog/core/Projects"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Api from "./Api.js"
import * as ApiError from "./ApiError.js"
import * as EventStream from "./EventStream.js"
import type * as Handlers from "./Handlers.js"
import * as Params from "./Params.js"

/** What the group's handler needs; a store without `LogStream.LogSource` answers the route 503. */
export type Services = Contacts.Contacts | Projects.Projects

/** The handlers of the `events` group. */
export const make = Effect.gen(function*() {
  const contacts = yield* Contacts.Contacts
  const projects = yield* Projects.Projects
  const logSource = yield* Effect.serviceOption(LogStream.LogSource)

  return {
    eventsStream: {
      handle: (request) =>
        Effect.gen(function*() {
          const start = yield* EventStream.startOf(Params.header(request, "last-event-id"), request.query)
          if (Option.isNone(logSource)) return yield* ApiError.serviceUnavailable()
          // The stream lives no longer than its key: read again from the store, which a key revoked
          // or rotated by another process leaves at once (behaviour §5.1, decision 0030).
          const { keyHash, kind, projectId } = request.grant
          const stillGranted = keyHash === undefined ? undefined : Effect.map(
            projects.findByKeyHash(keyHash),
            Option.exists((grant) => grant.projectId === projectId && grant.kind === kind)
          )
          const stream = yield* EventStream.make(logSource.value, contacts, projectId, start, { stillGranted })
          return { status: 200, body: "", stream }
        })
    }
  } satisfies Handlers.Group<typeof Api.EventsGroup>
})
