/**
 * The segment commands (behaviour §11.2), given the project's segments / when a command / then
 * the segments written or the refusal: one test per rule.
 */
import { describe, expect, it } from "@effect/vitest"
import type * as Segment from "@tracklog/core/Segment"
import * as SegmentCommand from "@tracklog/core/SegmentCommand"
import type * as SegmentCondition from "@tracklog/core/SegmentCondition"
import * as Either from "effect/Either"

const projectId = "0190a000-0000-7000-8000-000000000001"
const t0 = new Date("2026-01-01T00:00:00.000Z")
const t1 = new Date("2026-01-02T00:00:00.000Z")
const context = { projectId, now: t1, id: "seg-new" }

const vip = { logic: "AND", groups: [{ filters: [{ field: "data.plan", operator: "equals", value: "vip" }] }] }
const buyers = { logic: "AND", groups: [{ filters: [{ field: "event.purchase", operator: "triggered" }] }] }
const memberOf = (id: string) => ({
  logic: "AND",
  groups: [{ filters: [{ field: `segment.${id}`, operator: "memberOfSegment" }] }]
})

// A stored segment, as a create at t0 made it.
const given = (id: string, name: string, condition: unknown, more: Partial<Segment.Segment> = {}): Segment.Segment => ({
  id,
  projectId,
  name,
  slug: name.toLowerCase().replace(/[^a-z0-9]+/g, "-"),
  condition: condition as SegmentCondition.WireCondition,
  trackMembership: true,
  createdAt: t0,
  updatedAt: t0,
  revision: 1,
  builtRevision: 1,
  buildCursor: "",
  ...more
})

const createCommand = (body: unknown) => Either.getOrThrow(SegmentCommand.decodeCreate(body))
const updateCommand = (id: string, body: unknown) => Either.getOrThrow(SegmentCommand.decodeUpdate(id, body))
const issuesOf = (result: Either.Either<unknown, unknown>) =>
  Either.match(result, {
    onLeft: (e) =>
      e instanceof SegmentCommand.InvalidSegment ? e.issues.map((i) => `${i.field}:${i.code}`) : [String(e)],
    onRight: () => []
  })

describe("SegmentCommand.decodeCreate (POST /segments)", () => {
  it("a valid body: trackMembership defaults to true, unknown keys are ignored", () => {
    const command = createCommand({ name: "VIPs", condition: vip, extra: 1 })
    expect(command.name).toBe("VIPs")
    expect(command.trackMembership).toBe(true)
    expect(command.condition.wire).toEqual(vip)
    expect(createCommand({ name: "VIPs", condition: vip, trackMembership: false }).trackMembership).toBe(false)
  })

  it("every broken rule is an issue at its path, the condition's below `condition`", () => {
    expect(issuesOf(SegmentCommand.decodeCreate({}))).toEqual(["name:required", "condition:required"])
    expect(issuesOf(SegmentCommand.decodeCreate({ name: 5, condition: vip, trackMembership: "yes" }))).toEqual([
      "name:invalid_type",
      "trackMembership:invalid_type"
    ])
    expect(issuesOf(SegmentCommand.decodeCreate({ name: "  ", condition: vip }))).toEqual(["name:invalid_value"])
    const badOperator = {
      logic: "AND",
      groups: [{
        filters: [{ field: "email", operator: "contains", value: "a" }, { field: "email", operator: "nope" }]
      }]
    }
    expect(issuesOf(SegmentCommand.decodeCreate({ name: "x", condition: badOperator }))).toEqual([
      "condition.groups[0].filters[1].operator:unknown_operator"
    ])
    expect(issuesOf(SegmentCommand.decodeCreate([]))).toEqual(["body:invalid_type"])
  })
})

describe("SegmentCommand.decodeUpdate (PATCH /segments/:id)", () => {
  it("needs at least one known field: empty or unknown keys only is `body` required", () => {
    expect(issuesOf(SegmentCommand.decodeUpdate("s", {}))).toEqual(["body:required"])
    expect(issuesOf(SegmentCommand.decodeUpdate("s", { slug: "x" }))).toEqual(["body:required"])
    expect(issuesOf(SegmentCommand.decodeUpdate("s", null))).toEqual(["body:invalid_type"])
  })

  it("checks each field sent, and only those", () => {
    expect(issuesOf(SegmentCommand.decodeUpdate("s", { name: "", trackMembership: 1 }))).toEqual([
      "name:invalid_value",
      "trackMembership:invalid_type"
    ])
    expect(updateCommand("s", { trackMembership: false })).toEqual({
      _tag: "UpdateSegment",
      segmentId: "s",
      trackMembership: false
    })
  })
})

describe("SegmentCommand.create", () => {
  it("a new segment: revision 1, not built, slug from the name", () => {
    const result = SegmentCommand.create([], createCommand({ name: "Café VIPs!", condition: vip }), context)
    const segment = Either.getOrThrow(result).answer
    expect(segment).toEqual({
      id: "seg-new",
      projectId,
      name: "Café VIPs!",
      slug: "café-vips",
      condition: vip,
      trackMembership: true,
      createdAt: t1,
      updatedAt: t1,
      revision: 1,
      builtRevision: 0,
      buildCursor: ""
    })
    expect(Either.getOrThrow(result).put).toEqual([segment])
  })

  it("a name with no letter or digit makes no slug: invalid_slug at name", () => {
    expect(issuesOf(SegmentCommand.create([], createCommand({ name: "!!!", condition: vip }), context))).toEqual([
      "name:invalid_slug"
    ])
  })

  it("a slug taken by a segment of the project is SegmentExists; a deleted one's is free", () => {
    const current = [given("s1", "VIPs", vip)]
    const taken = SegmentCommand.create(current, createCommand({ name: "vips", condition: buyers }), context)
    expect(taken).toEqual(Either.left(new SegmentCommand.SegmentExists({ slug: "vips" })))
    const deleted = [given("s1", "VIPs", vip, { deletedAt: t0 })]
    expect(Either.isRight(SegmentCommand.create(deleted, createCommand({ name: "vips", condition: vip }), context)))
      .toBe(true)
  })

  it("a reference to an unknown or deleted segment is unknown_segment at the filter's field", () => {
    const current = [given("gone", "Gone", vip, { deletedAt: t0 })]
    for (const id of ["nope", "gone"]) {
      expect(issuesOf(SegmentCommand.create(current, createCommand({ name: "x", condition: memberOf(id) }), context)))
        .toEqual(["condition.groups[0].filters[0].field:unknown_segment"])
    }
    const known = [given("s1", "VIPs", vip)]
    expect(
      Either.isRight(SegmentCommand.create(known, createCommand({ name: "x", condition: memberOf("s1") }), context))
    )
      .toBe(true)
  })
})

describe("SegmentCommand.update", () => {
  const current = [given("s1", "VIPs", vip), given("s2", "In VIPs", memberOf("s1"))]

  it("a rename keeps the slug (decision 0034) and the revision", () => {
    const next = Either.getOrThrow(
      SegmentCommand.update(current, updateCommand("s1", { name: "Big spenders" }), context)
    )
    expect(next.answer).toMatchObject({ name: "Big spenders", slug: "vips", revision: 1, builtRevision: 1 })
    expect(next.answer.updatedAt).toEqual(t1)
  })

  it("a new condition is a new revision, built from the first contact: the segment is building", () => {
    const next = Either.getOrThrow(SegmentCommand.update(current, updateCommand("s1", { condition: buyers }), context))
      .answer
    expect(next).toMatchObject({ condition: buyers, revision: 2, builtRevision: 1, buildCursor: "" })
  })

  it("a new condition builds again every segment that refers to it, directly or through others; a rename does not", () => {
    const chain = [...current, given("s3", "Via", memberOf("s2")), given("s4", "Other", buyers)]
    const next = Either.getOrThrow(SegmentCommand.update(chain, updateCommand("s1", { condition: buyers }), context))
    expect(next.put.map((s) => [s.id, s.revision, s.buildCursor])).toEqual([["s1", 2, ""], ["s2", 2, ""], [
      "s3",
      2,
      ""
    ]])
    // Updated now (their passes wait the same grace), their other fields as they were.
    expect(next.put[1]).toEqual({ ...chain[1], updatedAt: t1, revision: 2, buildCursor: "" })
    const renamed = Either.getOrThrow(SegmentCommand.update(chain, updateCommand("s1", { name: "Big" }), context))
    expect(renamed.put.map((s) => s.id)).toEqual(["s1"])
  })

  it("trackMembership alone, or the same condition again, is no new revision", () => {
    const tracked = SegmentCommand.update(current, updateCommand("s1", { trackMembership: false }), context)
    expect(Either.getOrThrow(tracked).answer).toMatchObject({ trackMembership: false, revision: 1 })
    const same = SegmentCommand.update(current, updateCommand("s1", { condition: vip }), context)
    expect(Either.getOrThrow(same)).toEqual({ put: [], answer: current[0] })
  })

  it("a condition that leads back to the segment is segment_cycle", () => {
    expect(issuesOf(SegmentCommand.update(current, updateCommand("s1", { condition: memberOf("s2") }), context)))
      .toEqual(["condition.groups[0].filters[0].field:segment_cycle"])
    expect(issuesOf(SegmentCommand.update(current, updateCommand("s1", { condition: memberOf("s1") }), context)))
      .toEqual(["condition.groups[0].filters[0].field:segment_cycle"])
  })

  it("an unknown or deleted segment is SegmentNotFound", () => {
    const deleted = [given("s1", "VIPs", vip, { deletedAt: t0 })]
    for (const [segments, id] of [[current, "nope"], [deleted, "s1"]] as const) {
      expect(SegmentCommand.update(segments, updateCommand(id, { name: "x" }), context)).toEqual(
        Either.left(new SegmentCommand.SegmentNotFound({ segmentId: id }))
      )
    }
  })
})

describe("SegmentCommand.remove", () => {
  it("sets deletedAt", () => {
    const current = [given("s1", "VIPs", vip)]
    const next = Either.getOrThrow(SegmentCommand.remove(current, { _tag: "DeleteSegment", segmentId: "s1" }, context))
    expect(next.put).toEqual([{ ...current[0], updatedAt: t1, deletedAt: t1 }])
  })

  it("a segment another refers to is SegmentInUse, naming the referrers", () => {
    const current = [given("s1", "VIPs", vip), given("s2", "In VIPs", memberOf("s1"))]
    expect(SegmentCommand.remove(current, { _tag: "DeleteSegment", segmentId: "s1" }, context)).toEqual(
      Either.left(new SegmentCommand.SegmentInUse({ segmentId: "s1", referencedBy: ["s2"] }))
    )
    // Once the referrer is deleted, it may go.
    const referrerGone = [current[0]!, { ...current[1]!, deletedAt: t0 }]
    expect(Either.isRight(SegmentCommand.remove(referrerGone, { _tag: "DeleteSegment", segmentId: "s1" }, context)))
      .toBe(true)
  })

  it("an unknown or already deleted segment is SegmentNotFound", () => {
    const current = [given("s1", "VIPs", vip, { deletedAt: t0 })]
    for (const id of ["s1", "nope"]) {
      expect(SegmentCommand.remove(current, { _tag: "DeleteSegment", segmentId: id }, context)).toEqual(
        Either.left(new SegmentCommand.SegmentNotFound({ segmentId: id }))
      )
    }
  })
})
