/**
 * behaviour §11.2 over real HTTP: segment definitions (create, list, get, rename with a frozen slug,
 * a new condition, delete), their validation paths, a segment's members, a contact's segments and
 * audiences, on the memory store with its segment processor running.
 */
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import { Ajv2020 } from "ajv/dist/2020.js"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Api from "../src/Api.js"
import { type Answer, projectA, projectB, request, start } from "./TestServer.js"

let counter = 0
const unique = (tag: string) => `${tag}-${Date.now().toString(36)}-${(counter++).toString(36)}@example.com`

const expectError = (answer: Answer, status: number, code: string) => {
  expect(answer.status, answer.text).toBe(status)
  expect(answer.body).toMatchObject({ success: false, error: { code, statusCode: status } })
}

const filter = (field: string, operator: string, more: Record<string, unknown> = {}) => ({ field, operator, ...more })
const all = (...filters: Array<unknown>) => ({ logic: "AND", groups: [{ filters }] })

const scope = Effect.runSync(Scope.make())
let base = ""
beforeAll(async () => {
  base = (await Effect.runPromise(Scope.extend(start(StoreMemory.layer), scope))).url
})
// Until the processor has built every segment (the reads wait for it on their own).
const sync = async () => {
  for (let i = 0; i < 500; i++) {
    const list = await request(base, "GET", "/segments", { key: projectA.secretKey })
    if (list.body.data.every((s: { status: string }) => s.status === "live")) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error("segments still building after 5 s")
}
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

// Every answer of the segment routes, checked against the OpenAPI document at the end.
const seen: Array<{ readonly method: string; readonly path: string; readonly answer: Answer }> = []
const call = async (method: string, path: string, options: Parameters<typeof request>[3]) => {
  const answer = await request(base, method, path, options)
  seen.push({ method, path: path.split("?")[0]!, answer })
  return answer
}
const key = projectA.secretKey
const post = (path: string, body: unknown, k = key) => call("POST", path, { key: k, body })
const get = (path: string, k = key) => call("GET", path, { key: k })
const patch = (path: string, body: unknown, k = key) => call("PATCH", path, { key: k, body })
const del = (path: string, k = key) => call("DELETE", path, { key: k })
const track = async (body: Record<string, unknown>) => {
  const answer = await request(base, "POST", "/v1/track", { key: projectA.publicKey, body })
  expect(answer.status, answer.text).toBe(200)
  return answer.body.data.contact as string
}
const create = async (name: string, condition: unknown, more: Record<string, unknown> = {}) => {
  const answer = await post("/segments", { name, condition, ...more })
  expect(answer.status, answer.text).toBe(201)
  return answer.body as { id: string; slug: string; [key: string]: unknown }
}
const issues = (answer: Answer) =>
  (answer.body.error.errors as Array<{ field: string; code: string }>).map((e) => `${e.field}:${e.code}`)

describe("segment definitions (behaviour §11.2)", () => {
  it("POST /segments answers 201 with the segment; GET lists and reads it", async () => {
    const condition = all(filter("data.plan", "equals", { value: "pro" }))
    const created = await create("Pro plan", condition)
    expect(Object.keys(created).sort()).toEqual(
      ["condition", "createdAt", "id", "members", "name", "slug", "status", "trackMembership", "updatedAt"].sort()
    )
    expect(created).toMatchObject({
      name: "Pro plan",
      slug: "pro-plan",
      condition,
      trackMembership: true,
      members: 0,
      status: "building"
    })
    const one = await get(`/segments/${created.id}`)
    expect(one.status).toBe(200)
    // The processor may have built it since: a new segment over a handful of contacts is live at once.
    expect({ ...one.body, status: "building" }).toEqual(created)
    const list = await get("/segments")
    expect(list.status).toBe(200)
    expect(list.body.data.map((s: { id: string }) => s.id)).toContain(created.id)
    await sync()
    expect((await get(`/segments/${created.id}`)).body.status).toBe("live")
  })

  it("trackMembership false is kept; another project sees none of these segments", async () => {
    const created = await create("Quiet", all(filter("subscribed", "equals", { value: true })), {
      trackMembership: false
    })
    expect(created.trackMembership).toBe(false)
    expectError(await get(`/segments/${created.id}`, projectB.secretKey), 404, "NOT_FOUND")
    expect((await get("/segments", projectB.secretKey)).body.data).toEqual([])
  })

  it("the slug is frozen: a rename keeps it; the same slug again is 409 SEGMENT_EXISTS", async () => {
    const created = await create("Frozen Slug", all(filter("email", "contains", { value: "@" })))
    const renamed = await patch(`/segments/${created.id}`, { name: "Something else" })
    expect(renamed.status, renamed.text).toBe(200)
    expect(renamed.body).toMatchObject({ name: "Something else", slug: "frozen-slug" })
    // The old name still makes the taken slug; the new one's is free.
    expectError(
      await post("/segments", { name: "frozen slug!", condition: all(filter("email", "contains", { value: "x" })) }),
      409,
      "SEGMENT_EXISTS"
    )
    await create("Something else", all(filter("email", "contains", { value: "y" })))
  })

  it("a name with no letter or digit is 422 invalid_slug at name", async () => {
    const answer = await post("/segments", { name: "!!!", condition: all(filter("email", "contains", { value: "a" })) })
    expectError(answer, 422, "VALIDATION_ERROR")
    expect(issues(answer)).toEqual(["name:invalid_slug"])
  })

  it("validation errors carry their paths into the condition", async () => {
    const condition = all(filter("email", "contains", { value: "a" }), filter("email", "sortOf"))
    const answer = await post("/segments", { condition })
    expectError(answer, 422, "VALIDATION_ERROR")
    expect(issues(answer)).toEqual(["name:required", "condition.groups[0].filters[1].operator:unknown_operator"])
    const unknown = await post("/segments", {
      name: "Refers",
      condition: all(filter("segment.0190a000-0000-7000-8000-000000000000", "memberOfSegment"))
    })
    expect(issues(unknown)).toEqual(["condition.groups[0].filters[0].field:unknown_segment"])
  })

  it("PATCH: at least one field; a new condition makes it building; a cycle is refused", async () => {
    const a = await create("Cycle A", all(filter("data.x", "exists")))
    const b = await create("Cycle B", all(filter(`segment.${a.id}`, "memberOfSegment")))
    await sync()
    const empty = await patch(`/segments/${a.id}`, { unknown: 1 })
    expectError(empty, 422, "VALIDATION_ERROR")
    expect(issues(empty)).toEqual(["body:required"])
    const cycle = await patch(`/segments/${a.id}`, { condition: all(filter(`segment.${b.id}`, "memberOfSegment")) })
    expect(issues(cycle)).toEqual(["condition.groups[0].filters[0].field:segment_cycle"])
    const flag = await patch(`/segments/${b.id}`, { trackMembership: false })
    expect(flag.body).toMatchObject({ status: "live", trackMembership: false })
    const changed = await patch(`/segments/${a.id}`, { condition: all(filter("data.y", "exists")) })
    expect(changed.body.status).toBe("building")
    expectError(await patch("/segments/not-an-id", { name: "x" }), 404, "NOT_FOUND")
  })

  it("a new condition moves the segments that refer to it too, recorded with reason definition", async () => {
    const contact = await track({ email: unique("referred"), event: "e", data: { tier: "gold" } })
    const referred = await create("Referred tier", all(filter("data.tier", "equals", { value: "silver" })))
    const referrer = await create("Referrer of tier", all(filter(`segment.${referred.id}`, "memberOfSegment")))
    await sync()
    const segmentsOf = async () =>
      (await get(`/contacts/${contact}/segments`)).body.data.map((s: { id: string }) => s.id)
    expect(await segmentsOf()).not.toContain(referrer.id)
    const changed = await patch(`/segments/${referred.id}`, {
      condition: all(filter("data.tier", "equals", { value: "gold" }))
    })
    expect(changed.status, changed.text).toBe(200)
    await sync()
    expect(await segmentsOf()).toEqual(expect.arrayContaining([referred.id, referrer.id]))
    const timeline = (await get(`/contacts/${contact}/events`)).body.data as Array<{ name: string; data: unknown }>
    expect(timeline.find((e) => e.name === `segment.${referrer.slug}.entry`)?.data).toEqual({
      segmentId: referrer.id,
      segmentName: "Referrer of tier",
      reason: "definition"
    })
  })

  it("DELETE answers 204; in use by another segment is 409 SEGMENT_IN_USE; then 404", async () => {
    const base = await create("Base", all(filter("data.z", "exists")))
    const user = await create("User", all(filter(`segment.${base.id}`, "memberOfSegment")))
    expectError(await del(`/segments/${base.id}`), 409, "SEGMENT_IN_USE")
    expect((await del(`/segments/${user.id}`)).status).toBe(204)
    const deleted = await del(`/segments/${base.id}`)
    expect(deleted.status).toBe(204)
    expect(deleted.text).toBe("")
    expectError(await del(`/segments/${base.id}`), 404, "NOT_FOUND")
    expectError(await get(`/segments/${base.id}`), 404, "NOT_FOUND")
    expect((await get("/segments")).body.data.map((s: { id: string }) => s.id)).not.toContain(base.id)
  })

  it("a body that is not JSON is 400", async () => {
    const answer = await call("POST", "/segments", {
      key,
      raw: "{not json",
      headers: { "content-type": "application/json" }
    })
    expectError(answer, 400, "VALIDATION_ERROR")
  })

  it("every segment route refuses a public key with 403 FORBIDDEN", async () => {
    const pk = projectA.publicKey
    const id = "0190a000-0000-7000-8000-000000000000"
    for (
      const answer of await Promise.all([
        get("/segments", pk),
        post("/segments", { name: "x", condition: all(filter("email", "contains", { value: "a" })) }, pk),
        get(`/segments/${id}`, pk),
        patch(`/segments/${id}`, { name: "x" }, pk),
        del(`/segments/${id}`, pk),
        get(`/segments/${id}/contacts`, pk),
        get(`/contacts/${id}/segments`, pk),
        post("/contacts/query", { condition: all(filter("email", "contains", { value: "a" })) }, pk)
      ])
    ) expectError(answer, 403, "FORBIDDEN")
  })
})

describe("members, a contact's segments and audiences (behaviour §11.2)", () => {
  const tag = `m${Date.now().toString(36)}`
  const annEmail = unique(`${tag}-ann`)
  let ann = ""
  let bob = ""
  let cid = ""
  let vip: { id: string; slug: string } = { id: "", slug: "" }
  beforeAll(async () => {
    ann = await track({ email: annEmail, event: "purchase", data: { plan: "vip", seats: 5 } })
    bob = await track({ email: unique(`${tag}-bob`), event: "signup", data: { plan: "free", seats: 1 } })
    cid = await track({ email: unique(`${tag}-cid`), event: "purchase", data: { plan: "vip", seats: 12 } })
    vip = await create(`VIP ${tag}`, all(filter("data.plan", "equals", { value: "vip" })))
    await sync()
  })

  it("GET /segments/:id/contacts lists the members with enteredAt, paged by contact id", async () => {
    const first = await get(`/segments/${vip.id}/contacts?limit=1`)
    expect(first.status, first.text).toBe(200)
    expect(first.body.hasMore).toBe(true)
    expect(Object.keys(first.body.data[0]).sort()).toEqual(
      ["createdAt", "data", "email", "enteredAt", "id", "subscribed", "updatedAt"]
    )
    const rest = await get(`/segments/${vip.id}/contacts?limit=1&cursor=${first.body.cursor}`)
    const ids = [...first.body.data, ...rest.body.data].map((c: { id: string }) => c.id)
    expect(ids).toEqual([ann, cid].sort())
    expect(rest.body.hasMore).toBe(false)
    expect((await get(`/segments/${vip.id}`)).body.members).toBe(2)
    expectError(await get(`/segments/${vip.id}/contacts?limit=0`), 422, "VALIDATION_ERROR")
    expectError(await get(`/segments/${vip.id}/contacts?cursor=x`), 422, "VALIDATION_ERROR")
    expectError(await get(`/segments/0190a000-0000-7000-8000-000000000000/contacts`), 404, "NOT_FOUND")
  })

  it("GET /contacts/:id/segments: the segments it is in, with enteredAt; an unknown contact is 404", async () => {
    const answer = await get(`/contacts/${ann}/segments`)
    expect(answer.status, answer.text).toBe(200)
    expect(answer.body.data.map((s: { id: string }) => s.id)).toContain(vip.id)
    expect(answer.body.data[0].enteredAt).toMatch(/^\d{4}-\d{2}-\d{2}T/)
    expect((await get(`/contacts/${bob}/segments`)).body.data.map((s: { id: string }) => s.id)).not.toContain(vip.id)
    expectError(await get(`/contacts/0190a000-0000-7000-8000-000000000000/segments`), 404, "CONTACT_NOT_FOUND")
    expectError(await get(`/contacts/${ann}/segments`, projectB.secretKey), 404, "CONTACT_NOT_FOUND")
  })

  const query = (condition: unknown, more: Record<string, unknown> = {}) =>
    post("/contacts/query", { condition, ...more })
  const mine = (answer: Answer) =>
    (answer.body.contacts as Array<{ id: string; email: string }>).filter((c) => c.email.startsWith(tag)).map((c) =>
      c.id
    )
  const ofTag = filter("email", "contains", { value: tag })

  it("POST /contacts/query: data conditions, numeric comparisons, OR", async () => {
    const vips = await query(all(ofTag, filter("data.plan", "equals", { value: "vip" })))
    expect(vips.status, vips.text).toBe(200)
    expect(Object.keys(vips.body).sort()).toEqual(["contacts", "cursor", "total"])
    expect(mine(vips)).toEqual([ann, cid].sort())
    expect(vips.body.total).toBe(2)
    expect(vips.body.cursor).toBeNull()
    // Evaluated on the snapshots (a segment keeps `plan`, all it reads), answered with the whole contact.
    const annAnswered = (vips.body.contacts as Array<{ id: string; data: unknown }>).find((c) => c.id === ann)
    expect(annAnswered?.data).toEqual({ plan: "vip", seats: 5 })
    expect(mine(await query(all(ofTag, filter("data.seats", "greaterThan", { value: 4 }))))).toEqual([ann, cid].sort())
    const either = {
      logic: "AND",
      groups: [{
        filters: [ofTag],
        conditions: {
          logic: "OR",
          groups: [{ filters: [filter("data.seats", "lessThan", { value: 2 })] }, {
            filters: [filter("data.seats", "greaterThanOrEqual", { value: 12 })]
          }]
        }
      }]
    }
    expect(mine(await query(either))).toEqual([bob, cid].sort())
  })

  it("event and time conditions, at the server's now", async () => {
    expect(mine(await query(all(ofTag, filter("event.purchase", "triggered"))))).toEqual([ann, cid].sort())
    expect(mine(await query(all(ofTag, filter("event.purchase", "notTriggered"))))).toEqual([bob])
    const recent = all(ofTag, filter("event.signup", "triggeredWithin", { value: 1, unit: "hours" }))
    expect(mine(await query(recent))).toEqual([bob])
    const old = all(ofTag, filter("event.signup", "triggeredOlderThan", { value: 1, unit: "days" }))
    expect(mine(await query(old))).toEqual([])
    expect(mine(await query(all(ofTag, filter("createdAt", "greaterThan", { value: "2000-01-01T00:00:00Z" })))))
      .toHaveLength(3)
    expect(mine(await query(all(ofTag, filter("createdAt", "within", { value: 1, unit: "minutes" })))))
      .toHaveLength(3)
    expect(mine(await query(all(ofTag, filter("createdAt", "olderThan", { value: 1, unit: "days" }))))).toEqual([])
  })

  it("a segment reference in an audience is that segment's condition now", async () => {
    expect(mine(await query(all(ofTag, filter(`segment.${vip.id}`, "notMemberOfSegment"))))).toEqual([bob])
  })

  it("pages by contact id with a cursor; total counts every match", async () => {
    const first = await query(all(ofTag), { limit: 2 })
    expect(first.body.total).toBe(3)
    expect(first.body.contacts).toHaveLength(2)
    expect(first.body.cursor).toBe(first.body.contacts[1].id)
    const second = await query(all(ofTag), { limit: 2, cursor: first.body.cursor })
    expect(second.body.contacts.map((c: { id: string }) => c.id)).toEqual([[ann, bob, cid].sort()[2]])
    expect(second.body.cursor).toBeNull()
  })

  it("an invalid audience is 422 with paths; limit and cursor are checked", async () => {
    const answer = await query(all(ofTag, filter("data.seats", "greaterThan")))
    expectError(answer, 422, "VALIDATION_ERROR")
    expect(issues(answer)).toEqual(["condition.groups[0].filters[1].value:missing_value"])
    expect(issues(await post("/contacts/query", {}))).toEqual(["condition:required"])
    expect(issues(await query(all(ofTag), { limit: 0, cursor: "nope" }))).toEqual([
      "limit:invalid_limit",
      "cursor:invalid_cursor"
    ])
  })

  it("counts in a window beyond what the snapshots keep for the segments are folded from the log", async () => {
    // No segment counts purchases: the snapshots keep no recent times for them.
    await track({ email: annEmail, event: "purchase" })
    await sync()
    const twice = (operator: string) =>
      all(ofTag, filter("event.purchase", operator, { value: 2, within: 1, unit: "hours" }))
    expect(mine(await query(twice("triggeredAtLeast")))).toEqual([ann])
    expect(mine(await query(twice("triggeredFewerThan")))).toEqual([bob, cid].sort())
  })

  it("a read waits for the processor to reach the log as it was when asked: the client sees its own track", async () => {
    const dan = await track({ email: unique(`${tag}-dan`), event: "purchase", data: { plan: "vip" } })
    expect(mine(await query(all(ofTag, filter("data.plan", "equals", { value: "vip" }))))).toEqual(
      [ann, cid, dan].sort()
    )
    const segments = await get(`/contacts/${dan}/segments`)
    expect(segments.body.data.map((s: { id: string }) => s.id)).toContain(vip.id)
  })

  it("an entry is in the contact's timeline as a tracked event, with its reason", async () => {
    const eve = await track({ email: unique(`${tag}-eve`), event: "signup", data: { plan: "vip" } })
    await get(`/contacts/${eve}/segments`)
    const timeline = await get(`/contacts/${eve}/events`)
    const entry = timeline.body.data.find((e: { name: string }) => e.name === `segment.${vip.slug}.entry`)
    expect(entry?.data).toEqual({ segmentId: vip.id, segmentName: `VIP ${tag}`, reason: "changed" })
  })
})

describe("the OpenAPI document (behaviour §11.2)", () => {
  it("declares every status the segment routes answered, and each body matches its schema", () => {
    const doc = Api.openApi() as any
    const ajv = new Ajv2020({ strict: false, allErrors: true })
    ajv.addSchema({ $id: "openapi.json", components: doc.components })
    const templates = Object.keys(doc.paths).map((template) => ({
      template,
      pattern: new RegExp("^" + template.replace(/\{[^}]+\}/g, "[^/]+") + "/?$")
    }))
    const statuses = new Set<number>()
    for (const [i, { answer, method, path }] of seen.entries()) {
      // `/contacts/query` is also a `/contacts/{id}`: the template that declares the method.
      const found = templates.find((t) => t.pattern.test(path) && doc.paths[t.template][method.toLowerCase()])
      expect(found, `${method} ${path}`).toBeDefined()
      const declared = doc.paths[found!.template][method.toLowerCase()].responses[String(answer.status)]
      expect(declared, `${method} ${found!.template} answered ${answer.status}, not declared`).toBeDefined()
      statuses.add(answer.status)
      if (answer.status === 204) continue
      const schema = declared.content["application/json"].schema
      const validate = ajv.compile({
        $id: `segment-answer-${i}`,
        ...JSON.parse(JSON.stringify(schema).replaceAll('"#/components', '"openapi.json#/components'))
      })
      expect(validate(answer.body), `${method} ${found!.template} ${answer.status}: ${ajv.errorsText(validate.errors)}`)
        .toBe(true)
    }
    expect([...statuses].sort()).toEqual([200, 201, 204, 400, 403, 404, 409, 422])
  })
})
