/**
 * Tenant isolation over real HTTP, on each store, with two projects (behaviour §1.1, §3): no key of one
 * project reads, lists, finds by email, pages into or writes anything of the other, on every route.
 * Also: keys are stored only as hashes (the whole Postgres database is searched for them), and
 * neither a key nor an email reaches the request log (captured from `RequestLog`'s sink, stdout,
 * with the log switched on for this file's servers).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Store from "@tracklog/core/Store"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from "vitest"
import { type Answer, projectA, projectB, request, start } from "./TestServer.js"

const NumRuns = Math.max(1, Number(process.env["TRACKLOG_FUZZ_RUNS"] ?? 10))
let fuzzCases = 0
afterAll(() => console.log(`[isolation.test] fuzz cases run: ${fuzzCases}`))

const AllKeys = [projectA.publicKey, projectA.secretKey, projectB.publicKey, projectB.secretKey]
const sha256 = (key: string) => createHash("sha256").update(key).digest("hex")

interface ContactView {
  readonly id: string
  readonly email: string
  readonly subscribed: boolean
  readonly data: Record<string, unknown>
  readonly createdAt: string
  readonly updatedAt: string
}

const expectEnvelope = (answer: Answer, status: number, code: string) => {
  expect(answer.status, answer.text).toBe(status)
  expect(answer.body).toMatchObject({ success: false, error: { code, statusCode: status } })
  expect(answer.headers.get("x-request-id")).toBe(answer.body.error.requestId)
}

let counter = 0
const freshEmail = (tag: string) => `iso-${tag}-${Date.now().toString(36)}-${counter++}@example.com`

/** `database`: the store keeps its rows in the SQL database it provides (`SqlClient`), which is then searched for keys. */
export const isolation = <E>(
  name: string,
  store: () => Layer.Layer<Store.Ports, E>,
  options: { readonly database?: boolean } = {}
) =>
  describe(`tenant isolation: ${name}`, () => {
    const scope = Effect.runSync(Scope.make())
    let base = ""
    let context: Context.Context<never> = Context.empty()
    // What the request log wrote, and what was sent: every email, every key, every query.
    const logged: Array<string> = []
    const emails = new Set<string>()
    const presentedKeys = new Set<string>(AllKeys)
    let requests = 0
    let stdout: MockInstance | undefined

    beforeAll(async () => {
      // Test servers log nothing unless asked: this one logs its requests to stdout, captured here.
      const write = process.stdout.write.bind(process.stdout)
      stdout = vi.spyOn(process.stdout, "write").mockImplementation(
        ((chunk: string | Uint8Array, ...rest: Array<any>) => {
          const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8")
          if (text.startsWith('{"time"')) {
            logged.push(text)
            return true
          }
          return (write as any)(chunk, ...rest)
        }) as any
      )
      context = await Effect.runPromise(Scope.extend(Layer.build(store()), scope)) as Context.Context<never>
      const server = start(Layer.succeedContext(context as Context.Context<Store.Ports>), { requestLog: true })
      base = (await Effect.runPromise(Scope.extend(server, scope))).url
    })
    afterAll(async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      stdout?.mockRestore()
    })

    const call = (method: string, path: string, key: string | undefined, body?: unknown) => {
      requests++
      if (key !== undefined) presentedKeys.add(key)
      if (body !== undefined && typeof (body as { email?: unknown }).email === "string")
        emails.add(
          (body as { email: string }).email
        )
      return request(base, method, path, {
        ...(key === undefined ? {} : { key }),
        ...(body === undefined ? {} : { body })
      })
    }
    const track = async (key: string, body: Record<string, unknown>) => {
      const answer = await call("POST", "/v1/track", key, body)
      expect(answer.status, answer.text).toBe(200)
      return answer.body.data as { contact: string; event: string; timestamp: string }
    }
    const get = (path: string, key: string) => call("GET", path, key)
    const byEmail = async (email: string, key: string): Promise<Array<ContactView>> => {
      emails.add(email)
      const answer = await get(`/contacts?email=${encodeURIComponent(email)}`, key)
      expect(answer.status, answer.text).toBe(200)
      expect(answer.body.hasMore).toBe(false)
      return answer.body.data
    }
    /** Every contact the key lists, following cursors, at a page size. */
    const listAll = async (key: string, limit = 100): Promise<Array<ContactView>> => {
      const rows: Array<ContactView> = []
      let cursor: string | undefined
      for (let page = 0; page < 1000; page++) {
        const answer = await get(
          `/contacts?limit=${limit}${cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`}`,
          key
        )
        expect(answer.status, answer.text).toBe(200)
        expect(answer.body.data.length).toBeLessThanOrEqual(limit)
        rows.push(...answer.body.data)
        if (answer.body.hasMore !== true) return rows
        cursor = answer.body.cursor
      }
      throw new Error("too many pages")
    }
    const eventsOf = async (id: string, key: string) => {
      const answer = await get(`/contacts/${id}/events?limit=1000`, key)
      expect(answer.status, answer.text).toBe(200)
      return answer.body.data as Array<{ id: string; name: string; data: unknown; createdAt: string }>
    }
    /** Everything a project's secret key can see: its contacts and all their events. */
    const snapshot = async (key: string) => {
      const contacts = await listAll(key)
      const events: Record<string, unknown> = {}
      for (const c of contacts) events[c.id] = await eventsOf(c.id, key)
      return JSON.stringify({ contacts, events })
    }
    /** Every read route answers an id of the other project exactly as it answers an id that does not exist. */
    const expectInvisible = async (id: string, key: string) => {
      const absent = "00000000-0000-7000-8000-000000000000"
      for (
        const suffix of [
          "",
          "/events",
          "/events?limit=1000",
          "/events?limit=1&cursor=2",
          "/events?cursor=999999",
          "/",
          "/events/"
        ]
      ) {
        const answer = await get(`/contacts/${encodeURIComponent(id)}${suffix}`, key)
        expectEnvelope(answer, 404, "CONTACT_NOT_FOUND")
        const control = await get(`/contacts/${absent}${suffix}`, key)
        expect([answer.status, answer.body.error.code, answer.body.error.message])
          .toEqual([control.status, control.body.error.code, control.body.error.message])
        expect(answer.text).not.toContain(id)
      }
    }

    it("the same email in both projects is two contacts, each seen only by its own project", async () => {
      const email = freshEmail("shared")
      const a = await track(projectA.publicKey, { email, event: "a-signup", data: { owner: "a" } })
      const b = await track(projectB.publicKey, {
        email: ` ${email.toUpperCase()} `,
        event: "b-signup",
        subscribed: false,
        data: { owner: "b" }
      })
      expect(a.contact).not.toBe(b.contact)

      expect((await byEmail(email, projectA.secretKey)).map((c) => [c.id, c.data])).toEqual([[a.contact, {
        owner: "a"
      }]])
      expect((await byEmail(email, projectB.secretKey)).map((c) => [c.id, c.subscribed, c.data])).toEqual([[
        b.contact,
        false,
        { owner: "b" }
      ]])
      expect((await get(`/contacts/${a.contact}`, projectA.secretKey)).body).toMatchObject({
        id: a.contact,
        email,
        subscribed: true
      })
      expect((await eventsOf(a.contact, projectA.secretKey)).map((e) => e.name)).toEqual(["a-signup"])
      expect((await eventsOf(b.contact, projectB.secretKey)).map((e) => e.name)).toEqual(["b-signup"])
      await expectInvisible(b.contact, projectA.secretKey)
      await expectInvisible(a.contact, projectB.secretKey)
    })

    it("project A's writes, with either key and whatever the body carries, never change project B", async () => {
      const email = freshEmail("writes")
      const b = await track(projectB.secretKey, { email, event: "b-first", data: { plan: "b", keep: 1 } })
      const bOnly = await track(projectB.publicKey, { email: freshEmail("b-only"), event: "b-only" })
      const before = await snapshot(projectB.secretKey)

      const a = await track(projectA.publicKey, {
        email,
        event: "a-1",
        subscribed: false,
        data: { plan: "a", keep: null }
      })
      await track(projectA.secretKey, {
        email: email.toUpperCase(),
        event: "a-2",
        subscribed: true,
        data: { plan: { value: "x", persistent: true } }
      })
      await track(projectA.publicKey, {
        email,
        event: "a-3",
        preserveExistingSubscription: true,
        subscribed: false,
        data: { keep: "a" }
      })
      // Fields naming B's contact or another project are unknown fields (behaviour §1.2): ignored.
      const smuggled = await track(projectA.publicKey, {
        email,
        event: "a-4",
        contact: b.contact,
        contactId: b.contact,
        id: b.contact,
        projectId: "b",
        project: "b",
        key: projectB.secretKey,
        data: { id: b.contact, contact: b.contact }
      })
      expect(smuggled.contact).toBe(a.contact)
      // Bad input from A: rejected, and nothing anywhere changes.
      for (
        const body of [{ email, event: "email.sent" }, { email, event: "e", data: [b.contact] }, {
          email: b.contact,
          event: "e"
        }]
      ) {
        expect((await call("POST", "/v1/track", projectA.publicKey, body)).status).toBe(422)
      }
      // Keys of B presented wrongly, or A's public key on read routes, never act for B.
      for (
        const key of [
          `${projectB.secretKey}x`,
          projectB.secretKey.toUpperCase(),
          sha256(projectB.secretKey),
          sha256(projectB.publicKey)
        ]
      ) {
        expectEnvelope(await call("POST", "/v1/track", key, { email, event: "forged" }), 401, "INVALID_API_KEY")
      }

      expect(await snapshot(projectB.secretKey)).toBe(before)
      expect(b.contact).not.toBe(a.contact)
      expect(bOnly.contact).not.toBe(a.contact)
      // And A did get its writes (the check above is not vacuous).
      const mine = (await byEmail(email, projectA.secretKey))[0]!
      expect(mine).toMatchObject({ id: a.contact, subscribed: true, data: { plan: "x", keep: "a" } })
      expect((await eventsOf(a.contact, projectA.secretKey)).map((e) => e.name)).toEqual([
        "a-4",
        "a-3",
        "a-2",
        "contact.subscribed",
        "a-1"
      ])
    })

    it("ids of the other project answer 404 CONTACT_NOT_FOUND on every read route; a public key gets 403 either way", async () => {
      const bIds: Array<string> = []
      for (let i = 0; i < 3; i++)
        bIds.push(
          (await track(projectB.publicKey, { email: freshEmail("b-ids"), event: "e" })).contact
        )
      const aId = (await track(projectA.publicKey, { email: freshEmail("a-ids"), event: "e" })).contact
      for (const id of bIds) {
        await expectInvisible(id, projectA.secretKey)
        for (const path of [`/contacts/${id}`, `/contacts/${id}/events`]) {
          expectEnvelope(await get(path, projectA.publicKey), 403, "FORBIDDEN")
          expectEnvelope(await get(path, projectB.publicKey), 403, "FORBIDDEN")
          expect((await get(path, projectB.secretKey)).status).toBe(200)
        }
      }
      await expectInvisible(aId, projectB.secretKey)
      // Variants of the id do not reach B's row either.
      for (const variant of [bIds[0]!.toUpperCase(), ` ${bIds[0]}`, `${bIds[0]}%00`, `${bIds[0]}/../${bIds[1]}`]) {
        const answer = await get(`/contacts/${encodeURIComponent(variant)}`, projectA.secretKey)
        expect(answer.status, answer.text).toBe(404)
      }
    })

    it("lists and email lookups never show the other project's contacts, at any page size", async () => {
      const aEmails = Array.from({ length: 4 }, () => freshEmail("list-a"))
      const bEmails = Array.from({ length: 6 }, () => freshEmail("list-b"))
      const shared = freshEmail("list-shared")
      // Interleaved, so the two projects' ids alternate in time order.
      for (let i = 0; i < 6; i++) {
        if (i < aEmails.length) await track(projectA.publicKey, { email: aEmails[i]!, event: "e" })
        await track(projectB.publicKey, { email: bEmails[i]!, event: "e" })
      }
      await track(projectA.publicKey, { email: shared, event: "e" })
      await track(projectB.publicKey, { email: shared, event: "e" })

      const aAll = await listAll(projectA.secretKey)
      const bAll = await listAll(projectB.secretKey)
      const aIds = new Set(aAll.map((c) => c.id))
      const bIds = new Set(bAll.map((c) => c.id))
      expect([...aIds].filter((id) => bIds.has(id))).toEqual([])
      for (const email of bEmails) expect(aAll.map((c) => c.email)).not.toContain(email)
      for (const email of aEmails) expect(bAll.map((c) => c.email)).not.toContain(email)
      for (const email of [...aEmails, shared]) expect(aAll.map((c) => c.email)).toContain(email)
      for (const email of [...bEmails, shared]) expect(bAll.map((c) => c.email)).toContain(email)
      for (const limit of [1, 2, 3, 7]) {
        expect((await listAll(projectA.secretKey, limit)).map((c) => c.id)).toEqual(aAll.map((c) => c.id))
        expect((await listAll(projectB.secretKey, limit)).map((c) => c.id)).toEqual(bAll.map((c) => c.id))
      }
      for (const email of bEmails) {
        for (const variant of [email, email.toUpperCase(), `  ${email} `])
          expect(
            await byEmail(variant, projectA.secretKey)
          ).toEqual([])
      }
      for (const email of aEmails) expect(await byEmail(email, projectB.secretKey)).toEqual([])
      const sharedA = await byEmail(shared, projectA.secretKey)
      const sharedB = await byEmail(shared, projectB.secretKey)
      expect(sharedA).toHaveLength(1)
      expect(sharedB).toHaveLength(1)
      expect(aIds.has(sharedA[0]!.id)).toBe(true)
      expect(bIds.has(sharedB[0]!.id)).toBe(true)
      // The email filter wins over a cursor, and a limit does not widen it.
      expect(
        await call("GET", `/contacts?email=${encodeURIComponent(bEmails[0]!)}&cursor=0&limit=100`, projectA.secretKey)
          .then((r) => r.body.data)
      ).toEqual([])
    })

    it("cursors from one project do not leak the other's rows", async () => {
      for (let i = 0; i < 3; i++) {
        await track(projectA.publicKey, { email: freshEmail("cur-a"), event: "e" })
        await track(projectB.publicKey, { email: freshEmail("cur-b"), event: "e" })
      }
      const aIds = new Set((await listAll(projectA.secretKey)).map((c) => c.id))
      const bIds = new Set((await listAll(projectB.secretKey)).map((c) => c.id))
      // Every cursor B's pages hand out, replayed with A's key; and the reverse.
      const cursorsOf = async (key: string) => {
        const cursors: Array<string> = []
        let cursor: string | undefined
        do {
          const page = await get(
            `/contacts?limit=1${cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`}`,
            key
          )
          cursor = page.body.cursor
          if (cursor !== undefined) cursors.push(cursor)
        } while (cursor !== undefined)
        return cursors
      }
      const replay = async (cursors: ReadonlyArray<string>, key: string, own: Set<string>, other: Set<string>) => {
        // A cursor that is not a contact id is a 422 (invalid_cursor); an empty one is no cursor.
        for (const cursor of ["0", "~", "ffffffff"]) {
          const page = await get(`/contacts?limit=1&cursor=${encodeURIComponent(cursor)}`, key)
          expect(page.status, page.text).toBe(422)
          expect(page.body.error.errors[0]).toMatchObject({ field: "cursor", code: "invalid_cursor" })
        }
        for (const cursor of [...cursors, "", "00000000-0000-0000-0000-000000000000"]) {
          for (const limit of [1, 100]) {
            const page = await get(`/contacts?limit=${limit}&cursor=${encodeURIComponent(cursor)}`, key)
            expect(page.status, page.text).toBe(200)
            for (const c of page.body.data as Array<ContactView>) {
              expect(other.has(c.id), `a cursor leaked ${c.id}`).toBe(false)
              expect(own.has(c.id)).toBe(true)
            }
          }
        }
      }
      const bCursors = await cursorsOf(projectB.secretKey)
      const aCursors = await cursorsOf(projectA.secretKey)
      expect(bCursors.length).toBeGreaterThan(2)
      await replay(bCursors, projectA.secretKey, aIds, bIds)
      await replay(aCursors, projectB.secretKey, bIds, aIds)

      // Event cursors: B's cursor on A's contact pages A's events only; on B's contact, A gets 404.
      const aContact = (await track(projectA.publicKey, { email: freshEmail("cur-ev-a"), event: "a0" })).contact
      const bContact = (await track(projectB.publicKey, { email: freshEmail("cur-ev-b"), event: "b0" })).contact
      for (let i = 1; i < 4; i++) {
        await track(projectA.publicKey, {
          email: (await get(`/contacts/${aContact}`, projectA.secretKey)).body.email,
          event: `a${i}`
        })
        await track(projectB.publicKey, {
          email: (await get(`/contacts/${bContact}`, projectB.secretKey)).body.email,
          event: `b${i}`
        })
      }
      const bPage = await get(`/contacts/${bContact}/events?limit=1`, projectB.secretKey)
      expect(bPage.body.hasMore).toBe(true)
      const aPage = await get(`/contacts/${aContact}/events?limit=100&cursor=${bPage.body.cursor}`, projectA.secretKey)
      expect(aPage.status).toBe(200)
      for (const e of aPage.body.data as Array<{ name: string }>) expect(e.name).toMatch(/^a\d$/)
      expectEnvelope(
        await get(`/contacts/${bContact}/events?limit=100&cursor=${bPage.body.cursor}`, projectA.secretKey),
        404,
        "CONTACT_NOT_FOUND"
      )
    })

    it("random interleavings of both projects' tracks: each project sees exactly its own model", async () => {
      const op = FastCheck.record({
        project: FastCheck.constantFrom("a" as const, "b" as const),
        secret: FastCheck.boolean(),
        who: FastCheck.integer({ min: 0, max: 3 }),
        shout: FastCheck.boolean(),
        subscribed: FastCheck.option(FastCheck.boolean(), { nil: undefined })
      })
      await FastCheck.assert(
        FastCheck.asyncProperty(FastCheck.array(op, { minLength: 1, maxLength: 10 }), async (ops) => {
          fuzzCases++
          const run = `${Date.now().toString(36)}${counter++}`
          const keys = { a: projectA, b: projectB }
          const model = {
            a: new Map<string, { id: string; events: Array<string> }>(),
            b: new Map<string, { id: string; events: Array<string> }>()
          }
          for (const [i, o] of ops.entries()) {
            const email = `iso-model-${run}-${o.who}@example.com`
            const key = o.secret ? keys[o.project].secretKey : keys[o.project].publicKey
            const body: Record<string, unknown> = { email: o.shout ? email.toUpperCase() : email, event: `op-${i}` }
            if (o.subscribed !== undefined) body["subscribed"] = o.subscribed
            const result = await track(key, body)
            const known = model[o.project].get(email)
            if (known === undefined) model[o.project].set(email, { id: result.contact, events: [`op-${i}`] })
            else {
              expect(result.contact).toBe(known.id)
              known.events.push(`op-${i}`)
            }
          }
          for (const project of ["a", "b"] as const) {
            const other = project === "a" ? "b" : "a"
            const own = model[project]
            const listed = (await listAll(keys[project].secretKey)).filter((c) =>
              c.email.startsWith(`iso-model-${run}-`)
            )
            expect(listed.map((c) => c.email).sort()).toEqual([...own.keys()].sort())
            for (const [email, { events, id }] of own) {
              expect((await byEmail(email, keys[project].secretKey)).map((c) => c.id)).toEqual([id])
              const names = (await eventsOf(id, keys[project].secretKey)).map((e) => e.name).filter((n) =>
                n.startsWith("op-")
              )
              expect(names).toEqual([...events].reverse())
              const theirs = model[other].get(email)
              if (theirs !== undefined) expect(theirs.id).not.toBe(id)
              expectEnvelope(await get(`/contacts/${id}`, keys[other].secretKey), 404, "CONTACT_NOT_FOUND")
              expectEnvelope(await get(`/contacts/${id}/events`, keys[other].secretKey), 404, "CONTACT_NOT_FOUND")
              if (theirs === undefined) expect(await byEmail(email, keys[other].secretKey)).toEqual([])
            }
          }
        }),
        { numRuns: NumRuns }
      )
    })

    it("a key is not its hash: presenting a stored hash, or a key of the wrong kind, does not authenticate", async () => {
      for (const key of AllKeys) {
        expectEnvelope(
          await call("POST", "/v1/track", sha256(key), { email: freshEmail("hash"), event: "e" }),
          401,
          "INVALID_API_KEY"
        )
        expectEnvelope(await get("/contacts", sha256(key)), 401, "INVALID_API_KEY")
      }
      expectEnvelope(await get("/contacts", projectA.publicKey), 403, "FORBIDDEN")
      expectEnvelope(await get("/contacts", projectB.publicKey), 403, "FORBIDDEN")
    })

    // The memory store keeps its state private to its closure; only a database can be searched.
    if (options.database === true)
      it("keys are stored only as hashes: every row of every table searched", async () => {
        const sql = Context.getOption(context as Context.Context<SqlClient.SqlClient>, SqlClient.SqlClient)
        if (Option.isNone(sql)) throw new Error("the store layer provides no SqlClient")
        const run = <A extends object>(query: string) => Effect.runPromise(sql.value.unsafe<A>(query))
        const keyRows = await run<{ hash: string; kind: string }>("SELECT hash, kind FROM api_keys ORDER BY hash")
        expect(keyRows.map((r) => [r.hash, r.kind]).sort()).toEqual([
          [sha256(projectA.publicKey), "public"],
          [sha256(projectA.secretKey), "secret"],
          [sha256(projectB.publicKey), "public"],
          [sha256(projectB.secretKey), "secret"]
        ].sort())
        const tables = await run<{ name: string }>(
          "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'"
        )
        expect(tables.map((t) => t.name)).toEqual(
          expect.arrayContaining(["public.api_keys", "public.projects", "public.contacts", "public.events"])
        )
        let rows = 0
        for (const { name } of tables) {
          for (const { row } of await run<{ row: string }>(`SELECT t::text AS row FROM ${name} t`)) {
            rows++
            for (const key of presentedKeys) {
              // (Hashes were presented as keys on purpose: those are what api_keys holds.)
              if (!/^[0-9a-f]{64}$/.test(key)) expect(row, `${name} holds a key`).not.toContain(key)
            }
            // Not even the part after the prefix.
            for (const key of AllKeys) expect(row).not.toContain(key.slice(3))
          }
        }
        expect(rows).toBeGreaterThan(10)
      })

    it("the request log has one line per request, and never a key, an email or a query string", async () => {
      // Something sent with a query, a wrong key and a body, all to be kept out of the log.
      await get(`/contacts?email=${encodeURIComponent("log-probe@example.com")}&limit=5`, projectA.secretKey)
      await call("POST", "/v1/track", "sk_not_a_key_but_secret", { email: "log-probe-2@example.com", event: "e" })
      await call("GET", "/contacts", undefined)
      // One of each status, so this test does not lean on the others.
      await get("/contacts/00000000-0000-7000-8000-000000000000", projectB.secretKey)
      await get("/contacts", projectB.publicKey)
      await call("POST", "/v1/track", projectB.publicKey, { email: "log-probe-3@example.com", event: "email.sent" })
      await call("POST", "/v1/track", projectB.publicKey, { email: "log-probe-4@example.com", event: "e" })
      await new Promise((resolve) => setImmediate(resolve))
      await new Promise((resolve) => setTimeout(resolve, 20))

      const lines = logged.join("").split("\n").filter((l) => l.length > 0)
      const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
      const requestLines = entries.filter((e) => e["msg"] === "request")
      expect(requestLines.length).toBeGreaterThanOrEqual(requests)
      expect(entries.filter((e) => e["level"] === "error")).toEqual([])
      const statuses = new Set(requestLines.map((e) => e["status"]))
      for (const status of [200, 401, 403, 404, 422]) expect(statuses).toContain(status)
      for (const entry of requestLines) {
        expect(Object.keys(entry).sort()).toEqual([
          "durationMs",
          "level",
          "method",
          "msg",
          "requestId",
          "route",
          "status",
          "time"
        ])
        expect(String(entry["route"])).not.toContain("?")
      }
      expect(emails.size).toBeGreaterThan(10)
      const leaks: Array<string> = []
      for (const line of lines) {
        const lower = line.toLowerCase()
        for (const key of presentedKeys) if (line.includes(key)) leaks.push(`key ${key}: ${line}`)
        for (const email of emails) {
          for (const form of [email, encodeURIComponent(email), email.trim().toLowerCase()]) {
            if (lower.includes(form.toLowerCase())) leaks.push(`email ${email}: ${line}`)
          }
        }
        if (/@|%40|pk_|sk_|bearer|email=|cursor=|limit=/.test(lower)) leaks.push(`pattern: ${line}`)
      }
      expect(leaks).toEqual([])
    })
  })

isolation("memory store", () => StoreMemory.layer)
isolation(`postgres (${new URL(TestDatabase.adminUrl).host})`, () => TestDatabase.layer(), { database: true })
