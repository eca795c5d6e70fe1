/**
 * What each endpoint of `Api` does, over the core's ports: plain Effects from a parsed request
 * to a JSON reply. The server decides nothing about the domain.
 */
import * as CommandHandler from "@tracklog/core/CommandHandler"
import * as Contact from "@tracklog/core/Contact"
import * as ContactUpdate from "@tracklog/core/ContactUpdate"
import * as Contacts from "@tracklog/core/Contacts"
import * as EraseContact from "@tracklog/core/EraseContact"
import * as Idempotency from "@tracklog/core/Idempotency"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as LogStream from "@tracklog/core/LogStream"
import * as Projects from "@tracklog/core/Projects"
import * as Suppressions from "@tracklog/core/Suppressions"
import * as Timestamp from "@tracklog/core/Timestamp"
import * as Track from "@tracklog/core/Track"
import * as TrackBatch from "@tracklog/core/TrackBatch"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import * as Api from "./Api.js"
import * as ApiError from "./ApiError.js"
import type * as Auth from "./Auth.js"
import * as EventStream from "./EventStream.js"

/** A request as handlers see it: already routed, its body parsed, its key checked. */
export interface Request {
  readonly requestId: string
  readonly params: Readonly<Record<string, string>>
  /** The query string's parameters; read only (requests without a query share one). */
  readonly query: URLSearchParams
  readonly body: unknown
  /** The key's grant; `trusted` when this process's cache gave it (a handler with `trustsGrant`). */
  readonly grant: Auth.Granted
  /**
   * Request headers by lowercase name, each value as sent (a header sent twice has two): at least
   * those of `headerNames`, the only ones handlers read.
   */
  readonly headers?: Readonly<Record<string, ReadonlyArray<string> | undefined>> | undefined
}

/** The request headers handlers read: a transport need pass only these. */
export const headerNames: ReadonlyArray<string> = ["idempotency-key", "last-event-id"]

/** A JSON reply; or, with `stream`, a Server-Sent Events reply whose text the server writes as it comes. */
export interface Reply {
  readonly status: number
  readonly body: string
  /** Headers of this reply besides the server's own. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly stream?: Stream.Stream<string> | undefined
}

/** A handler, with what it needs from the request. */
export interface Handler {
  readonly auth: Auth.Requirement | "none"
  readonly body: boolean
  /** Which body limit applies: the batch route's larger one, or the server's (default). */
  readonly bodyLimit?: "batch" | undefined
  /**
   * The handler's write checks the request's key as it commits (`EventStore.Append.grantedBy`),
   * and its other outcomes call `grant.trusted.confirm`: a grant this process has seen will do,
   * without a read of the key (docs/decisions/0024-grant-on-append.md). Only with auth `any`.
   */
  readonly trustsGrant?: true | undefined
  readonly handle: (request: Request) => Effect.Effect<Reply, ApiError.ApiError>
}

const ok = (body: unknown): Reply => ({ status: 200, body: JSON.stringify(body) })

/** A `204 No Content` reply: the server sends no body and no content headers. */
const noContent: Reply = { status: 204, body: "" }

// behaviour §7: a suppressed email with no contact is answered 200, with nothing stored for it.
const suppressedView = (timestamp: Date) => ({
  contact: null,
  event: null,
  timestamp: Timestamp.iso(timestamp),
  suppressed: true
})
const suppressedReply = Effect.map(
  Clock.currentTimeMillis,
  (millis) => ok({ success: true, data: suppressedView(new Date(millis)) })
)

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
    : Effect.fail(
      ApiError.validation([{
        field: "limit",
        code: "invalid_limit",
        message: `limit must be an integer from 1 to ${size.max}`
      }])
    )
}

const invalidCursor = Effect.fail(
  ApiError.validation([{
    field: "cursor",
    code: "invalid_cursor",
    message: "cursor must be a value returned by a previous page"
  }])
)

// Contact ids are UUIDs: anything else names no contact, and never reaches the store.
const contactId = (request: Request): Effect.Effect<string, ApiError.ApiError> => {
  const id = request.params["id"]!
  return Ids.isUuid(id) ? Effect.succeed(id) : Effect.fail(ApiError.contactNotFound())
}

// behaviour §6: no header, one valid key, or a 400 (a malformed key, or the header twice).
const idempotencyKeyOf = (request: Request): Either.Either<Option.Option<string>, ApiError.ApiError> => {
  const values = request.headers?.["idempotency-key"]
  if (values === undefined || values.length === 0) return Either.right(Option.none())
  if (values.length > 1) return Either.left(ApiError.invalidIdempotencyKey("Send the Idempotency-Key header once"))
  return Either.mapBoth(Idempotency.parseKey(values[0]!), { onLeft: ApiError.fromDomain, onRight: Option.some })
}

// The answer of an idempotent request, first time or replayed; a replay says so.
const replyOf = <R>(outcome: Idempotency.Outcome<R>): Reply =>
  outcome._tag === "Replayed"
    ? { ...outcome.answer, headers: { "idempotent-replayed": "true" } }
    : outcome.answer!

const trackView = (result: Track.TrackResult) => ({
  contact: result.contact,
  event: result.event,
  timestamp: Timestamp.iso(result.timestamp)
})

/** The answer to a track (behaviour §1.7): what is sent, and stored with an idempotency key. */
export const trackAnswer = (result: Track.TrackResult): Reply => ok({ success: true, data: trackView(result) })

/** The answer to a track with an idempotency key: a suppressed email's too is stored for the key (behaviour §6). */
export const keyedTrackAnswer = (result: Track.KeyedResult): Reply =>
  Track.isSuppressed(result) ? ok({ success: true, data: suppressedView(result.timestamp) }) : trackAnswer(result)

/** The answer to a batch (behaviour §8). */
export const batchAnswer = (result: TrackBatch.Result): Reply =>
  ok({
    success: true,
    data: {
      accepted: result.accepted,
      rejected: result.rejected,
      suppressed: result.suppressed,
      results: result.items.map((item) =>
        item._tag === "Accepted"
          ? { success: true, data: trackView(item) }
          : item._tag === "Suppressed"
          ? { success: true, data: suppressedView(item.timestamp) }
          : { success: false, error: { code: "VALIDATION_ERROR", errors: item.error.issues } }
      )
    }
  })

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
  if (
    Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > 31 || Number(h) > 23 || Number(mi) > 59 ||
    Number(s) > 59
  ) {
    return Option.none()
  }
  const offset = zone === "Z" ? "Z" : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone
  const millis = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}.${frac.padEnd(3, "0").slice(0, 3)}${offset}`)
  // A day past the month's end (02-30) is no date, not the next month's.
  if (Number.isNaN(millis) || new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d))).getUTCDate() !== Number(d))
    return Option.none()
  return Option.some(new Date(millis))
}

// What a trusted grant answers when the handler writes nothing: the key read again first, so a
// revoked one is refused as it would have been without the cache.
const confirmed = <A>(request: Request, answer: Effect.Effect<A, ApiError.ApiError>) => {
  const trusted = request.grant.trusted
  return trusted === undefined ? answer : Effect.zipRight(trusted.confirm, answer)
}

const headerOf = (request: Request, name: string): string | undefined => {
  const value = request.headers?.[name]
  return typeof value === "string" ? value : value?.[0]
}

/** What the handlers need. */
export type Services =
  | Track.Track
  | CommandHandler.CommandHandler
  | Contacts.Contacts
  | Suppressions.Suppressions
  | EventStore.EventStore
  | Projects.Projects

/**
 * The handlers of every endpoint, by endpoint name: one for each endpoint of `Api`, checked by the
 * compiler. Which key each wants is `Api`'s statement (`KeyRequirement`).
 */
export const make = Effect.gen(function*() {
  const track = yield* Track.Track
  const contacts = yield* Contacts.Contacts
  const handler = yield* CommandHandler.CommandHandler
  const suppressions = yield* Suppressions.Suppressions
  const eventStore = yield* EventStore.EventStore
  const projects = yield* Projects.Projects
  // A store that cannot be read live answers the stream route 503.
  const logSource = yield* Effect.serviceOption(LogStream.LogSource)

  // behaviour §5.2: the contact's own stream, folded up to `at`; another project's is not found.
  const contactAt = (projectId: string, id: string, at: Date) =>
    Effect.map(eventStore.readStream(id), (recorded) => {
      if (recorded.length === 0 || recorded[0]!.projectId !== projectId) return Option.none<Contact.Contact>()
      return Option.fromNullable(
        Contact.fold(recorded.flatMap((r) => (r.event.at.getTime() <= at.getTime() ? [r.event] : [])))
      )
    })
  const keys = Api.keyRequirements()

  const handlers = {
    track: {
      auth: keys.track,
      trustsGrant: true,
      body: true,
      handle: (request) => {
        const key = idempotencyKeyOf(request)
        if (Either.isLeft(key)) return confirmed(request, Effect.fail(key.left))
        const command = TrackCommand.decode(request.body)
        if (Either.isLeft(command)) return confirmed(request, Effect.fail(ApiError.fromDomain(command.left)))
        const given = key.right
        // A suppressed email with no contact is answered, not refused: nothing was stored (behaviour §7).
        // With a key, `trackIdempotent` answers it itself, and keeps the answer for the key (§6).
        const onFailure = (error: Parameters<typeof ApiError.fromDomain>[0] | Suppressions.EmailSuppressed) =>
          error._tag === "EmailSuppressed"
            ? confirmed(request, suppressedReply)
            : error._tag === "GrantRevoked"
            ? confirmed(request, Effect.fail(ApiError.fromDomain(error)))
            : Effect.fail(ApiError.fromDomain(error))
        if (Option.isSome(given)) {
          // An idempotent track may replay a stored answer and write nothing: its key is read first.
          return confirmed(request, Idempotency.fingerprint(request.body)).pipe(
            Effect.flatMap((fingerprint) =>
              track.trackIdempotent(request.grant.projectId, command.right, {
                key: given.value,
                fingerprint,
                render: keyedTrackAnswer
              })
            ),
            Effect.matchEffect({ onFailure, onSuccess: (outcome) => Effect.succeed(replyOf(outcome)) })
          )
        }
        return Effect.matchEffect(track.track(request.grant.projectId, command.right, request.grant.trusted?.keyHash), {
          onFailure,
          onSuccess: (result) => Effect.succeed(trackAnswer(result))
        })
      }
    },
    trackBatch: {
      auth: keys.trackBatch,
      body: true,
      bodyLimit: "batch",
      handle: (request) => {
        const key = idempotencyKeyOf(request)
        if (Either.isLeft(key)) return Effect.fail(key.left)
        const items = TrackBatch.decode(request.body)
        if (Either.isLeft(items)) return Effect.fail(ApiError.fromDomain(items.left))
        const given = key.right
        const idempotency: Effect.Effect<Idempotency.Request<TrackBatch.Result> | undefined> = Option.isNone(given)
          ? Effect.succeed(undefined)
          : Effect.map(
            Idempotency.fingerprint(request.body),
            (fingerprint) => ({ key: given.value, fingerprint, render: batchAnswer })
          )
        return idempotency.pipe(
          Effect.flatMap((idempotency) => track.trackBatch(request.grant.projectId, items.right, idempotency)),
          Effect.mapBoth({
            onFailure: ApiError.fromDomain,
            onSuccess: (outcome) =>
              outcome._tag === "Done" && outcome.answer === undefined ? batchAnswer(outcome.result) : replyOf(outcome)
          })
        )
      }
    },
    getContact: {
      auth: keys.getContact,
      body: false,
      handle: (request) => {
        const atText = request.query.get("at")
        const at = atText === null ? undefined : parseInstant(atText)
        if (at !== undefined && Option.isNone(at)) return Effect.fail(invalidTimestamp)
        return contactId(request).pipe(
          Effect.flatMap((id) =>
            at === undefined
              ? contacts.findById(request.grant.projectId, id)
              : contactAt(request.grant.projectId, id, at.value)
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
      auth: keys.eventsStream,
      body: false,
      handle: (request) =>
        Effect.gen(function*() {
          const start = yield* EventStream.startOf(headerOf(request, "last-event-id"), request.query)
          if (Option.isNone(logSource)) return yield* ApiError.serviceUnavailable()
          // The stream lives no longer than its key: read again from the store, which a key revoked
          // or rotated by another process leaves at once (behaviour §5.1).
          const { keyHash, kind, projectId } = request.grant
          const stillGranted = keyHash === undefined ? undefined : Effect.map(
            projects.findByKeyHash(keyHash),
            Option.exists((grant) => grant.projectId === projectId && grant.kind === kind)
          )
          const stream = yield* EventStream.make(logSource.value, contacts, projectId, start, { stillGranted })
          return { status: 200, body: "", stream }
        })
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
    eraseContact: {
      auth: keys.eraseContact,
      body: false,
      handle: (request) =>
        Effect.gen(function*() {
          const raw = request.query.get("suppress")
          if (raw !== null && raw !== "true" && raw !== "false") {
            return yield* ApiError.validation([{
              field: "suppress",
              code: "invalid_suppress",
              message: "suppress must be true or false"
            }])
          }
          const id = yield* contactId(request)
          yield* handler.handle(EraseContact.handling, request.grant.projectId, {
            contactId: id,
            suppress: raw === "true"
          })
          return noContent
        }).pipe(Effect.mapError(ApiError.fromDomain))
    },
    updateContact: {
      auth: keys.updateContact,
      body: true,
      handle: (request) =>
        Effect.gen(function*() {
          const id = yield* contactId(request)
          const command = yield* ContactUpdate.decode(id, request.body)
          const decided = yield* handler.handle(ContactUpdate.handling, request.grant.projectId, command)
          return ok({ success: true, data: contactView(decided.state!) })
        }).pipe(Effect.mapError(ApiError.fromDomain))
    },
    liftSuppression: {
      auth: keys.liftSuppression,
      body: false,
      handle: (request) =>
        Effect.gen(function*() {
          const email = request.query.get("email")
          // The canonical form the track route stores (behaviour §1.2).
          const canonical = email?.trim().toLowerCase() ?? ""
          if (!TrackCommand.isEmail(canonical)) {
            return yield* ApiError.validation([{
              field: "email",
              code: "invalid_email",
              message: "email must be a valid email address"
            }])
          }
          yield* suppressions.lift(request.grant.projectId, canonical)
          return noContent
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
