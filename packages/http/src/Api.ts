/**
 * The HTTP API as one `HttpApi` definition: the Plunk-compatible track route, the contact reads,
 * segments (`SegmentApi`) and health. It is the single description of the API: the OpenAPI document and the docs page
 * are derived from it, and the server serves exactly its endpoints (see `Server`).
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import type * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import * as ContactUpdate from "@tracklog/core/ContactUpdate"
import * as Json from "@tracklog/core/Json"
import * as TrackBatch from "@tracklog/core/TrackBatch"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as Context from "effect/Context"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as ApiParts from "./internal/apiParts.js"
import * as OpenApiFix from "./internal/openApi.js"
import * as Prometheus from "./internal/prometheus.js"
import * as SegmentApi from "./SegmentApi.js"
import * as WebhookApi from "./WebhookApi.js"

/** The error envelope (behaviour §2), its field errors, and the bearer key middleware. */
export { Authorization, ErrorEnvelope, FieldError } from "./internal/apiParts.js"

const { authErrors, Authorization, error, ErrorEnvelope, FieldError, page, PageParams } = ApiParts

/** The answer to a track (behaviour §1.7). */
export const TrackResponse = Schema.Struct({
  success: Schema.Literal(true),
  data: Schema.Struct({
    contact: Schema.String.annotations({ description: "The contact's id" }),
    event: Schema.String.annotations({ description: "The tracked event's id" }),
    timestamp: Schema.String.annotations({ description: "The event time, ISO-8601" })
  })
}).annotations({ identifier: "TrackResponse" })

/** The answer to a track for a suppressed email that has no contact: nothing was stored (behaviour §7). */
export const TrackSuppressedResponse = Schema.Struct({
  success: Schema.Literal(true),
  data: Schema.Struct({
    contact: Schema.Null,
    event: Schema.Null,
    timestamp: Schema.String.annotations({ description: "The server's time, ISO-8601" }),
    suppressed: Schema.Literal(true)
  })
}).annotations({ identifier: "TrackSuppressedResponse", description: "The email is suppressed: nothing was stored" })

/** One item's answer in a batch: the track answer, the suppressed answer, or its validation errors. */
export const BatchItemResult = Schema.Union(
  TrackResponse,
  TrackSuppressedResponse,
  Schema.Struct({
    success: Schema.Literal(false),
    error: Schema.Struct({ code: Schema.Literal("VALIDATION_ERROR"), errors: Schema.Array(FieldError) })
  })
).annotations({ identifier: "BatchItemResult" })

/** The answer to a batch (behaviour §8). */
export const TrackBatchResponse = Schema.Struct({
  success: Schema.Literal(true),
  data: Schema.Struct({
    accepted: Schema.Number.annotations({ description: "Items applied" }),
    rejected: Schema.Number.annotations({ description: "Items refused for their validation errors" }),
    suppressed: Schema.Number.annotations({
      description:
        "Items whose email is suppressed: nothing stored for them. accepted + rejected + suppressed = the items"
    }),
    results: Schema.Array(BatchItemResult).annotations({ description: "One per item, in the request's order" })
  })
}).annotations({ identifier: "TrackBatchResponse" })

/** The body of a batch (behaviour §8): 1–1000 track bodies. */
export const TrackBatchRequest = Schema.Struct({
  events: Schema.Array(TrackCommand.TrackCommand).pipe(Schema.minItems(1), Schema.maxItems(TrackBatch.MaxItems))
}).annotations({ identifier: "TrackBatchRequest" })

/** The optional `Idempotency-Key` header of the write routes (behaviour §6). */
export const IdempotencyHeaders = Schema.Struct({
  "idempotency-key": Schema.optional(Schema.String.annotations({
    description:
      "1–255 visible ASCII characters, optionally quoted. A retry with the same key and body gets the first answer again (header Idempotent-Replayed: true) and appends nothing, also while the first request still runs (the retry waits for it); kept at least 24 h."
  }))
})

const idempotencyErrors = <E extends HttpApiEndpoint.HttpApiEndpoint.Any>(endpoint: E): E =>
  (endpoint as unknown as HttpApiEndpoint.HttpApiEndpoint.AnyWithProps)
    .setHeaders(IdempotencyHeaders)
    .addError(
      ...error(
        400,
        "VALIDATION_ERROR: a malformed Idempotency-Key, or the header twice (errors[].code invalid_idempotency_key)"
      )
    )
    .addError(
      ...error(422, "IDEMPOTENCY_KEY_REUSED: this key was used with a different body; nothing was appended")
    ) as unknown as E

/** A contact as the read API shows it. */
export const ContactView = Schema.Struct({
  id: Schema.String,
  email: Schema.String,
  subscribed: Schema.Boolean,
  data: Json.Object,
  createdAt: Schema.String,
  updatedAt: Schema.String
}).annotations({ identifier: "Contact" })

/** An event as the read API shows it: tracked events and `contact.subscribed` / `contact.unsubscribed`. */
export const EventView = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  data: Json.Object,
  createdAt: Schema.String
}).annotations({ identifier: "Event" })

export const ContactList = page(ContactView, "ContactList")
export const EventList = page(EventView, "EventList")

/**
 * The key an endpoint behind `Authorization` wants (behaviour §1.1): `any` key of the project, or
 * only its `secret` key. Set on a group, it holds for each of its endpoints; unset, it is `secret`.
 */
export class KeyRequirement
  extends Context.Tag("@tracklog/http/Api/KeyRequirement")<KeyRequirement, "any" | "secret">()
{}

/**
 * The body limit of an endpoint with a payload: the server's (`default`, when unset) or the batch
 * route's larger one (`batch`: `TRACKLOG_BATCH_BODY_LIMIT`, behaviour §8). The pipeline reads it.
 */
export class BodyLimit extends Context.Tag("@tracklog/http/Api/BodyLimit")<BodyLimit, "default" | "batch">() {}

/** Page sizes of the list endpoints (behaviour §3), for their URL parameters and their handlers. */
export const ContactsPage = { max: 100, default: 20 } as const
export const EventsPage = { max: 1000, default: 100 } as const

/** `POST /v1/track`. */
export const track = HttpApiEndpoint.post("track", "/v1/track")
  .setPayload(TrackCommand.TrackCommand)
  .addSuccess(TrackResponse)
  .addSuccess(TrackSuppressedResponse)
  .addError(...error(400, "VALIDATION_ERROR: the body is not JSON"))
  .addError(...error(413, "PAYLOAD_TOO_LARGE"))
  .addError(...error(422, "VALIDATION_ERROR: a field rule is broken; see errors[]"))
  .annotate(OpenApi.Summary, "Track an event for a contact")
  .annotate(
    OpenApi.Description,
    "Creates the contact if absent (one per project and canonical email), applies `subscribed` and `data`, and records a new event. Public and secret keys both work."
  )

/** `POST /v1/track/batch`. */
export const trackBatch = HttpApiEndpoint.post("trackBatch", "/v1/track/batch")
  .setPayload(TrackBatchRequest)
  .addSuccess(TrackBatchResponse)
  .addError(...error(400, "VALIDATION_ERROR: the body is not JSON"))
  .addError(...error(413, "PAYLOAD_TOO_LARGE: over TRACKLOG_BATCH_BODY_LIMIT (default 10 MiB)"))
  .addError(...error(422, "VALIDATION_ERROR: no events array, empty, or over 1000 items"))
  .annotate(BodyLimit, "batch")
  .annotate(OpenApi.Summary, "Track up to 1000 events at once")
  .annotate(
    OpenApi.Description,
    "Each item follows every rule of /v1/track, in array order. Invalid items are rejected alone; the valid ones commit together, all or none (503 when they cannot). Public and secret keys both work."
  )

/** `GET /contacts/:id`, and `?at=` for the contact as it was (behaviour §5.2). */
export const getContact = HttpApiEndpoint.get("getContact", "/contacts/:id")
  .setPath(Schema.Struct({ id: Schema.String }))
  .setUrlParams(Schema.Struct({
    at: Schema.optional(Schema.String).annotations({
      description: "An ISO-8601 instant: the contact as it was then, its events up to that time folded"
    })
  }))
  .addSuccess(ContactView)
  .addError(...error(403, "FORBIDDEN: a public key"))
  .addError(...error(404, "CONTACT_NOT_FOUND, also when it did not exist yet at `at`"))
  .addError(...error(422, "VALIDATION_ERROR: `at` is not an ISO-8601 time (code invalid_timestamp)"))
  .annotate(OpenApi.Summary, "Get a contact, now or as it was at a time")

/** `GET /contacts`. */
export const listContacts = HttpApiEndpoint.get("listContacts", "/contacts")
  .setUrlParams(Schema.extend(PageParams(ContactsPage), Schema.Struct({ email: Schema.optional(Schema.String) })))
  .addSuccess(ContactList)
  .addError(...error(403, "FORBIDDEN: a public key"))
  .addError(...error(422, "VALIDATION_ERROR: bad limit"))
  .annotate(OpenApi.Summary, "List contacts, oldest first, or find one by email")

/** `GET /contacts/:id/events`. */
export const contactEvents = HttpApiEndpoint.get("contactEvents", "/contacts/:id/events")
  .setPath(Schema.Struct({ id: Schema.String }))
  .setUrlParams(PageParams(EventsPage))
  .addSuccess(EventList)
  .addError(...error(403, "FORBIDDEN: a public key"))
  .addError(...error(404, "CONTACT_NOT_FOUND"))
  .addError(...error(422, "VALIDATION_ERROR: bad limit or cursor"))
  .annotate(OpenApi.Summary, "A contact's events, newest first")

/** The answer to a contact update (behaviour §10): the contact as `GET /contacts/:id` shows it. */
export const ContactUpdateResponse = Schema.Struct({
  success: Schema.Literal(true),
  data: ContactView
}).annotations({ identifier: "ContactUpdateResponse" })

/** `PATCH /contacts/:id` (behaviour §10). */
export const updateContact = HttpApiEndpoint.patch("updateContact", "/contacts/:id")
  .setPath(Schema.Struct({ id: Schema.String }))
  .setPayload(ContactUpdate.ContactPatch)
  .addSuccess(ContactUpdateResponse)
  .addError(...error(400, "VALIDATION_ERROR: the body is not JSON"))
  .addError(...error(403, "FORBIDDEN: a public key"))
  .addError(...error(404, "CONTACT_NOT_FOUND: unknown, another project's, or erased"))
  .addError(...error(409, "CONTACT_EXISTS: another contact of the project has this email; nothing changed"))
  .addError(...error(413, "PAYLOAD_TOO_LARGE"))
  .addError(
    ...error(422, "VALIDATION_ERROR: an empty body, a field rule broken, or a one-shot data value; see errors[]")
  )
  .annotate(OpenApi.Summary, "Change a contact's subscription, data or email")
  .annotate(
    OpenApi.Description,
    "Decided like a track on the contact's state: a subscription flip records contact.subscribed or contact.unsubscribed, a data change records the data-change event, an email change records an email-change event; nothing is recorded when nothing changes, and no tracked event ever. The email is trimmed and lowercased; a suppressed email may be set."
  )

/** `DELETE /contacts/:id`: 204, no body. */
export const eraseContact = HttpApiEndpoint.del("eraseContact", "/contacts/:id")
  .setPath(Schema.Struct({ id: Schema.String }))
  .setUrlParams(Schema.Struct({
    suppress: Schema.optional(Schema.Literal("true", "false")).annotations({
      description:
        "`true`: also put the email on the project's suppression list (as a keyed hash), so tracks for it store nothing"
    })
  }))
  .addError(...error(403, "FORBIDDEN: a public key"))
  .addError(...error(404, "CONTACT_NOT_FOUND: unknown, another project's, or already erased"))
  .addError(...error(422, "VALIDATION_ERROR: suppress is not true or false"))
  .annotate(OpenApi.Summary, "Erase a contact")
  .annotate(
    OpenApi.Description,
    "Removes the contact, all its events and the idempotency records of its tracks from the store. The log keeps a `contact.erased` marker with the contact id and the time only. A later track for the email creates a new contact, unless `suppress=true`."
  )

/** `DELETE /suppressions?email=`: 204, no body. */
export const liftSuppression = HttpApiEndpoint.del("liftSuppression", "/suppressions")
  .setUrlParams(Schema.Struct({ email: Schema.String }))
  .addError(...error(403, "FORBIDDEN: a public key"))
  .addError(...error(404, "NOT_FOUND: the email is not suppressed"))
  .addError(...error(422, "VALIDATION_ERROR: email missing or invalid"))
  .annotate(OpenApi.Summary, "Lift the suppression of an email")
  .annotate(
    OpenApi.Description,
    "The email (trimmed, lowercased) may be tracked again; a track then creates a new contact."
  )
/** `GET /events/stream`: the project's log as Server-Sent Events (behaviour §5.1). */
export const eventsStream = HttpApiEndpoint.get("eventsStream", "/events/stream")
  .setUrlParams(Schema.Struct({
    after: Schema.optional(Schema.String).annotations({
      description: "Resume strictly after this event `id` (as the `Last-Event-ID` header does; the header wins)"
    }),
    from: Schema.optional(Schema.Literal("start", "now")).annotations({
      description:
        "Without a cursor: `start` (default) for the project's whole log, `now` for what is appended after the stream opens"
    })
  }))
  .setHeaders(Schema.Struct({
    "last-event-id": Schema.optional(Schema.String).annotations({ description: "The `id` of the last event received" })
  }))
  .addSuccess(
    HttpApiSchema.Text({ contentType: "text/event-stream" }).annotations({
      description:
        "`retry: 1000`, then per event `id: <cursor>` / `event: <type>` / `data: <JSON>`: contact.created, " +
        "contact.subscribed, contact.unsubscribed, contact.updated, event.tracked, contact.erased; `: ping` every 15 s when idle"
    })
  )
  .addError(
    ...error(
      400,
      "VALIDATION_ERROR: a malformed cursor, one of another store's log, or an unknown `from` (code invalid_cursor)"
    )
  )
  .addError(...error(403, "FORBIDDEN: a public key"))
  .annotate(OpenApi.Summary, "Follow the project's log live (Server-Sent Events)")

/** `GET /health`. */
export const health = HttpApiEndpoint.get("health", "/health")
  .addSuccess(Schema.Struct({ status: Schema.Literal("ok") }))
  .addError(...error(503, "SERVICE_UNAVAILABLE"))
  .annotate(OpenApi.Summary, "Liveness and store reachability")

export class TrackGroup extends HttpApiGroup.make("track")
  .add(idempotencyErrors(authErrors(track)))
  .add(idempotencyErrors(authErrors(trackBatch)))
  .middleware(Authorization)
  .annotate(KeyRequirement, "any")
{}

export class ContactsGroup extends HttpApiGroup.make("contacts")
  .add(authErrors(getContact))
  .add(authErrors(listContacts))
  .add(authErrors(contactEvents))
  .add(authErrors(updateContact))
  .add(authErrors(eraseContact))
  .middleware(Authorization)
{}

export class SuppressionsGroup
  extends HttpApiGroup.make("suppressions").add(authErrors(liftSuppression)).middleware(Authorization)
{}
export class EventsGroup extends HttpApiGroup.make("events").add(authErrors(eventsStream)).middleware(Authorization) {}

/** Segments and audiences (behaviour §11.2): `SegmentApi`. */
export const SegmentsGroup = SegmentApi.group({ ErrorEnvelope, ContactView, Authorization, authErrors })

export class HealthGroup extends HttpApiGroup.make("health").add(health) {}

/** The whole API. */
export class Api extends HttpApi.make("tracklog")
  .add(TrackGroup)
  .add(ContactsGroup)
  .add(SuppressionsGroup)
  .add(EventsGroup)
  .add(SegmentsGroup)
  .add(WebhookApi.WebhooksGroup)
  .add(HealthGroup)
  .addError(...error(404, "NOT_FOUND: unknown route"))
  .addError(...error(431, "REQUEST_HEADER_FIELDS_TOO_LARGE: the header block is over the server's limit"))
  .addError(...error(500, "INTERNAL_SERVER_ERROR"))
  .annotate(OpenApi.Title, "tracklog")
  .annotate(OpenApi.Version, "0.1.0")
  .annotate(
    OpenApi.Description,
    "Plunk's track API, event-sourced. Errors use the envelope of ErrorEnvelope. HEAD is answered wherever GET is, as GET without a body; any other method a known path does not declare answers 405 (components.responses.MethodNotAllowed) with `Allow`."
  )
{}

/** The name of every endpoint of `Api`. */
export type EndpointName = typeof Api extends HttpApi.HttpApi<any, infer Groups, any, any>
  ? HttpApiEndpoint.HttpApiEndpoint.Name<HttpApiGroup.HttpApiGroup.Endpoints<Groups>>
  : never

/** What the pipeline checks of a request before the endpoint's handler runs. */
export interface Requirements {
  /** The key it wants (behaviour §1.1): `none` outside `Authorization`, else `KeyRequirement`. */
  readonly key: "any" | "secret" | "none"
  /** Which body limit applies (`BodyLimit`); `none` when the endpoint has no payload: no body is read. */
  readonly body: "none" | "default" | "batch"
}

/** Each endpoint's `Requirements`, by name, read from its annotations and its group's. */
export const requirements = (): Readonly<Record<EndpointName, Requirements>> => {
  const out: Record<string, Requirements> = {}
  const auth = Authorization as unknown as HttpApiMiddleware.TagClassAny
  HttpApi.reflect(Api as unknown as HttpApi.HttpApi.AnyWithProps, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, group, mergedAnnotations }) => {
      const annotations = mergedAnnotations as Context.Context<KeyRequirement | BodyLimit>
      const guarded = group.middlewares.has(auth) || endpoint.middlewares.has(auth)
      out[endpoint.name] = {
        key: guarded
          ? Option.getOrElse(Context.getOption(annotations, KeyRequirement), () => "secret" as const)
          : "none",
        body: Option.isNone(endpoint.payloadSchema)
          ? "none"
          : Option.getOrElse(Context.getOption(annotations, BodyLimit), () => "default" as const)
      }
    }
  })
  return out as Record<EndpointName, Requirements>
}

/** The key each endpoint wants, by name: `none` for an endpoint outside `Authorization`. */
export const keyRequirements = (): Readonly<Record<EndpointName, Requirements["key"]>> => {
  const all = requirements()
  const out: Record<string, Requirements["key"]> = {}
  for (const name in all) out[name] = all[name as EndpointName].key
  return out as Record<EndpointName, Requirements["key"]>
}

/**
 * `GET /metrics` (behaviour §9): answered by the transports themselves (its answer is not JSON),
 * so described here rather than as an `HttpApiEndpoint`.
 */
export const metrics: OpenApiFix.TextOperation = {
  path: "/metrics",
  method: "get",
  operationId: "metrics.metrics",
  tag: "metrics",
  summary: "Prometheus metrics",
  description:
    "Prometheus text exposition format 0.0.4: requests by route, method and status, request and store operation durations, group commit batch sizes, stream subscribers and lag, rate-limited requests. No key.",
  contentType: Prometheus.contentType,
  errors: { 404: "NOT_FOUND: metrics are off (TRACKLOG_METRICS=off)", 500: "INTERNAL_SERVER_ERROR" }
}

/** The OpenAPI document of `Api`: every error answer is the `ErrorEnvelope` component. */
export const openApi = () =>
  OpenApiFix.fix(OpenApi.fromApi(Api, { additionalPropertiesStrategy: "allow" }), ErrorEnvelope, {
    additionalPropertiesStrategy: "allow",
    textOperations: [metrics],
    plainTextBodies: [track.path, trackBatch.path]
  })
