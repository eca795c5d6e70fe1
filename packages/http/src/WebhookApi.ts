/**
 * The `webhooks` group of `Api` (behaviour §12): endpoints, their secrets, their deliveries.
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { Authorization, authErrors, error, page, PageParams } from "./internal/apiParts.js"

/** A webhook endpoint as the API shows it (behaviour §12); never its secret, but when it is made. */
export const WebhookView = Schema.Struct({
  id: Schema.String,
  url: Schema.String,
  events: Schema.Array(Schema.String).annotations({ description: "Event names, or prefixes ending in *" }),
  description: Schema.NullOr(Schema.String),
  enabled: Schema.Boolean,
  createdAt: Schema.String,
  updatedAt: Schema.String
}).annotations({ identifier: "Webhook" })

/** The answer to `POST /webhooks`: the endpoint and its secret, shown this once. */
export const WebhookCreated = Schema.Struct({
  ...WebhookView.fields,
  secret: Schema.String.annotations({ description: "whsec_…: verify deliveries with it; shown only now" })
}).annotations({ identifier: "WebhookCreated" })

/** The answer to a secret's rotation. */
export const WebhookSecretRotation = Schema.Struct({
  id: Schema.String,
  secret: Schema.String.annotations({ description: "The new whsec_… secret; shown only now" }),
  previousSecretExpiresAt: Schema.String.annotations({
    description: "Until then the previous secret signs too: both signatures are sent"
  })
}).annotations({ identifier: "WebhookSecretRotation" })

/** One attempt of a delivery. */
export const WebhookAttemptView = Schema.Struct({
  at: Schema.String,
  status: Schema.NullOr(Schema.Number).annotations({ description: "The answer's status; null when none came" }),
  durationMs: Schema.Number,
  error: Schema.NullOr(Schema.String)
}).annotations({ identifier: "WebhookAttempt" })

/** A message to an endpoint and its attempts. */
export const WebhookDeliveryView = Schema.Struct({
  id: Schema.String.annotations({ description: "The webhook-id header of every attempt" }),
  type: Schema.String,
  status: Schema.Literal("pending", "delivered", "failed"),
  createdAt: Schema.String,
  nextAttemptAt: Schema.NullOr(Schema.String),
  payload: Schema.Unknown.annotations({ description: "The body sent: {type, timestamp, data}" }),
  attempts: Schema.Array(WebhookAttemptView)
}).annotations({ identifier: "WebhookDelivery" })

export const WebhookList = Schema.Struct({ data: Schema.Array(WebhookView) }).annotations({
  identifier: "WebhookList"
})
export const WebhookDeliveryList = page(WebhookDeliveryView, "WebhookDeliveryList")

/** The page sizes of an endpoint's deliveries. */
export const DeliveriesPage = { max: 100, default: 20 } as const

/** The body of `POST /webhooks`. */
export const WebhookCreateRequest = Schema.Struct({
  url: Schema.String.annotations({ description: "http(s); not a loopback, private or link-local host" }),
  events: Schema.Array(Schema.String).annotations({
    description: "1–50 patterns: an event name (purchase, segment.vip.entry, contact.created) or a prefix ending in *"
  }),
  description: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "WebhookCreateRequest" })

/** The body of `PATCH /webhooks/:id`: at least one field. */
export const WebhookUpdateRequest = Schema.Struct({
  url: Schema.optional(Schema.String),
  events: Schema.optional(Schema.Array(Schema.String)),
  enabled: Schema.optional(Schema.Boolean),
  description: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "WebhookUpdateRequest" })

const WebhookPath = Schema.Struct({ id: Schema.String })
const webhookNotFound = error(404, "NOT_FOUND: no such endpoint (unknown, deleted, or another project's)")
const webhookInvalid = error(
  422,
  "VALIDATION_ERROR: a field rule is broken; a URL that is not http(s) or whose host is or resolves to a loopback, private or link-local address has errors[].code url_not_allowed"
)

/** `POST /webhooks` (behaviour §12). */
export const createWebhook = HttpApiEndpoint.post("createWebhook", "/webhooks")
  .setPayload(WebhookCreateRequest)
  .addSuccess(WebhookCreated, { status: 201 })
  .addError(...error(400, "VALIDATION_ERROR: the body is not JSON"))
  .addError(...error(403, "FORBIDDEN: a public key"))
  .addError(...error(413, "PAYLOAD_TOO_LARGE"))
  .addError(...webhookInvalid)
  .annotate(OpenApi.Summary, "Create a webhook endpoint")
  .annotate(
    OpenApi.Description,
    "Matching events are POSTed to the URL, signed as Standard Webhooks 1.0 with the secret in the answer (shown only here)."
  )

/** `GET /webhooks`. */
export const listWebhooks = HttpApiEndpoint.get("listWebhooks", "/webhooks")
  .addSuccess(WebhookList)
  .addError(...error(403, "FORBIDDEN: a public key"))
  .annotate(OpenApi.Summary, "List the project's webhook endpoints, oldest first")

/** `GET /webhooks/:id`. */
export const getWebhook = HttpApiEndpoint.get("getWebhook", "/webhooks/:id")
  .setPath(WebhookPath)
  .addSuccess(WebhookView)
  .addError(...error(403, "FORBIDDEN: a public key"))
  .addError(...webhookNotFound)
  .annotate(OpenApi.Summary, "Get a webhook endpoint (no secret)")

/** `PATCH /webhooks/:id`. */
export const updateWebhook = HttpApiEndpoint.patch("updateWebhook", "/webhooks/:id")
  .setPath(WebhookPath)
  .setPayload(WebhookUpdateRequest)
  .addSuccess(WebhookView)
  .addError(...error(400, "VALIDATION_ERROR: the body is not JSON"))
  .addError(...error(403, "FORBIDDEN: a public key"))
  .addError(...webhookNotFound)
  .addError(...error(413, "PAYLOAD_TOO_LARGE"))
  .addError(...webhookInvalid)
  .annotate(OpenApi.Summary, "Change a webhook endpoint's url, events, enabled or description")

/** `DELETE /webhooks/:id`: 204. */
export const deleteWebhook = HttpApiEndpoint.del("deleteWebhook", "/webhooks/:id")
  .setPath(WebhookPath)
  .addError(...error(403, "FORBIDDEN: a public key"))
  .addError(...webhookNotFound)
  .annotate(OpenApi.Summary, "Delete a webhook endpoint and its deliveries")

/** `POST /webhooks/:id/rotate-secret`. */
export const rotateWebhookSecret = HttpApiEndpoint.post("rotateWebhookSecret", "/webhooks/:id/rotate-secret")
  .setPath(WebhookPath)
  .addSuccess(WebhookSecretRotation)
  .addError(...error(403, "FORBIDDEN: a public key"))
  .addError(...webhookNotFound)
  .annotate(OpenApi.Summary, "Sign with a new secret; the previous one still signs for 24 h")

/** `GET /webhooks/:id/deliveries`. */
export const webhookDeliveries = HttpApiEndpoint.get("webhookDeliveries", "/webhooks/:id/deliveries")
  .setPath(WebhookPath)
  .setUrlParams(Schema.extend(
    PageParams(DeliveriesPage),
    Schema.Struct({ status: Schema.optional(Schema.Literal("pending", "delivered", "failed")) })
  ))
  .addSuccess(WebhookDeliveryList)
  .addError(...error(403, "FORBIDDEN: a public key"))
  .addError(...webhookNotFound)
  .addError(...error(422, "VALIDATION_ERROR: bad status, limit or cursor"))
  .annotate(OpenApi.Summary, "An endpoint's deliveries with their attempts, newest first")

/** `POST /webhooks/:id/deliveries/:deliveryId/retry`. */
export const retryWebhookDelivery = HttpApiEndpoint.post(
  "retryWebhookDelivery",
  "/webhooks/:id/deliveries/:deliveryId/retry"
)
  .setPath(Schema.Struct({ id: Schema.String, deliveryId: Schema.String }))
  .addSuccess(WebhookDeliveryView)
  .addError(...error(403, "FORBIDDEN: a public key"))
  .addError(...error(404, "NOT_FOUND: no such endpoint, or no such delivery of it"))
  .annotate(OpenApi.Summary, "Send a delivery again now (pending, due at once, its attempts kept)")

export class WebhooksGroup extends HttpApiGroup.make("webhooks")
  .add(authErrors(createWebhook))
  .add(authErrors(listWebhooks))
  .add(authErrors(getWebhook))
  .add(authErrors(updateWebhook))
  .add(authErrors(deleteWebhook))
  .add(authErrors(rotateWebhookSecret))
  .add(authErrors(webhookDeliveries))
  .add(authErrors(retryWebhookDelivery))
  .middleware(Authorization)
{}
