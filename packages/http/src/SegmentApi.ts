/**
 * The `segments` group of `Api` (behaviour §11.2): segment definitions, their members, a contact's
 * segments and audiences. Kept apart from `Api` for size; `Api` builds it with its shared parts
 * (the error envelope, the contact view, `Authorization`), passed in so that neither module needs
 * the other loaded first.
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as SegmentCondition from "@tracklog/core/SegmentCondition"
import * as Schema from "effect/Schema"
import type * as Api from "./Api.js"

/** Page sizes of a segment's members (as the contact list's) and of an audience. */
export const MembersPage = { max: 100, default: 20 } as const
export const AudiencePage = { max: 1000, default: 100 } as const

const segmentFields = {
  id: Schema.String,
  name: Schema.String,
  slug: Schema.String.annotations({
    description: "Made from the first name and never changed: its events are segment.<slug>.entry and .exit"
  }),
  condition: SegmentCondition.WireCondition,
  trackMembership: Schema.Boolean.annotations({
    description: "Whether entries and exits are recorded as segment.<slug>.entry / .exit events"
  }),
  members: Schema.Number.annotations({ description: "How many contacts are members now" }),
  status: Schema.Literal("building", "live").annotations({
    description: "`building` until every contact has been evaluated for the current condition"
  }),
  createdAt: Schema.String,
  updatedAt: Schema.String
}

/** A segment as the API shows it. */
export const SegmentView = Schema.Struct(segmentFields).annotations({ identifier: "Segment" })
export const SegmentList = Schema.Struct({ data: Schema.Array(SegmentView) }).annotations({
  identifier: "SegmentList"
})

/** A segment a contact is in, with when it entered. */
export const ContactSegmentView = Schema.Struct({ ...segmentFields, enteredAt: Schema.String }).annotations({
  identifier: "ContactSegment"
})
export const ContactSegmentList = Schema.Struct({ data: Schema.Array(ContactSegmentView) }).annotations({
  identifier: "ContactSegmentList"
})

/** `POST /segments`. */
export const CreateSegmentRequest = Schema.Struct({
  name: Schema.String.annotations({ description: "Needs a letter or a digit: the slug is made from it" }),
  condition: SegmentCondition.WireCondition,
  trackMembership: Schema.optionalWith(Schema.Boolean, { exact: true }).annotations({ description: "Default true" })
}).annotations({ identifier: "CreateSegmentRequest" })

/** `PATCH /segments/:id`: at least one field. */
export const UpdateSegmentRequest = Schema.Struct({
  name: Schema.optionalWith(Schema.String, { exact: true }).annotations({ description: "The slug stays" }),
  condition: Schema.optionalWith(SegmentCondition.WireCondition, { exact: true }),
  trackMembership: Schema.optionalWith(Schema.Boolean, { exact: true })
}).annotations({ identifier: "UpdateSegmentRequest" })

/** `POST /contacts/query`. */
export const AudienceRequest = Schema.Struct({
  condition: SegmentCondition.WireCondition,
  limit: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, AudiencePage.max)), { exact: true }).annotations({
    description: `Page size, 1–${AudiencePage.max}, default ${AudiencePage.default}`
  }),
  cursor: Schema.optionalWith(Schema.NullOr(Schema.String), { exact: true }).annotations({
    description: "The `cursor` of the previous page"
  })
}).annotations({ identifier: "AudienceRequest" })

const IdPath = Schema.Struct({ id: Schema.String })

/** The group, built with `Api`'s shared parts. */
export const group = (parts: {
  readonly ErrorEnvelope: typeof Api.ErrorEnvelope
  readonly ContactView: typeof Api.ContactView
  readonly Authorization: typeof Api.Authorization
  readonly authErrors: <E extends HttpApiEndpoint.HttpApiEndpoint.Any>(endpoint: E) => E
}) => {
  const error = (status: number, description: string) =>
    [parts.ErrorEnvelope.annotations({ description }), { status }] as const
  const forbidden = error(403, "FORBIDDEN: a public key")
  const notJson = error(400, "VALIDATION_ERROR: the body is not JSON")
  const notFound = error(404, "NOT_FOUND: no such segment (unknown, another project's, or deleted)")
  const invalid = error(
    422,
    "VALIDATION_ERROR: see errors[], each at its path (condition.groups[0].filters[1].operator): unknown field or operator, missing value or unit, unknown segment, segment_cycle, invalid_slug, …"
  )
  const pageParams = Schema.Struct({
    limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, MembersPage.max)))
      .annotations({ description: `Page size, 1–${MembersPage.max}, default ${MembersPage.default}` }),
    cursor: Schema.optional(Schema.String)
  })
  const MemberView = Schema.Struct({ ...parts.ContactView.fields, enteredAt: Schema.String }).annotations({
    identifier: "SegmentMember"
  })
  const MemberList = Schema.Struct({
    data: Schema.Array(MemberView),
    cursor: Schema.optionalWith(Schema.String, { exact: true }).annotations({
      description: "Pass as `cursor` for the next page; absent on the last page"
    }),
    hasMore: Schema.Boolean
  }).annotations({ identifier: "SegmentMemberList" })
  const Audience = Schema.Struct({
    contacts: Schema.Array(parts.ContactView),
    cursor: Schema.NullOr(Schema.String).annotations({ description: "For the next page; null on the last" }),
    total: Schema.Number.annotations({ description: "How many contacts match in all" })
  }).annotations({ identifier: "Audience" })

  const listSegments = HttpApiEndpoint.get("listSegments", "/segments")
    .addSuccess(SegmentList)
    .addError(...forbidden)
    .annotate(OpenApi.Summary, "List the project's segments, oldest first")
  const createSegment = HttpApiEndpoint.post("createSegment", "/segments")
    .setPayload(CreateSegmentRequest)
    .addSuccess(SegmentView, { status: 201 })
    .addError(...notJson)
    .addError(...forbidden)
    .addError(...error(409, "SEGMENT_EXISTS: another segment of the project has this slug"))
    .addError(...error(413, "PAYLOAD_TOO_LARGE"))
    .addError(...invalid)
    .annotate(OpenApi.Summary, "Define a segment")
    .annotate(
      OpenApi.Description,
      "The condition is Plunk's wire format. The slug comes from the name and is frozen. Its first members are its baseline: no entry events; `status` is `building` until every contact has been evaluated."
    )
  const getSegment = HttpApiEndpoint.get("getSegment", "/segments/:id")
    .setPath(IdPath)
    .addSuccess(SegmentView)
    .addError(...forbidden)
    .addError(...notFound)
    .annotate(OpenApi.Summary, "Get a segment")
  const updateSegment = HttpApiEndpoint.patch("updateSegment", "/segments/:id")
    .setPath(IdPath)
    .setPayload(UpdateSegmentRequest)
    .addSuccess(SegmentView)
    .addError(...notJson)
    .addError(...forbidden)
    .addError(...notFound)
    .addError(...error(413, "PAYLOAD_TOO_LARGE"))
    .addError(...invalid)
    .annotate(OpenApi.Summary, "Rename a segment, change its condition or whether it records transitions")
    .annotate(
      OpenApi.Description,
      "A rename keeps the slug. A new condition is evaluated for every contact again (`status: building`), recording the difference (`reason: definition`)."
    )
  const deleteSegment = HttpApiEndpoint.del("deleteSegment", "/segments/:id")
    .setPath(IdPath)
    .addError(...forbidden)
    .addError(...notFound)
    .addError(...error(409, "SEGMENT_IN_USE: another segment's condition refers to it"))
    .annotate(OpenApi.Summary, "Delete a segment")
    .annotate(OpenApi.Description, "Its members leave it (`reason: deleted`, when it records transitions).")
  const segmentContacts = HttpApiEndpoint.get("segmentContacts", "/segments/:id/contacts")
    .setPath(IdPath)
    .setUrlParams(pageParams)
    .addSuccess(MemberList)
    .addError(...forbidden)
    .addError(...notFound)
    .addError(...error(422, "VALIDATION_ERROR: bad limit or cursor"))
    .annotate(OpenApi.Summary, "A segment's members now, by contact id, each with when it entered")
  const contactSegments = HttpApiEndpoint.get("contactSegments", "/contacts/:id/segments")
    .setPath(IdPath)
    .addSuccess(ContactSegmentList)
    .addError(...forbidden)
    .addError(...error(404, "CONTACT_NOT_FOUND"))
    .annotate(OpenApi.Summary, "The segments a contact is in now")
  const queryContacts = HttpApiEndpoint.post("queryContacts", "/contacts/query")
    .setPayload(AudienceRequest)
    .addSuccess(Audience)
    .addError(...notJson)
    .addError(...forbidden)
    .addError(...error(413, "PAYLOAD_TOO_LARGE"))
    .addError(...error(422, "VALIDATION_ERROR: the condition, limit or cursor; see errors[]"))
    .annotate(OpenApi.Summary, "An audience: the contacts that match a condition now")
    .annotate(OpenApi.Description, "No segment is defined. Paged by contact id; `total` counts every match.")

  return HttpApiGroup.make("segments")
    .add(parts.authErrors(listSegments))
    .add(parts.authErrors(createSegment))
    .add(parts.authErrors(getSegment))
    .add(parts.authErrors(updateSegment))
    .add(parts.authErrors(deleteSegment))
    .add(parts.authErrors(segmentContacts))
    .add(parts.authErrors(contactSegments))
    .add(parts.authErrors(queryContacts))
    .middleware(parts.Authorization)
}
