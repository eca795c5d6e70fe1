/**
 * What each endpoint of `Api` does, over the core's ports: plain Effects from a parsed request
 * to a JSON reply. The server decides nothing about the domain.
 */
import * as Contact from "@tracklog/core/Contact"
import * as Contacts from "@tracklog/core/Contacts"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as LogStream from "@tracklog/core/LogStream"
import type * as Projects from "@tracklog/core/Projects"
import * as Timestamp from "@tracklog/core/Timestamp"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import * as ApiError from "./ApiError.js"
import type * as Auth from "./Auth.js"
import * as EventStream from "./EventStream.js"

/** A request as handlers see it: already routed, its body parsed, its key checked. */
export interface Request {
  readonly requestId: string
  readonly params: Readonly<Record<string, string>>
  readonly query: URLSearchParams
  readonly body: unknown
  readonly grant: Projects.Grant
  /** The request's headers, by lower-case name. */
  readonly headers?: Readonly<Record<string, string | ReadonlyArray<string> | undefined>> | undefined
}

/** A JSON reply; or, with `stream`, a Server-Sent Events reply whose text the server writes as it comes. */
export interface Reply {
  readonly status: number
  readonly body: string
  readonly stream?: Stream.Stream<string> | undefined
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

const limitOf = (query: URLSearchParams, max: number, fallback: number) => {
  const raw = query.get("limit")
  if (raw === null) return Effect.succeed(fallback)
  const n = /^\d{1,7}$/.test(raw) ? Number(raw) : NaN
  return n >= 1 && n <= max
    ? Effect.succeed(n)
    : Effect.fail(ApiError.validation([{ field: "limit", code: "invalid_limit", message: `limit must be an integer from 1 to ${max}` }]))
}

const invalidCursor = Effect.fail(
  ApiError.validation([{ field: "cursor", code: "invalid_cursor", message: "cursor must be a value returned by a previous page" }])
)

// Contact ids are UUIDs: anything else names no contact, and never reaches the store.
const contactId = (request: Request): Effect.Effect<string, ApiError.ApiError> => {
  const id = request.params["id"]!
  return Ids.isUuid(id) ? Effect.succeed(id) : Effect.fail(ApiError.contactNotFound())
}

const invalidTimestamp = ApiError.validation([
  { field: "at", code: "invalid_timestamp", message: "at must be an ISO-8601 time, e.g. 2024-05-01T12:00:00Z" }
])

// ISO-8601 date or date-time; without an offset it is read as UTC, not the server's local time.
const IsoTime = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/

/** The instant an ISO-8601 text names, or none. */
export const parseInstant = (text: string): Option.Option<Date> => {
  const m = IsoTime.exec(text)
  if (m === null) return Option.none()
  const [, y, mo, d, h = "00", mi = "00", s = "00", frac = "", zone = "Z"] = m
  if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    return Option.none()
  }
  const offset = zone === "Z" ? "Z" : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone
  const millis = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}.${frac.padEnd(3, "0").slice(0, 3)}${offset}`)
  // A day past the month's end (02-30) is no date, not the next month's.
  if (Number.isNaN(millis) || new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d))).getUTCDate() !== Number(d)) return Option.none()
  return Option.some(new Date(millis))
}

const headerOf = (request: Request, name: string): string | undefined => {
  const value = request.headers?.[name]
  return typeof value === "string" ? value : value?.[0]
}

/** What the handlers need. */
export type Services = Track.Track | Contacts.Contacts | EventStore.EventStore

/** The handlers of every endpoint, by endpoint name. */
export const make = Effect.gen(function*() {
  const track = yield* Track.Track
  const contacts = yield* Contacts.Contacts
  const eventStore = yield* EventStore.EventStore
  // A store that cannot be read live answers the stream route 503.
  const logSource = yield* Effect.serviceOption(LogStream.LogSource)

  // SPEC §5.2: the contact's own stream, folded up to `at`; another project's is not found.
  const contactAt = (projectId: string, id: string, at: Date) =>
    Effect.map(eventStore.readStream(id), (recorded) => {
      if (recorded.length === 0 || recorded[0]!.projectId !== projectId) return Option.none<Contact.Contact>()
      return Option.fromNullable(Contact.fold(recorded.flatMap((r) => (r.event.at.getTime() <= at.getTime() ? [r.event] : []))))
    })

  const handlers: Record<string, Handler> = {
    track: {
      auth: "any",
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
      auth: "secret",
      body: false,
      handle: (request) => {
        const atText = request.query.get("at")
        const at = atText === null ? undefined : parseInstant(atText)
        if (at !== undefined && Option.isNone(at)) return Effect.fail(invalidTimestamp)
        return contactId(request).pipe(
          Effect.flatMap((id) =>
            at === undefined ? contacts.findById(request.grant.projectId, id) : contactAt(request.grant.projectId, id, at.value)
          ),
          Effect.mapError(ApiError.fromDomain),
          Effect.flatMap(Option.match({
            onNone: () => Effect.fail(ApiError.contactNotFound()),
            onSome: (contact) => Effect.succeed(ok(contactView(contact)))
          }))
        )
      }
    },
    eventsStream: {
      auth: "secret",
      body: false,
      handle: (request) =>
        Effect.gen(function*() {
          const start = yield* EventStream.startOf(headerOf(request, "last-event-id"), request.query)
          if (Option.isNone(logSource)) return yield* ApiError.serviceUnavailable()
          const stream = yield* EventStream.make(logSource.value, contacts, request.grant.projectId, start)
          return { status: 200, body: "", stream }
        })
    },
    listContacts: {
      auth: "secret",
      body: false,
      handle: (request) =>
        Effect.gen(function*() {
          const limit = yield* limitOf(request.query, 100, 20)
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
      auth: "secret",
      body: false,
      handle: (request) =>
        Effect.gen(function*() {
          const limit = yield* limitOf(request.query, 1000, 100)
          const id = yield* contactId(request)
          const cursor = request.query.get("cursor") || undefined
          // An events cursor is the version of the last event of the previous page.
          if (cursor !== undefined && !/^[1-9]\d{0,8}$/.test(cursor)) return yield* invalidCursor
          const page = yield* contacts.timeline(request.grant.projectId, id, { limit, cursor })
          return ok({ ...page, data: page.data.map((e) => ({ ...e, createdAt: Timestamp.iso(e.createdAt) })) })
        }).pipe(Effect.mapError(ApiError.fromDomain))
    },
    health: {
      auth: "none",
      body: false,
      handle: () =>
        contacts.list("", { limit: 1 }).pipe(
          Effect.as(ok({ status: "ok" })),
          Effect.mapError(ApiError.fromDomain)
        )
    }
  }
  return handlers
})
