/**
 * The handlers of `Api`'s `segments` group (behaviour §11.2): segment definitions, a segment's
 * members, a contact's segments and audiences, over the `Segments` service. A server whose store
 * keeps no segments (no `Segments` in its context) answers these routes 503.
 */
import * as Ids from "@tracklog/core/Ids"
import * as SegmentCommand from "@tracklog/core/SegmentCommand"
import * as Segments from "@tracklog/core/Segments"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Api from "./Api.js"
import * as ApiError from "./ApiError.js"
import type * as Handlers from "./Handlers.js"
import * as Params from "./Params.js"
import * as SegmentApi from "./SegmentApi.js"
import * as Views from "./Views.js"

/** What the group's handlers need: nothing for sure; `Segments` when the store keeps segments. */
export type Services = never

/** A JSON reply with another status than 200. */
const reply = (status: number, body: unknown): Handlers.Reply => ({ status, body: JSON.stringify(body) })

/** The `:id` of a segment route: segment ids are UUIDs, anything else names no segment. */
const segmentId = (request: Handlers.Request): Effect.Effect<string, ApiError.ApiError> => {
  const id = request.params["id"]!
  return Ids.isUuid(id) ? Effect.succeed(id) : Effect.fail(ApiError.segmentNotFound())
}

const isObject = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** The body of `POST /contacts/query`: the condition as sent (the service decodes it), a page. */
const audienceRequest = (body: unknown) => {
  if (!isObject(body)) {
    return Effect.fail(ApiError.validation([{ field: "body", code: "invalid_type", message: "Expected an object" }]))
  }
  const issues: Array<{ field: string; code: string; message: string }> = []
  const condition = Object.hasOwn(body, "condition") ? body["condition"] : undefined
  if (condition === undefined) issues.push({ field: "condition", code: "required", message: "condition is required" })
  const limit = Object.hasOwn(body, "limit") ? body["limit"] : undefined
  const { default: fallback, max } = SegmentApi.AudiencePage
  if (limit !== undefined && !(Number.isInteger(limit) && (limit as number) >= 1 && (limit as number) <= max)) {
    issues.push({ field: "limit", code: "invalid_limit", message: `limit must be an integer from 1 to ${max}` })
  }
  const cursor = Object.hasOwn(body, "cursor") ? body["cursor"] : undefined
  if (cursor !== undefined && cursor !== null && !(typeof cursor === "string" && Ids.isUuid(cursor))) {
    issues.push({
      field: "cursor",
      code: "invalid_cursor",
      message: "cursor must be a value returned by a previous page"
    })
  }
  if (issues.length > 0) return Effect.fail(ApiError.validation(issues))
  return Effect.succeed({
    condition,
    page: {
      limit: (limit as number | undefined) ?? fallback,
      cursor: (cursor as string | null | undefined) ?? undefined
    }
  })
}

/** The handlers of the `segments` group. */
export const make = Effect.gen(function*() {
  const found = yield* Effect.serviceOption(Segments.Segments)
  // Without segment ports the routes exist (they are the API's) and answer that the store cannot.
  const withSegments = <A, E>(use: (segments: Segments.Segments["Type"]) => Effect.Effect<A, E>) =>
    Option.isNone(found) ? Effect.fail(ApiError.serviceUnavailable()) : use(found.value)

  const handle = <E extends Parameters<typeof ApiError.fromDomain>[0]>(
    run: (segments: Segments.Segments["Type"], request: Handlers.Request) => Effect.Effect<Handlers.Reply, E>
  ): Handlers.Handler => ({
    handle: (request) => withSegments((segments) => run(segments, request)).pipe(Effect.mapError(ApiError.fromDomain))
  })

  return {
    listSegments: handle((segments, request) =>
      Effect.map(segments.list(request.grant.projectId), (list) => Views.ok({ data: list.map(Views.segment) }))
    ),
    createSegment: handle((segments, request) =>
      Effect.gen(function*() {
        const command = yield* SegmentCommand.decodeCreate(request.body)
        const created = yield* segments.create(request.grant.projectId, command)
        return reply(201, Views.segment(created))
      })
    ),
    getSegment: handle((segments, request) =>
      Effect.gen(function*() {
        const id = yield* segmentId(request)
        return Views.ok(Views.segment(yield* segments.get(request.grant.projectId, id)))
      })
    ),
    updateSegment: handle((segments, request) =>
      Effect.gen(function*() {
        const id = yield* segmentId(request)
        const command = yield* SegmentCommand.decodeUpdate(id, request.body)
        return Views.ok(Views.segment(yield* segments.update(request.grant.projectId, command)))
      })
    ),
    deleteSegment: handle((segments, request) =>
      Effect.gen(function*() {
        const id = yield* segmentId(request)
        yield* segments.delete(request.grant.projectId, id)
        return Views.noContent
      })
    ),
    segmentContacts: handle((segments, request) =>
      Effect.gen(function*() {
        const limit = yield* Params.limit(request.query, SegmentApi.MembersPage)
        const cursor = yield* Params.contactsCursor(request.query)
        const id = yield* segmentId(request)
        const page = yield* segments.members(request.grant.projectId, id, { limit, cursor })
        return Views.ok({ ...page, data: page.data.map(Views.member) })
      })
    ),
    contactSegments: handle((segments, request) =>
      Effect.gen(function*() {
        const id = yield* Params.contactId(request)
        const entered = yield* segments.segmentsOf(request.grant.projectId, id)
        return Views.ok({ data: entered.map(Views.contactSegment) })
      })
    ),
    queryContacts: handle((segments, request) =>
      Effect.gen(function*() {
        const { condition, page } = yield* audienceRequest(request.body)
        const audience = yield* segments.query(request.grant.projectId, condition, page)
        return Views.ok({ ...audience, contacts: audience.contacts.map(Views.contact) })
      })
    )
  } satisfies Handlers.Group<typeof Api.SegmentsGroup>
})
