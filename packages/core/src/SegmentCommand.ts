/**
 * The commands on a project's segments (behaviour §11.2) and the request bodies that make them:
 * `POST /segments` `{name, condition, trackMembership?}`, `PATCH /segments/:id` (at least one of
 * `name`, `condition`, `trackMembership`) and `DELETE /segments/:id`. Decoding checks a body on
 * its own; the deciders check it against the project's segments (a slug is unique, a reference
 * names a segment that exists and does not loop) and answer the `SegmentStore.Change` to write.
 * Pure: the new id and the time are inputs.
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as FieldIssue from "./FieldIssue.js"
import * as Segment from "./Segment.js"
import * as SegmentCondition from "./SegmentCondition.js"
import * as SegmentNode from "./SegmentNode.js"
import * as SegmentSlug from "./SegmentSlug.js"
import type * as SegmentStore from "./SegmentStore.js"

/** Define a segment; its id and time come from the decider's context. */
export interface CreateSegment {
  readonly _tag: "CreateSegment"
  readonly name: string
  readonly condition: SegmentCondition.Condition
  readonly trackMembership: boolean
}

/** Change some of a segment's settings; absent fields stay as they are. */
export interface UpdateSegment {
  readonly _tag: "UpdateSegment"
  readonly segmentId: string
  readonly name?: string | undefined
  readonly condition?: SegmentCondition.Condition | undefined
  readonly trackMembership?: boolean | undefined
}

/** Delete a segment: its members leave it (`reason: deleted`), then it is gone. */
export interface DeleteSegment {
  readonly _tag: "DeleteSegment"
  readonly segmentId: string
}

/** Any command on a project's segments. */
export type Command = CreateSegment | UpdateSegment | DeleteSegment

/** A body that breaks one or more rules, each at its path; nothing was changed. */
export class InvalidSegment extends Schema.TaggedError<InvalidSegment>()("InvalidSegment", {
  issues: Schema.Array(FieldIssue.FieldIssue)
}) {
  override get message() {
    return this.issues.map((i) => `${i.field}: ${i.message}`).join("; ")
  }
}

/** No segment with this id in the project, or a deleted one. */
export class SegmentNotFound extends Schema.TaggedError<SegmentNotFound>()("SegmentNotFound", {
  segmentId: Schema.String
}) {}

/** Another segment of the project (not deleted) has the slug the name makes. */
export class SegmentExists extends Schema.TaggedError<SegmentExists>()("SegmentExists", {
  slug: Schema.String
}) {}

/** Other segments of the project refer to this one in their conditions: it cannot be deleted. */
export class SegmentInUse extends Schema.TaggedError<SegmentInUse>()("SegmentInUse", {
  segmentId: Schema.String,
  referencedBy: Schema.Array(Schema.String)
}) {}

// ---------------------------------------------------------------------------------------------
// Decoding the bodies

const isObject = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

// Own keys only: a body is parsed JSON, and `__proto__` must not be read through the prototype.
const field = (body: { readonly [key: string]: unknown }, key: string): unknown =>
  Object.hasOwn(body, key) ? body[key] : undefined

const checkName = (name: unknown, issues: Array<FieldIssue.FieldIssue>): name is string => {
  if (typeof name !== "string") {
    issues.push({ field: "name", code: "invalid_type", message: "Expected a string" })
    return false
  }
  if (name.trim().length === 0) {
    issues.push({ field: "name", code: "invalid_value", message: "name must not be empty" })
    return false
  }
  return true
}

const checkCondition = (
  u: unknown,
  issues: Array<FieldIssue.FieldIssue>
): SegmentCondition.Condition | undefined =>
  Either.match(SegmentCondition.decode(u, "condition"), {
    onLeft: (invalid) => void issues.push(...invalid.issues),
    onRight: (condition) => condition
  })

const checkTrackMembership = (u: unknown, issues: Array<FieldIssue.FieldIssue>): u is boolean => {
  if (typeof u === "boolean") return true
  issues.push({ field: "trackMembership", code: "invalid_type", message: "Expected a boolean" })
  return false
}

const notAnObject = () =>
  Either.left(new InvalidSegment({ issues: [{ field: "body", code: "invalid_type", message: "Expected an object" }] }))

/** `POST /segments`: `name` and `condition` required, `trackMembership` true when absent; unknown keys ignored. */
export const decodeCreate = (body: unknown): Either.Either<CreateSegment, InvalidSegment> => {
  if (!isObject(body)) return notAnObject()
  const issues: Array<FieldIssue.FieldIssue> = []
  const name = field(body, "name")
  if (name === undefined) issues.push({ field: "name", code: "required", message: "name is required" })
  else checkName(name, issues)
  const raw = field(body, "condition")
  let condition: SegmentCondition.Condition | undefined
  if (raw === undefined) issues.push({ field: "condition", code: "required", message: "condition is required" })
  else condition = checkCondition(raw, issues)
  const track = field(body, "trackMembership")
  if (track !== undefined) checkTrackMembership(track, issues)
  if (issues.length > 0) return Either.left(new InvalidSegment({ issues }))
  return Either.right({
    _tag: "CreateSegment",
    name: name as string,
    condition: condition!,
    trackMembership: track === undefined ? true : track as boolean
  })
}

/**
 * `PATCH /segments/:id`: at least one of `name`, `condition`, `trackMembership`; a body with none
 * of them (empty, or unknown keys only) is refused at `body` (`required`), as behaviour §10's.
 */
export const decodeUpdate = (segmentId: string, body: unknown): Either.Either<UpdateSegment, InvalidSegment> => {
  if (!isObject(body)) return notAnObject()
  const name = field(body, "name")
  const raw = field(body, "condition")
  const track = field(body, "trackMembership")
  if (name === undefined && raw === undefined && track === undefined) {
    return Either.left(
      new InvalidSegment({
        issues: [{ field: "body", code: "required", message: "Send at least one of name, condition, trackMembership" }]
      })
    )
  }
  const issues: Array<FieldIssue.FieldIssue> = []
  if (name !== undefined) checkName(name, issues)
  const condition = raw === undefined ? undefined : checkCondition(raw, issues)
  if (track !== undefined) checkTrackMembership(track, issues)
  if (issues.length > 0) return Either.left(new InvalidSegment({ issues }))
  return Either.right({
    _tag: "UpdateSegment",
    segmentId,
    ...(name === undefined ? {} : { name: name as string }),
    ...(condition === undefined ? {} : { condition }),
    ...(track === undefined ? {} : { trackMembership: track as boolean })
  })
}

// ---------------------------------------------------------------------------------------------
// Deciding

/** What a decision takes besides the project's segments: the project, the time and a new id. */
export interface Context {
  readonly projectId: string
  readonly now: Date
  /** The id of a segment being created. */
  readonly id: string
}

/** The segments visible to the routes: not deleted. */
export const visible = (current: ReadonlyArray<Segment.Segment>): ReadonlyArray<Segment.Segment> =>
  current.filter((segment) => !Segment.isDeleted(segment))

/**
 * A stored segment's condition tree. A stored condition was decoded when it was written, so it
 * decodes again; one that somehow does not matches nothing rather than stopping every decision.
 */
export const nodeOf = (segment: Segment.Segment): SegmentNode.Node =>
  Either.match(SegmentCondition.decode(segment.condition), {
    onLeft: () => SegmentNode.never,
    onRight: (condition) => condition.node
  })

/** The trees of the visible segments, by id: what references are checked and inlined against. */
export const lookupOf = (current: ReadonlyArray<Segment.Segment>): (id: string) => SegmentNode.Node | undefined => {
  const byId = new Map<string, Segment.Segment>()
  for (const segment of visible(current)) byId.set(segment.id, segment)
  const nodes = new Map<string, SegmentNode.Node>()
  return (id) => {
    const segment = byId.get(id)
    if (segment === undefined) return undefined
    let node = nodes.get(id)
    if (node === undefined) nodes.set(id, node = nodeOf(segment))
    return node
  }
}

const findVisible = (current: ReadonlyArray<Segment.Segment>, segmentId: string) =>
  current.find((segment) => segment.id === segmentId && !Segment.isDeleted(segment))

/** Rules of `POST /segments`: references resolve without a cycle, the name makes a slug, the slug is free. */
export const create = (
  current: ReadonlyArray<Segment.Segment>,
  command: CreateSegment,
  context: Context
): Either.Either<SegmentStore.Change<Segment.Segment>, InvalidSegment | SegmentExists> => {
  const issues = SegmentNode.checkReferences(undefined, command.condition.node, lookupOf(current))
  const slug = SegmentSlug.of(command.name)
  if (slug === "") {
    issues.push({ field: "name", code: "invalid_slug", message: "name needs at least one letter or digit" })
  }
  if (issues.length > 0) return Either.left(new InvalidSegment({ issues }))
  if (visible(current).some((segment) => segment.slug === slug)) return Either.left(new SegmentExists({ slug }))
  const segment: Segment.Segment = {
    id: context.id,
    projectId: context.projectId,
    name: command.name,
    slug,
    condition: command.condition.wire,
    trackMembership: command.trackMembership,
    createdAt: context.now,
    updatedAt: context.now,
    revision: 1,
    builtRevision: 0,
    buildCursor: ""
  }
  return Either.right({ put: [segment], answer: segment })
}

const sameCondition = (a: SegmentCondition.WireCondition, b: SegmentCondition.WireCondition) =>
  // Both come out of `SegmentCondition.decode`, which builds keys in one order.
  JSON.stringify(a) === JSON.stringify(b)

/**
 * Rules of `PATCH /segments/:id`: the segment exists; a new condition's references resolve
 * without leading back to it. A rename keeps the slug (decision 0034). A different condition is a
 * new revision, so the segment is `building` until the processor has evaluated every contact for
 * it; `trackMembership` alone is not. Nothing different: nothing written.
 */
export const update = (
  current: ReadonlyArray<Segment.Segment>,
  command: UpdateSegment,
  context: Pick<Context, "now">
): Either.Either<SegmentStore.Change<Segment.Segment>, InvalidSegment | SegmentNotFound> => {
  const segment = findVisible(current, command.segmentId)
  if (segment === undefined) return Either.left(new SegmentNotFound({ segmentId: command.segmentId }))
  if (command.condition !== undefined) {
    const issues = SegmentNode.checkReferences(segment.id, command.condition.node, lookupOf(current))
    if (issues.length > 0) return Either.left(new InvalidSegment({ issues }))
  }
  const name = command.name ?? segment.name
  const trackMembership = command.trackMembership ?? segment.trackMembership
  const conditionChanged = command.condition !== undefined && !sameCondition(command.condition.wire, segment.condition)
  if (name === segment.name && trackMembership === segment.trackMembership && !conditionChanged) {
    return Either.right({ put: [], answer: segment })
  }
  const next: Segment.Segment = {
    ...segment,
    name,
    trackMembership,
    updatedAt: context.now,
    ...(conditionChanged
      ? { condition: command.condition!.wire, revision: segment.revision + 1, buildCursor: "" }
      : {})
  }
  // A segment that refers to this one, directly or through others, holds its condition inlined
  // (`SegmentNode.inline`): its members change with it, so it is built again too, updated now as
  // the edited one is (its pass waits the same grace after `updatedAt`), its other fields kept.
  const rebuilt = conditionChanged
    ? referrersOf(current, segment.id).map((other): Segment.Segment => ({
      ...other,
      updatedAt: context.now,
      revision: other.revision + 1,
      buildCursor: ""
    }))
    : []
  return Either.right({ put: [next, ...rebuilt], answer: next })
}

// The visible segments whose condition reaches `segmentId` through references, in `current`'s order.
const referrersOf = (current: ReadonlyArray<Segment.Segment>, segmentId: string): ReadonlyArray<Segment.Segment> => {
  const others = visible(current).filter((s) => s.id !== segmentId)
  const reached = new Set([segmentId])
  for (let grew = true; grew;) {
    grew = false
    for (const other of others) {
      if (reached.has(other.id)) continue
      for (const id of SegmentNode.references(nodeOf(other))) {
        if (reached.has(id)) {
          reached.add(other.id)
          grew = true
          break
        }
      }
    }
  }
  return others.filter((s) => reached.has(s.id))
}

/** Rules of `DELETE /segments/:id`: the segment exists, and no other segment refers to it. */
export const remove = (
  current: ReadonlyArray<Segment.Segment>,
  command: DeleteSegment,
  context: Pick<Context, "now">
): Either.Either<SegmentStore.Change<Segment.Segment>, SegmentNotFound | SegmentInUse> => {
  const segment = findVisible(current, command.segmentId)
  if (segment === undefined) return Either.left(new SegmentNotFound({ segmentId: command.segmentId }))
  const referencedBy = visible(current)
    .filter((other) => other.id !== segment.id && SegmentNode.references(nodeOf(other)).has(segment.id))
    .map((other) => other.id)
  if (referencedBy.length > 0) return Either.left(new SegmentInUse({ segmentId: segment.id, referencedBy }))
  const deleted: Segment.Segment = { ...segment, updatedAt: context.now, deletedAt: context.now }
  return Either.right({ put: [deleted], answer: deleted })
}
