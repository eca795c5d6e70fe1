/**
 * The handlers of `Api`'s `webhooks` group (behaviour §12): endpoints made, read, changed, deleted
 * and their secrets rotated through `WebhookEndpoints.execute`; a new URL checked by `SsrfGuard`
 * (`422`, `errors[].code` `url_not_allowed`); an endpoint's deliveries listed and retried.
 */
import * as Ids from "@tracklog/core/Ids"
import * as Timestamp from "@tracklog/core/Timestamp"
import type * as WebhookEndpoint from "@tracklog/core/WebhookEndpoint"
import * as WebhookEndpointCommand from "@tracklog/core/WebhookEndpointCommand"
import * as WebhookEndpoints from "@tracklog/core/WebhookEndpoints"
import * as WebhookOutbox from "@tracklog/core/WebhookOutbox"
import * as SsrfGuard from "@tracklog/webhooks/SsrfGuard"
import * as Webhooks from "@tracklog/webhooks/Webhooks"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ApiError from "./ApiError.js"
import type * as Handlers from "./Handlers.js"
import * as Params from "./Params.js"
import * as Views from "./Views.js"
import * as WebhookApi from "./WebhookApi.js"

/** What the group's handlers need. */
export type Services = WebhookEndpoints.WebhookEndpoints | WebhookOutbox.WebhookOutbox | Ids.Ids

/** An endpoint as the API shows it (`WebhookApi.WebhookView`): never its secret. */
export const view = (endpoint: WebhookEndpoint.WebhookEndpoint) => ({
  id: endpoint.id,
  url: endpoint.url,
  events: endpoint.events,
  description: endpoint.description,
  enabled: endpoint.enabled,
  createdAt: Timestamp.iso(endpoint.createdAt),
  updatedAt: Timestamp.iso(endpoint.updatedAt)
})

/** A message and its attempts as the API shows them (`WebhookApi.WebhookDeliveryView`). */
export const deliveryView = (message: WebhookOutbox.Message) => ({
  id: message.id,
  type: message.type,
  status: message.status,
  createdAt: Timestamp.iso(message.createdAt),
  nextAttemptAt: message.nextAttemptAt === null ? null : Timestamp.iso(message.nextAttemptAt),
  payload: JSON.parse(message.payload) as unknown,
  attempts: message.attempts.map((a) => ({ ...a, at: Timestamp.iso(a.at) }))
})

const json = (status: number, body: unknown): Handlers.Reply => ({ status, body: JSON.stringify(body) })

// Endpoint ids are UUIDs: anything else names no endpoint, and never reaches the store.
const endpointId = (request: Handlers.Request) => {
  const id = request.params["id"]!
  return Ids.isUuid(id) ? Effect.succeed(id) : Effect.fail(ApiError.webhookNotFound())
}

const urlNotAllowed = (message: string) => ApiError.validation([{ field: "url", code: "url_not_allowed", message }])

// The target a URL names must be public, unless the settings allow private ones (behaviour §12).
const checkTarget = (url: string, settings: Webhooks.Options) =>
  SsrfGuard.checkUrl(url, settings).pipe(
    Effect.mapError((e) =>
      e._tag === "UrlNotAllowed"
        // The resolved address is not repeated: it would tell a caller about the server's network.
        ? urlNotAllowed(
          e.reason === "scheme" || e.reason === "invalid_url"
            ? e.message
            : "The host is, or resolves to, a loopback, private or link-local address"
        )
        : urlNotAllowed(`The host ${e.host} does not resolve`)
    )
  )

const decoded = <A>(either: Either.Either<A, WebhookEndpointCommand.InvalidWebhookEndpoint>) =>
  Either.match(either, { onLeft: (e) => Effect.fail(ApiError.fromDomain(e)), onRight: Effect.succeed })

const cursorOf = (query: URLSearchParams) => {
  const cursor = query.get("cursor") || undefined
  if (cursor === undefined) return Effect.succeed(undefined)
  return /^[1-9]\d{0,15}$/.test(cursor) ? Effect.succeed(Number(cursor)) : Effect.fail(
    ApiError.validation([{
      field: "cursor",
      code: "invalid_cursor",
      message: "cursor must be a value returned by a previous page"
    }])
  )
}

const statusOf = (query: URLSearchParams) => {
  const status = query.get("status")
  if (status === null) return Effect.succeed(undefined)
  const known = WebhookOutbox.statuses.find((s) => s === status)
  return known !== undefined ? Effect.succeed(known) : Effect.fail(
    ApiError.validation([{
      field: "status",
      code: "invalid_enum_value",
      message: "status must be pending, delivered or failed"
    }])
  )
}

/** The handlers of the `webhooks` group. */
export const make = Effect.gen(function*() {
  const context = yield* Effect.context<Services>()
  // Read once, when the handlers are made: the server's settings, else refuse private targets.
  const settings = yield* Webhooks.settings
  const endpoints = yield* WebhookEndpoints.WebhookEndpoints
  const outbox = yield* WebhookOutbox.WebhookOutbox
  const execute = (projectId: string, command: WebhookEndpointCommand.Command) =>
    WebhookEndpoints.execute(projectId, command).pipe(
      Effect.provide(context),
      Effect.mapError(ApiError.fromDomain),
      Effect.flatMap((state) => (state === null ? Effect.fail(ApiError.webhookNotFound()) : Effect.succeed(state)))
    )
  const found = (projectId: string, id: string) =>
    endpoints.get(projectId, id).pipe(
      Effect.mapError(ApiError.fromDomain),
      Effect.flatMap(Option.match({ onNone: () => Effect.fail(ApiError.webhookNotFound()), onSome: Effect.succeed }))
    )

  return {
    createWebhook: {
      handle: (request) =>
        Effect.gen(function*() {
          const command = yield* decoded(WebhookEndpointCommand.decodeCreate(request.body))
          yield* checkTarget(command.url, settings)
          const endpoint = yield* execute(request.grant.projectId, command)
          return json(201, { ...view(endpoint), secret: endpoint.secret })
        })
    },
    listWebhooks: {
      handle: (request) =>
        endpoints.list(request.grant.projectId).pipe(
          Effect.mapBoth({ onFailure: ApiError.fromDomain, onSuccess: (all) => json(200, { data: all.map(view) }) })
        )
    },
    getWebhook: {
      handle: (request) =>
        Effect.flatMap(
          endpointId(request),
          (id) => Effect.map(found(request.grant.projectId, id), (endpoint) => json(200, view(endpoint)))
        )
    },
    updateWebhook: {
      handle: (request) =>
        Effect.gen(function*() {
          const id = yield* endpointId(request)
          const command = yield* decoded(WebhookEndpointCommand.decodeUpdate(id, request.body))
          if (command.url !== undefined) yield* checkTarget(command.url, settings)
          return json(200, view(yield* execute(request.grant.projectId, command)))
        })
    },
    deleteWebhook: {
      handle: (request) =>
        Effect.gen(function*() {
          const id = yield* endpointId(request)
          yield* WebhookEndpoints.execute(request.grant.projectId, { _tag: "DeleteEndpoint", endpointId: id }).pipe(
            Effect.provide(context),
            Effect.mapError(ApiError.fromDomain)
          )
          return Views.noContent
        })
    },
    rotateWebhookSecret: {
      handle: (request) =>
        Effect.gen(function*() {
          const id = yield* endpointId(request)
          const endpoint = yield* execute(request.grant.projectId, { _tag: "RotateSecret", endpointId: id })
          return json(200, {
            id: endpoint.id,
            secret: endpoint.secret,
            previousSecretExpiresAt: Timestamp.iso(endpoint.previous!.until)
          })
        })
    },
    webhookDeliveries: {
      handle: (request) =>
        Effect.gen(function*() {
          const limit = yield* Params.limit(request.query, WebhookApi.DeliveriesPage)
          const status = yield* statusOf(request.query)
          const cursor = yield* cursorOf(request.query)
          const id = yield* endpointId(request)
          yield* found(request.grant.projectId, id)
          const page = yield* Effect.mapError(
            outbox.list(request.grant.projectId, id, { status, limit, cursor }),
            ApiError.fromDomain
          )
          return json(200, {
            data: page.data.map(deliveryView),
            hasMore: page.hasMore,
            ...(page.cursor === undefined ? {} : { cursor: String(page.cursor) })
          })
        })
    },
    retryWebhookDelivery: {
      handle: (request) =>
        Effect.gen(function*() {
          const id = yield* endpointId(request)
          yield* found(request.grant.projectId, id)
          const now = new Date(yield* Clock.currentTimeMillis)
          const retried = yield* Effect.mapError(
            outbox.retry(request.grant.projectId, id, request.params["deliveryId"]!, now),
            ApiError.fromDomain
          )
          if (Option.isNone(retried)) return yield* ApiError.deliveryNotFound()
          return json(200, deliveryView(retried.value))
        })
    }
  } satisfies Handlers.Group<typeof WebhookApi.WebhooksGroup>
})
