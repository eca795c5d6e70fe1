/**
 * What each endpoint of `Api` does, over the core's ports: plain Effects from a parsed request
 * to a JSON reply. The server decides nothing about the domain.
 */
import type * as Contact from "@tracklog/core/Contact"
import * as Contacts from "@tracklog/core/Contacts"
import * as Ids from "@tracklog/core/Ids"
import type * as Projects from "@tracklog/core/Projects"
import * as Timestamp from "@tracklog/core/Timestamp"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Api from "./Api.js"
import * as ApiError from "./ApiError.js"
import type * as Auth from "./Auth.js"

/** A request as handlers see it: already routed, its body parsed, its key checked. */
export interface Request {
  readonly requestId: string
  readonly params: Readonly<Record<string, string>>
  readonly query: URLSearchParams
  readonly body: unknown
  readonly grant: Projects.Grant
}

/** A JSON reply. */
export interface Reply {
  readonly status: number
  readonly body: string
}

/** A handler, with what it needs from the request. */
export interface Handler {
  readonly auth: Auth.Requirement | "none"
  readonly body: boolean
  readonly handle: (request: Request) => Effect.Effect<Reply, ApiError.ApiError>
}

const ok = (body: unknown): Reply => ({ status: 200, body: JSON.stringify(body) })

const contactView = (contact: Contact.Contact) => ({
  id: contact.id,
  email: contact.email,
  subscribed: contact.subscribed,
  data: contact.data,
  createdAt: Timestamp.iso(contact.createdAt),
  updatedAt: Timestamp.iso(contact.updatedAt)
})

// The page sizes are `Api`'s, the one statement of them.
const limitOf = (query: URLSearchParams, size: { readonly max: number; readonly default: number }) => {
  const raw = query.get("limit")
  if (raw === null) return Effect.succeed(size.default)
  const n = /^\d{1,7}$/.test(raw) ? Number(raw) : NaN
  return n >= 1 && n <= size.max
    ? Effect.succeed(n)
    : Effect.fail(ApiError.validation([{ field: "limit", code: "invalid_limit", message: `limit must be an integer from 1 to ${size.max}` }]))
}

const invalidCursor = Effect.fail(
  ApiError.validation([{ field: "cursor", code: "invalid_cursor", message: "cursor must be a value returned by a previous page" }])
)

// Contact ids are UUIDs: anything else names no contact, and never reaches the store.
const contactId = (request: Request): Effect.Effect<string, ApiError.ApiError> => {
  const id = request.params["id"]!
  return Ids.isUuid(id) ? Effect.succeed(id) : Effect.fail(ApiError.contactNotFound())
}

/** What the handlers need. */
export type Services = Track.Track | Contacts.Contacts

/**
 * The handlers of every endpoint, by endpoint name: one for each endpoint of `Api`, checked by the
 * compiler. Which key each wants is `Api`'s statement (`KeyRequirement`).
 */
export const make = Effect.gen(function*() {
  const track = yield* Track.Track
  const contacts = yield* Contacts.Contacts
  const keys = Api.keyRequirements()

  const handlers = {
    track: {
      auth: keys.track,
      body: true,
      handle: (request) => {
        const command = TrackCommand.decode(request.body)
        if (Either.isLeft(command)) return Effect.fail(ApiError.fromDomain(command.left))
        return Effect.mapBoth(track.track(request.grant.projectId, command.right), {
          onFailure: ApiError.fromDomain,
          onSuccess: (result) =>
            ok({ success: true, data: { contact: result.contact, event: result.event, timestamp: Timestamp.iso(result.timestamp) } })
        })
      }
    },
    getContact: {
      auth: keys.getContact,
      body: false,
      handle: (request) =>
        contactId(request).pipe(
          Effect.flatMap((id) => contacts.findById(request.grant.projectId, id)),
          Effect.mapError(ApiError.fromDomain),
          Effect.flatMap(Option.match({
            onNone: () => Effect.fail(ApiError.contactNotFound()),
            onSome: (contact) => Effect.succeed(ok(contactView(contact)))
          }))
        )
    },
    listContacts: {
      auth: keys.listContacts,
      body: false,
      handle: (request) =>
        Effect.gen(function*() {
          const limit = yield* limitOf(request.query, Api.ContactsPage)
          const email = request.query.get("email")
          if (email !== null) {
            // The same canonical form the track route stores; what it could never store matches nothing.
            const canonical = email.trim().toLowerCase()
            if (!TrackCommand.isEmail(canonical)) return ok({ data: [], hasMore: false })
            const found = yield* contacts.findByEmail(request.grant.projectId, canonical)
            return ok({ data: Option.toArray(found).map(contactView), hasMore: false })
          }
          const cursor = request.query.get("cursor") || undefined
          // A contacts cursor is the id of the last contact of the previous page.
          if (cursor !== undefined && !Ids.isUuid(cursor)) return yield* invalidCursor
          const page = yield* contacts.list(request.grant.projectId, { limit, cursor })
          return ok({ ...page, data: page.data.map(contactView) })
        }).pipe(Effect.mapError(ApiError.fromDomain))
    },
    contactEvents: {
      auth: keys.contactEvents,
      body: false,
      handle: (request) =>
        Effect.gen(function*() {
          const limit = yield* limitOf(request.query, Api.EventsPage)
          const id = yield* contactId(request)
          const cursor = request.query.get("cursor") || undefined
          // An events cursor is the version of the last event of the previous page.
          if (cursor !== undefined && !/^[1-9]\d{0,8}$/.test(cursor)) return yield* invalidCursor
          const page = yield* contacts.timeline(request.grant.projectId, id, { limit, cursor })
          return ok({ ...page, data: page.data.map((e) => ({ ...e, createdAt: Timestamp.iso(e.createdAt) })) })
        }).pipe(Effect.mapError(ApiError.fromDomain))
    },
    health: {
      auth: keys.health,
      body: false,
      handle: () =>
        contacts.list("", { limit: 1 }).pipe(
          Effect.as(ok({ status: "ok" })),
          Effect.mapError(ApiError.fromDomain)
        )
    }
  } satisfies { readonly [Name in Api.EndpointName]: Handler }
  return handlers as Readonly<Record<string, Handler>>
})
