/**
 * `GET /events/stream` (behaviour §5.1): where to begin, and the project's log as Server-Sent Events
 * text. The server writes the text with backpressure (see `Server`).
 */
import type * as Contacts from "@tracklog/core/Contacts"
import * as EventStore from "@tracklog/core/EventStore"
import * as LogStream from "@tracklog/core/LogStream"
import * as Timestamp from "@tracklog/core/Timestamp"
import type * as StoreError from "@tracklog/core/StoreError"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as ApiError from "./ApiError.js"
import * as Metrics from "./Metrics.js"

/** Sent first: how long a client waits before it reconnects. */
export const preamble = "retry: 1000\n\n"

/** A comment line, so idle connections are seen alive (and proxies keep them). */
export const ping = ": ping\n\n"

const invalidCursor = (field: string, message: string) =>
  new ApiError.ApiError({
    status: 400,
    code: "VALIDATION_ERROR",
    message: "Invalid stream position",
    errors: [{ field, code: "invalid_cursor", message }],
    suggestion: "Resume with the `id` of the last event received, or use from=start or from=now"
  })

/**
 * Where a stream begins: after a checkpoint of the log (its start), after a client's cursor, or at
 * the head ("now"). `field` names where a client's cursor came from (`Last-Event-ID`, `after`).
 */
export type Start =
  | { readonly _tag: "After"; readonly checkpoint: EventStore.Checkpoint }
  | { readonly _tag: "Cursor"; readonly cursor: LogStream.Cursor; readonly field: string }
  | { readonly _tag: "Now" }

const notSent = (field: string) => invalidCursor(field, `${field} must be the id of an event this stream sent`)

const otherLog = (field: string) =>
  invalidCursor(
    field,
    `${field} names a place in another store's log (an import numbers the log anew): start again with from=start or from=now`
  )

/**
 * The start a request asks for: `Last-Event-ID`, else `?after=`, else `?from=`. A cursor that is
 * not one this server made, or an unknown `from`, is a 400, never a silent replay from zero; whether
 * a well-formed cursor is one of this store's log is for `make` to tell.
 */
export const startOf = (
  lastEventId: string | undefined,
  query: URLSearchParams
): Effect.Effect<Start, ApiError.ApiError> => {
  const from = query.get("from")
  if (from !== null && from !== "start" && from !== "now") {
    return Effect.fail(invalidCursor("from", "from must be start or now"))
  }
  const [field, text] = lastEventId !== undefined && lastEventId !== ""
    ? ["Last-Event-ID", lastEventId]
    : ["after", query.get("after")]
  if (text !== null) {
    return Option.match(LogStream.decodeCursor(text), {
      onNone: () => Effect.fail(notSent(field)),
      // Every event has a transaction and a position above zero: `0-…` or `…-0` names none (and
      // `0-0` would be a replay from zero).
      onSome: (cursor) =>
        cursor.checkpoint.transactionId === 0n || cursor.checkpoint.position === 0n
          ? Effect.fail(notSent(field))
          : Effect.succeed({ _tag: "Cursor" as const, cursor, field })
    })
  }
  return Effect.succeed(
    from === "now" ? { _tag: "Now" as const } : { _tag: "After" as const, checkpoint: EventStore.start }
  )
}

// Emails of the contacts a connection has seen, as of the last event sent: its `contact.created`
// usually comes first, and an email change says the new one. Bounded; cleared when full.
const MaxEmails = 10_000

/**
 * The `id:`, `event:` and `data:` of a recorded event of the log with this epoch; none for an event
 * the project cannot show.
 */
const frame = (recorded: EventStore.RecordedEvent, email: string | undefined, epoch: string): string | undefined => {
  const event = recorded.event
  const base = { id: recorded.id, contact: recorded.streamId }
  const timestamp = Timestamp.iso(event.at)
  let type: string
  let data: object
  switch (event._tag) {
    case "ContactCreated":
      type = "contact.created"
      data = { ...base, email: event.email, subscribed: event.subscribed, timestamp }
      break
    case "SubscriptionChanged":
      if (email === undefined) return undefined
      type = event.subscribed ? "contact.subscribed" : "contact.unsubscribed"
      data = { ...base, email, timestamp }
      break
    case "ContactDataChanged":
      if (email === undefined) return undefined
      type = "contact.updated"
      data = { ...base, email, set: event.set, unset: event.unset, timestamp }
      break
    // An email change is a contact update too (behaviour §10): `email` is the new one.
    case "ContactEmailChanged":
      type = "contact.updated"
      data = { ...base, email: event.email, set: {}, unset: [], timestamp }
      break
    case "EventTracked":
      if (email === undefined) return undefined
      type = "event.tracked"
      data = { ...base, email, name: event.name, data: event.data, timestamp }
      break
    case "ContactErased":
      type = "contact.erased"
      data = { id: recorded.id, contact: event.contactId, timestamp }
      break
  }
  // JSON.stringify escapes line breaks: the data is one line.
  return `id: ${LogStream.encodeCursor(epoch, recorded)}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`
}

/** How the stream behaves. */
export interface Options {
  /** How often `: ping` is sent (default 15 s). */
  readonly pingInterval?: Duration.DurationInput | undefined
  /**
   * Whether the stream's key still grants its project, read from the store: the stream ends once
   * it does not, or cannot be read (behaviour §5.1). Unchecked when undefined.
   */
  readonly stillGranted?: Effect.Effect<boolean, unknown> | undefined
  /** How often `stillGranted` is read (default 1 s). */
  readonly keyCheckInterval?: Duration.DurationInput | undefined
}

/**
 * The project's log from `start` as SSE text, one piece per page read, pings between; ends when
 * the store fails (the client reconnects with its last id) or when its key is gone (the client's
 * reconnect is then refused).
 */
export const make = (
  source: LogStream.LogSource["Type"],
  contacts: Contacts.Contacts["Type"],
  projectId: string,
  start: Start,
  options: Options = {}
): Effect.Effect<Stream.Stream<string>, ApiError.ApiError> =>
  Effect.gen(function*() {
    const head = (of: string | undefined) => Effect.mapError(source.head(of), () => ApiError.serviceUnavailable())
    const after = start._tag === "Now"
      ? yield* head(projectId)
      : start._tag === "Cursor"
      ? start.cursor.checkpoint
      : start.checkpoint
    if (start._tag === "Cursor") {
      // A cursor of another log names no event of this one, whatever its position: a stream from
      // it would replay or skip at random (behaviour §5.1, decision 0033).
      if (!LogStream.belongsTo(start.cursor, source.identity)) return yield* otherLog(start.field)
      // One past the whole log's last event was never sent: a stream from it would skip every
      // event until the log got there (behaviour §5.1: none skipped).
      if (EventStore.isAfter(after, yield* head(undefined))) return yield* notSent(start.field)
    }
    const epoch = source.identity.epoch
    const emails = new Map<string, string>()
    const emailOf = (
      recorded: EventStore.RecordedEvent
    ): Effect.Effect<string | undefined, StoreError.StoreUnavailable> => {
      const event = recorded.event
      if (event._tag === "ContactCreated") {
        if (emails.size >= MaxEmails) emails.clear()
        emails.set(recorded.streamId, event.email)
        return Effect.succeed(event.email)
      }
      if (event._tag === "ContactEmailChanged") {
        if (emails.size >= MaxEmails) emails.clear()
        emails.set(recorded.streamId, event.email)
        return Effect.succeed(event.email)
      }
      if (event._tag === "ContactErased") {
        emails.delete(recorded.streamId)
        return Effect.succeed(undefined)
      }
      const known = emails.get(recorded.streamId)
      return known !== undefined ? Effect.succeed(known) : lookup(recorded.streamId)
    }
    // A contact whose creation came before the cursor; one erased since has no events to show.
    // A lookup that fails ends the stream (the client resumes after the last event it was sent):
    // taken as "erased", it would skip that contact's events.
    const lookup = (contactId: string): Effect.Effect<string | undefined, StoreError.StoreUnavailable> =>
      contacts.findById(projectId, contactId).pipe(
        Effect.map(Option.match({
          onNone: () => undefined,
          onSome: (contact) => {
            if (emails.size >= MaxEmails) emails.clear()
            emails.set(contactId, contact.email)
            return contact.email
          }
        }))
      )
    // The contacts a chunk needs looked up, asked for together (the database-backed stores batch
    // concurrent lookups, up to 256 in a statement): 16 at a time, a stream opened on 10 000 busy
    // contacts fell seconds behind the log while it met them.
    const lookupAll = (chunk: Chunk.Chunk<EventStore.RecordedEvent>) => {
      const told = new Set<string>()
      const unknown = new Set<string>()
      for (const { event, streamId } of chunk) {
        if (event._tag === "ContactCreated" || event._tag === "ContactEmailChanged" || event._tag === "ContactErased") {
          told.add(streamId)
        } else if (!told.has(streamId) && !emails.has(streamId)) unknown.add(streamId)
      }
      return Effect.forEach(unknown, lookup, { concurrency: 256, discard: true })
    }
    // Where this stream is, for its lag (behaviour §9): the checkpoint of the last event sent.
    let last = after
    const events = LogStream.events({ projectId, after, batchSize: 500 }).pipe(
      // Per chunk, not per event: a page of the log stays one piece of text.
      Stream.mapChunks((chunk) => {
        const newest = Chunk.last(chunk)
        if (Option.isSome(newest)) last = LogStream.checkpointOf(newest.value)
        return chunk
      }),
      Stream.mapChunksEffect((chunk) =>
        Effect.zipRight(
          lookupAll(chunk),
          Effect.map(
            Effect.forEach(
              chunk,
              (recorded) => Effect.map(emailOf(recorded), (email) => frame(recorded, email, epoch) ?? "")
            ),
            (frames) => Chunk.of(frames.join(""))
          )
        )
      ),
      Stream.filter((text) => text.length > 0),
      Stream.catchAll(() => Stream.empty),
      Stream.provideService(LogStream.LogSource, source)
    )
    // Done once the key no longer grants the project: revoked or rotated, perhaps by another
    // process, so the store is asked, every second by default (one lookup; the stores batch them).
    const { stillGranted } = options
    const revoked = stillGranted === undefined ? undefined : Effect.sleep(options.keyCheckInterval ?? "1 second").pipe(
      Effect.zipRight(Effect.orElseSucceed(stillGranted, () => false)),
      Effect.repeat({ while: (granted) => granted })
    )
    // Counted as a subscriber, and its lag kept, from when it runs until it ends (behaviour §9).
    const open = Effect.acquireRelease(Effect.sync(Metrics.streamLag), (lag) => Effect.sync(() => lag.close()))
    return Stream.unwrapScoped(Effect.map(open, (lag) => {
      const pings = Stream.repeatEffectWithSchedule(
        // Each ping also measures how far behind the log's head this stream is.
        Effect.as(
          Effect.ignore(
            Effect.flatMap(source.lag(last, projectId), (behind) => Effect.sync(() => lag.set(behind.events)))
          ),
          ping
        ),
        Schedule.spaced(options.pingInterval ?? Duration.seconds(15))
      ).pipe(Stream.drop(1))
      const stream = Stream.concat(
        Stream.make(preamble),
        Stream.merge(events, pings, { haltStrategy: "left" })
      )
      return revoked === undefined ? stream : Stream.interruptWhen(stream, revoked)
    }))
  })
