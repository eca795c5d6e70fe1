/**
 * What the answers look like: the JSON of a contact, a tracked event, a track, a batch, a
 * suppressed email and a segment, and the replies that carry them. `Api` states the same shapes as schemas for
 * the OpenAPI document; `openapi.test.ts` checks answers against it.
 */
import type * as Contact from "@tracklog/core/Contact"
import type * as Contacts from "@tracklog/core/Contacts"
import type * as Idempotency from "@tracklog/core/Idempotency"
import type * as Membership from "@tracklog/core/Membership"
import type * as Segments from "@tracklog/core/Segments"
import * as Timestamp from "@tracklog/core/Timestamp"
import * as Track from "@tracklog/core/Track"
import type * as TrackBatch from "@tracklog/core/TrackBatch"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Handlers from "./Handlers.js"

/** A `200` reply with `body` as JSON. */
export const ok = (body: unknown): Handlers.Reply => ({ status: 200, body: JSON.stringify(body) })

/** A `204 No Content` reply: the server sends no body and no content headers. */
export const noContent: Handlers.Reply = { status: 204, body: "" }

/** A contact as the read API shows it (`Api.ContactView`, behaviour §3). */
export const contact = (contact: Contact.Contact) => ({
  id: contact.id,
  email: contact.email,
  subscribed: contact.subscribed,
  data: contact.data,
  createdAt: Timestamp.iso(contact.createdAt),
  updatedAt: Timestamp.iso(contact.updatedAt)
})

/** An event of a contact's timeline as the read API shows it (`Api.EventView`, behaviour §3). */
export const event = (event: Contacts.TimelineEvent) => ({ ...event, createdAt: Timestamp.iso(event.createdAt) })

/** What a track answers in `data` (behaviour §1.7). */
export const track = (result: Track.TrackResult) => ({
  contact: result.contact,
  event: result.event,
  timestamp: Timestamp.iso(result.timestamp)
})

/** What a track of a suppressed email with no contact answers in `data`: nothing was stored (behaviour §7). */
export const suppressed = (timestamp: Date) => ({
  contact: null,
  event: null,
  timestamp: Timestamp.iso(timestamp),
  suppressed: true
})

/** The answer to a track (behaviour §1.7): what is sent, and stored with an idempotency key. */
export const trackAnswer = (result: Track.TrackResult): Handlers.Reply => ok({ success: true, data: track(result) })

/** The answer to a track of a suppressed email, timed now (behaviour §7). */
export const suppressedAnswer: Effect.Effect<Handlers.Reply> = Effect.map(
  Clock.currentTimeMillis,
  (millis) => ok({ success: true, data: suppressed(new Date(millis)) })
)

/** The answer to a track with an idempotency key: a suppressed email's too is stored for the key (behaviour §6). */
export const keyedTrackAnswer = (result: Track.KeyedResult): Handlers.Reply =>
  Track.isSuppressed(result) ? ok({ success: true, data: suppressed(result.timestamp) }) : trackAnswer(result)

/** The answer to a batch (behaviour §8): one result per item, in order. */
export const batchAnswer = (result: TrackBatch.Result): Handlers.Reply =>
  ok({
    success: true,
    data: {
      accepted: result.accepted,
      rejected: result.rejected,
      suppressed: result.suppressed,
      results: result.items.map((item) =>
        item._tag === "Accepted"
          ? { success: true, data: track(item) }
          : item._tag === "Suppressed"
          ? { success: true, data: suppressed(item.timestamp) }
          : { success: false, error: { code: "VALIDATION_ERROR", errors: item.error.issues } }
      )
    }
  })

/** The answer of an idempotent request, first time or replayed; a replay says so (behaviour §6). */
export const idempotentAnswer = <R>(outcome: Idempotency.Outcome<R>): Handlers.Reply =>
  outcome._tag === "Replayed"
    ? { ...outcome.answer, headers: { "idempotent-replayed": "true" } }
    : outcome.answer!

/** A segment as the API shows it (`SegmentApi.SegmentView`, behaviour §11.2). */
export const segment = (summary: Segments.Summary) => ({
  id: summary.segment.id,
  name: summary.segment.name,
  slug: summary.segment.slug,
  condition: summary.segment.condition,
  trackMembership: summary.segment.trackMembership,
  members: summary.members,
  status: summary.status,
  createdAt: Timestamp.iso(summary.segment.createdAt),
  updatedAt: Timestamp.iso(summary.segment.updatedAt)
})

/** A segment a contact is in (`SegmentApi.ContactSegmentView`). */
export const contactSegment = (entered: Segments.Entered) => ({
  ...segment(entered),
  enteredAt: Timestamp.iso(entered.enteredAt)
})

/** A segment's member: the contact as the read API shows it, and when it entered. */
export const member = (member: Membership.Member) => ({
  ...contact(member.contact),
  enteredAt: Timestamp.iso(member.enteredAt)
})
