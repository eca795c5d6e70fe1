/**
 * Every query the store sends on the track path and its reads is an index lookup by
 * construction: none may scan contacts, events or streams, on a database never analyzed (the
 * embedded store never is) nor right after ANALYZE. A plan that depends on statistics makes
 * the cost of a track grow with the store (issue 14). The store is run over a client that
 * records each statement it builds; each is then EXPLAINed with its own parameters, and as the
 * generic plan PostgreSQL may keep for a statement prepared once per connection. A project's
 * page of the log, which comes from a function the planner does not see into, is read in the
 * function's order and not sorted again.
 */
import type * as Statement from "@effect/sql/Statement"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as Contact from "@tracklog/core/Contact"
import * as EventStore from "@tracklog/core/EventStore"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as DirectQuery from "../src/internal/directQuery.js"
import * as StorePostgres from "../src/StorePostgres.js"

const Contacts = 3000
const project = "plans"

// The client the store sees: the real one, noting every statement built with the template tag
// or given as text (`unsafe`: the batched statements, which a store with its own pool sends
// straight to it, are given to this client as text since it has none).
const recording = (sql: SqlClient.SqlClient, seen: Array<Statement.Statement<unknown>>): SqlClient.SqlClient =>
  new Proxy(sql, {
    apply: (target, self, args) => {
      const statement = Reflect.apply(target, self, args)
      if (Array.isArray(args[0]) && "raw" in args[0]) seen.push(statement)
      return statement
    },
    get: (target, property, receiver) => {
      const value = Reflect.get(target, property, receiver)
      if (property !== "unsafe") return value
      return (...args: Parameters<SqlClient.SqlClient["unsafe"]>) => {
        const statement = sql.unsafe(...args)
        seen.push(statement)
        return statement
      }
    }
  })

// A store over the recording client, and what it has built so far. Without the pool, so the
// batched statements reach the recording client too.
const recordingStore = Effect.gen(function*() {
  const seen: Array<Statement.Statement<unknown>> = []
  const store = yield* StorePostgres.make({}).pipe(
    Effect.provideService(SqlClient.SqlClient, recording(yield* SqlClient.SqlClient, seen)),
    Effect.mapInputContext((context: Context.Context<never>) => Context.omit(DirectQuery.Pool)(context))
  )
  return { seen, store }
})

interface PlanNode {
  readonly "Node Type": string
  readonly "Relation Name"?: string
  readonly "Index Name"?: string
  readonly Plans?: ReadonlyArray<PlanNode>
}

const nodes = (node: PlanNode): Array<PlanNode> => [node, ...(node.Plans ?? []).flatMap(nodes)]

const hotTables = new Set(["contacts", "events", "streams", "suppressions"])
// Keys too (two per project) in the statements of the track path, which look keys up by hash:
// the key lookup and the group commit, which checks the key a track is made under.
const scansHot = (query: string, relation: string) =>
  hotTables.has(relation) || (relation === "api_keys" && query.includes("hash = ANY"))

// Many contacts, each with a short stream, written directly: the store is not what is measured.
const seed = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  for (
    const table of ["contacts", "events", "streams", "api_keys", "suppressions", "segment_snapshots", "segment_members"]
  ) {
    // Kept never analyzed on the server too, whatever autovacuum would do meanwhile.
    yield* sql.unsafe(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`)
  }
  yield* sql.unsafe(`
    INSERT INTO contacts (id, project_id, email, subscribed, data, created_at, updated_at, version)
    SELECT 'c' || g, '${project}', 'user' || g || '@example.com', true, '{}'::json, now(), now(), 2
    FROM generate_series(1, ${Contacts}) g`)
  yield* sql.unsafe(
    `INSERT INTO streams (stream_id, version) SELECT 'c' || g, 2 FROM generate_series(1, ${Contacts}) g`
  )
  yield* sql.unsafe(`
    INSERT INTO events (stream_id, project_id, version, id, type, data, created_at)
    SELECT 'c' || g, '${project}', v, 'e' || g || '-' || v, 'EventTracked',
      json_build_object('_tag', 'EventTracked', 'name', 'seeded', 'data', '{}'::json, 'at', now()), now()
    FROM generate_series(1, ${Contacts}) g, generate_series(1, 2) v`)
  // Projects with their two keys; the track below is made under one of them.
  yield* sql.unsafe(`INSERT INTO projects (id) SELECT 'p' || g FROM generate_series(1, ${Contacts}) g`)
  yield* sql.unsafe(`INSERT INTO projects (id) VALUES ('${project}')`)
  yield* sql.unsafe(`
    INSERT INTO api_keys (hash, project_id, kind)
    SELECT md5('k' || g || kind), 'p' || g, kind FROM generate_series(1, ${Contacts}) g, unnest(ARRAY['public', 'secret']) kind`)
  yield* sql.unsafe(`INSERT INTO api_keys (hash, project_id, kind) VALUES ('${keyHash}', '${project}', 'public')`)
  // Every contact with a segment snapshot and in one segment, as a live segment keeps them.
  yield* sql.unsafe(`
    INSERT INTO segment_snapshots (contact_id, project_id, snapshot, due)
    SELECT 'c' || g, '${project}', jsonb_build_object(
      'contact', jsonb_build_object('id', 'c' || g, 'projectId', '${project}', 'createdAt', now(), 'updatedAt', now()),
      'facts', '{}'::jsonb, 'segments', '{}'::jsonb, 'deadlines', '{}'::jsonb, 'due', NULL
    ), NULL
    FROM generate_series(1, ${Contacts}) g`)
  yield* sql.unsafe(`
    INSERT INTO segment_members (segment_id, contact_id, entered_at)
    SELECT 'plans-segment', 'c' || g, now() FROM generate_series(1, ${Contacts}) g`)
  // A suppression list as long as the contacts, which a first track checks.
  yield* sql.unsafe(`
    INSERT INTO suppressions (project_id, email_hash)
    SELECT '${project}', md5('s' || g) FROM generate_series(1, ${Contacts}) g`)
})

const keyHash = "a".repeat(64)

// The operations of a track and of the reads, on existing and new contacts, one at a time and
// several at once (the batched statements).
const exercise = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const { seen, store } = yield* recordingStore
  const { contacts, eventStore, logSource, membershipStore } = store
  const found = yield* contacts.findByEmail(project, "user42@example.com")
  expect(found._tag).toBe("Some")
  yield* contacts.findByEmail(project, "nobody@example.com")
  yield* Effect.all(
    Array.from({ length: 6 }, (_, i) => contacts.findByEmail(project, `user${i * 7 + 1}@example.com`)),
    { concurrency: "unbounded" }
  )
  const at = new Date()
  const existing = found._tag === "Some" ? found.value : undefined
  const next = ContactEvent.EventTracked.make({ name: "plan", data: {}, at })
  yield* eventStore.append({
    streamId: existing!.id,
    expectedVersion: existing!.version,
    events: [{ id: "plan-e1", event: next }],
    projection: { _tag: "Upsert", contact: Contact.evolve(existing!, next)! },
    grantedBy: keyHash
  })
  const created = ContactEvent.ContactCreated.make({
    contactId: "plan-new",
    projectId: project,
    email: "new@example.com",
    subscribed: true,
    at
  })
  // A first track: checked against the suppression list in the append.
  yield* eventStore.append({
    streamId: "plan-new",
    expectedVersion: 0,
    events: [{ id: "plan-e2", event: created }],
    projection: { _tag: "Upsert", contact: Contact.fold([created])! },
    grantedBy: keyHash
  })
  // A first track for a taken email: refused, with the contact that holds it.
  const taken = ContactEvent.ContactCreated.make({ ...created, contactId: "plan-taken", email: "user7@example.com" })
  const refused = yield* Effect.flip(eventStore.append({
    streamId: "plan-taken",
    expectedVersion: 0,
    events: [{ id: "plan-e3", event: taken }],
    projection: { _tag: "Upsert", contact: Contact.fold([taken])! }
  }))
  expect(refused).toMatchObject({ _tag: "ConcurrencyConflict", reason: "email", holder: { id: "c7", version: 2 } })
  // A batch: its contacts read in one statement, then moved together in one transaction.
  const many = yield* contacts.findManyByEmail(
    project,
    Array.from({ length: 5 }, (_, i) => `user${i * 11 + 3}@example.com`)
  )
  yield* eventStore.appendAll({
    appends: many.map((c, i) => {
      const contact = c._tag === "Some" ? c.value : undefined
      return {
        streamId: contact!.id,
        expectedVersion: contact!.version,
        events: [{ id: `plan-batch-${i}`, event: next }],
        projection: { _tag: "Upsert", contact: Contact.evolve(contact!, next)! }
      }
    })
  })
  yield* contacts.findById(project, "c7")
  // Several at once, as an event stream looks up the contacts it meets: one batched statement.
  yield* Effect.all(
    Array.from({ length: 6 }, (_, i) => contacts.findById(project, `c${i * 13 + 2}`)),
    { concurrency: "unbounded" }
  )
  yield* contacts.timeline(project, "c7", { limit: 10 })
  yield* eventStore.readStream("c7")
  const last = yield* sql<{ transaction_id: string; global_position: string }>`
    SELECT transaction_id::text, global_position::text FROM events ORDER BY transaction_id DESC, global_position DESC LIMIT 1 OFFSET 5`
  const checkpoint = { transactionId: BigInt(last[0]!.transaction_id), position: BigInt(last[0]!.global_position) }
  yield* eventStore.readAll(checkpoint, 100)
  // Pages bounded by bytes, as the processors read them.
  yield* eventStore.readAll(checkpoint, 100, 4096)
  yield* logSource.read(checkpoint, 100, undefined, 4096)
  // The segment reads that join each row to its contact: a page of snapshots, a page of members.
  yield* membershipStore.page(project, "", 100)
  yield* membershipStore.scan(project, "c1", 100, {
    events: ["purchase"],
    data: true,
    attributes: new Set(["email", "subscribed", "createdAt", "updatedAt"])
  })
  yield* membershipStore.members("plans-segment", { limit: 10 })
  // The segment processor's own statements: its snapshots by contact, the due ones, and a write
  // that appends a transition (the streams locked, the living contacts joined into the append).
  yield* membershipStore.snapshots(["c7", "c8"])
  yield* membershipStore.due(Date.now(), 10)
  yield* membershipStore.write({
    snapshots: [],
    removed: [],
    joined: [],
    left: [],
    progress: [],
    purged: [],
    transitions: [{
      contactId: "c7",
      projectId: project,
      name: "segment.plans.entry",
      data: { segmentId: "plans-segment", segmentName: "plans", reason: "changed" },
      at,
      eventId: "plan-transition"
    }]
  })
  return seen
})

// A parameter as an SQL literal: EXECUTE's arguments cannot be bound.
const literal = (value: unknown): string => {
  const quoted = (text: string) => `'${text.replace(/'/g, "''")}'`
  if (typeof value === "number" || typeof value === "bigint") return String(value)
  if (typeof value === "boolean") return value ? "true" : "false"
  if (value === null) return "NULL"
  if (value instanceof Date) return quoted(value.toISOString())
  if (Array.isArray(value)) return quoted(`{${value.map((v) => `"${String(v).replace(/["\\]/g, "\\$&")}"`).join(",")}}`)
  return quoted(String(value))
}

// Each statement (not the fragments) with the relations it scans sequentially.
const seqScans = (statements: ReadonlyArray<Statement.Statement<unknown>>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const out: Array<{ readonly query: string; readonly seqScans: ReadonlyArray<string> }> = []
    const compiled = statements.map((statement) => statement.compile())
    for (const [text, params] of compiled) {
      if (!/^\s*(SELECT|WITH|UPDATE|INSERT)\b/i.test(text)) continue
      // A fragment (a piece interpolated into a larger statement) is EXPLAINed as part of it.
      if (compiled.some(([other]) => other.length > text.length && other.includes(text.trim()))) continue
      const [row] = yield* sql.unsafe<{ "QUERY PLAN": ReadonlyArray<{ Plan: PlanNode }> }>(
        `EXPLAIN (FORMAT JSON) ${text}`,
        params
      )
      const scansIn = (plan: PlanNode) =>
        nodes(plan).filter((n) => n["Node Type"] === "Seq Scan" && scansHot(text, n["Relation Name"] ?? ""))
          .map((n) => n["Relation Name"]!)
      const query = text.replace(/\s+/g, " ").trim()
      out.push({ query, seqScans: scansIn(row!["QUERY PLAN"][0]!.Plan) })
      // The store prepares the track path's statements once per connection, and after five runs
      // PostgreSQL may keep a generic plan, made without the parameters' values: that one too.
      if (params.length === 0) continue
      const generic = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql.unsafe(`SET LOCAL plan_cache_mode = force_generic_plan`)
        yield* sql.unsafe(`PREPARE plans_generic AS ${text}`)
        const [plan] = yield* sql.unsafe<{ "QUERY PLAN": ReadonlyArray<{ Plan: PlanNode }> }>(
          `EXPLAIN (FORMAT JSON) EXECUTE plans_generic (${params.map(literal).join(", ")})`
        )
        yield* sql.unsafe(`DEALLOCATE plans_generic`)
        return plan!["QUERY PLAN"][0]!.Plan
      }))
      out.push({ query: `generic: ${query}`, seqScans: scansIn(generic) })
    }
    return out
  })

// A project's log in pages, as a catch-up reads it: events of two projects interleaved over many
// transactions, read back in pages of 7.
const projectPages = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  for (let t = 0; t < 12; t++) {
    yield* sql.withTransaction(sql.unsafe(`
      INSERT INTO events (stream_id, project_id, version, id, type, data, created_at)
      SELECT 'page-' || p || '-' || ${t}, p, v, 'page-' || p || '-' || ${t} || '-' || v, 'EventTracked',
        json_build_object('_tag', 'EventTracked', 'name', 'paged', 'data', '{}'::json, 'at', now()), now()
      FROM unnest(ARRAY['mine', 'theirs']) p, generate_series(1, 3) v`))
  }
  const { seen, store: { logSource } } = yield* recordingStore
  const read: Array<string> = []
  let checkpoint = EventStore.start
  while (true) {
    const page = yield* logSource.read(checkpoint, 7, "mine")
    read.push(...page.events.map((e) => e.id))
    checkpoint = page.checkpoint
    if (page.events.length < 7) break
  }
  const inLogOrder = yield* sql<{ id: string }>`
    SELECT id FROM events WHERE project_id = 'mine' ORDER BY transaction_id, global_position`
  // The whole statement, not the fragment of it that names the function.
  const [text, params] = seen.map((s) => s.compile()).filter(([text]) => text.includes("tracklog_project_page"))
    .sort(([a], [b]) => b.length - a.length)[0]!
  const [plan] = yield* sql.unsafe<{ "QUERY PLAN": ReadonlyArray<{ Plan: PlanNode }> }>(
    `EXPLAIN (FORMAT JSON) ${text}`,
    params
  )
  return {
    read,
    inLogOrder: inLogOrder.map((r) => r.id),
    nodeTypes: nodes(plan!["QUERY PLAN"][0]!.Plan).map((n) => n["Node Type"])
  }
})

// An endpoint and 3 000 of its messages, never analyzed: mostly settled, as under load, and a few
// pending ones (the last 50, of 50 contacts).
const seedMessages = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`ALTER TABLE webhook_messages SET (autovacuum_enabled = false)`)
  yield* sql.unsafe(`
    INSERT INTO webhook_endpoints (id, project_id, state, enabled, version, created_at)
    VALUES ('w1', '${project}', '{}'::json, true, 1, now())`)
  yield* sql.unsafe(`
    INSERT INTO webhook_messages
      (id, project_id, endpoint_id, contact_id, event_id, type, payload, status, next_attempt_at, created_at)
    SELECT 'm' || g, '${project}', 'w1', 'c' || (g % 300), 'e' || g, 'purchase', '{}',
      CASE WHEN g > 2950 THEN 'pending' ELSE 'delivered' END, now() - interval '1 hour' + g * interval '1 ms', now()
    FROM generate_series(1, 3000) g`)
})

for (const backend of TestDatabase.backends) {
  describe(`log plans: ${backend.name}`, () => {
    it.scopedLive(
      "a project's page of the log is read in log order, without sorting it again",
      () =>
        Effect.gen(function*() {
          const { inLogOrder, nodeTypes, read } = yield* projectPages
          expect(read).toHaveLength(36)
          expect(read).toEqual(inLogOrder)
          expect(nodeTypes).toContain("Function Scan")
          expect(nodeTypes).not.toContain("Sort")
        }).pipe(Effect.provide(Layer.fresh(TestDatabase.layer(backend.database)))),
      60_000
    )
  })

  describe(`segment page plans: ${backend.name}`, () => {
    it.scopedLive(
      "a page of snapshots or of members walks its index in order, on tables never analyzed: no sort, no bitmap scan",
      () =>
        Effect.gen(function*() {
          yield* seed
          const sql = yield* SqlClient.SqlClient
          const functions = yield* sql<{ proname: string; prosrc: string; proconfig: ReadonlyArray<string> }>`
            SELECT proname, prosrc, proconfig FROM pg_proc
            WHERE proname IN ('tracklog_snapshot_page', 'tracklog_member_page') ORDER BY proname`
          expect(functions.map((f) => f.proname)).toEqual(["tracklog_member_page", "tracklog_snapshot_page"])
          for (const f of functions) {
            // The body as the function runs it: under its own settings, with a cursor halfway.
            const body = f.prosrc.replace(/\bp\b|\bs\b/g, `'${project}'`).replace(/\bafter\b/g, "'c1500'")
              .replace(/\bn\b/g, "500")
            const plan = yield* sql.withTransaction(Effect.gen(function*() {
              for (const setting of f.proconfig) {
                const [name, value] = setting.split("=")
                yield* sql.unsafe(`SET LOCAL ${name} = ${value}`)
              }
              const [row] = yield* sql.unsafe<{ "QUERY PLAN": ReadonlyArray<{ Plan: PlanNode }> }>(
                `EXPLAIN (FORMAT JSON) ${body.replace("segment_id = 'plans'", "segment_id = 'plans-segment'")}`
              )
              return nodes(row!["QUERY PLAN"][0]!.Plan).map((n) => n["Node Type"])
            }))
            expect(plan, f.proname).toContain("Index Scan")
            expect(plan, f.proname).not.toContain("Sort")
            expect(plan, f.proname).not.toContain("Bitmap Heap Scan")
          }
        }).pipe(Effect.provide(Layer.fresh(TestDatabase.layer(backend.database)))),
      60_000
    )
  })

  describe(`lookups by id: ${backend.name}`, () => {
    it.scopedLive(
      "lookups by id that arrive together go in a few statements, each answered with its own contact, none with another project's",
      () =>
        Effect.gen(function*() {
          yield* seed
          const { seen, store } = yield* recordingStore
          const before = seen.length
          const ids = [...Array.from({ length: 40 }, (_, i) => `c${i * 7 + 1}`), "c-missing"]
          const found = yield* Effect.all(ids.map((id) => store.contacts.findById(project, id)), {
            concurrency: "unbounded"
          })
          expect(found.map((c) => c._tag === "Some" ? c.value.id : null)).toEqual([...ids.slice(0, 40), null])
          expect(found.slice(0, 40).map((c) => c._tag === "Some" ? c.value.email : null)).toEqual(
            ids.slice(0, 40).map((id) => `user${id.slice(1)}@example.com`)
          )
          expect(yield* store.contacts.findById("another-project", "c1")).toEqual(Option.none())
          // One for the first (an idle batcher sends at once), the rest together: not one each.
          expect(seen.length - before).toBeLessThanOrEqual(4)
        }).pipe(Effect.provide(Layer.fresh(TestDatabase.layer(backend.database)))),
      60_000
    )
  })

  describe(`webhook claim plan: ${backend.name}`, () => {
    it.scopedLive(
      "the sender's claim walks the due index in order, on a table never analyzed: no sort, no bitmap scan, no scan of the messages",
      () =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* seedMessages
          const [f] = yield* sql<{ prosrc: string; proconfig: ReadonlyArray<string> }>`
            SELECT prosrc, proconfig FROM pg_proc WHERE proname = 'tracklog_claimable'`
          // The body as the function runs it: under its own settings, for a claim of 64 now.
          const body = f!.prosrc.replace(/\bat\b/g, "now()").replace(/\bn\b/g, "64")
            .replace(/\bexcluded\b/g, "'{}'::text[]")
          const plan = yield* sql.withTransaction(Effect.gen(function*() {
            for (const setting of f!.proconfig) {
              const [name, value] = setting.split("=")
              yield* sql.unsafe(`SET LOCAL ${name} = ${value}`)
            }
            const [row] = yield* sql.unsafe<{ "QUERY PLAN": ReadonlyArray<{ Plan: PlanNode }> }>(
              `EXPLAIN (FORMAT JSON) ${body}`
            )
            return nodes(row!["QUERY PLAN"][0]!.Plan)
          }))
          const types = plan.map((n) => n["Node Type"])
          expect(plan.some((n) => n["Node Type"] === "Index Scan" && n["Index Name"] === "webhook_messages_due"))
            .toBe(true)
          expect(types).not.toContain("Sort")
          expect(types).not.toContain("Bitmap Heap Scan")
          expect(plan.filter((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === "webhook_messages"))
            .toEqual([])
          // And the claim itself, through the function: the pending messages, the earliest per contact.
          const claimed = yield* sql<{ n: number }>`
            SELECT count(*)::int AS n FROM tracklog_claimable(now(), 64, ${[] as Array<string>}::text[])`
          expect(claimed[0]!.n).toBe(50)
        }).pipe(Effect.provide(Layer.fresh(TestDatabase.layer(backend.database)))),
      60_000
    )
  })

  describe(`webhook enqueue plan: ${backend.name}`, () => {
    it.scopedLive(
      "the dispatcher's enqueue under a lease probes each message's endpoint, event and earlier pending message by index, on tables never analyzed",
      () =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* seedMessages
          yield* sql.unsafe(`ALTER TABLE events SET (autovacuum_enabled = false)`)
          yield* sql.unsafe(`
            INSERT INTO events (stream_id, project_id, version, id, type, data, created_at)
            SELECT 'c' || g, '${project}', 1, 'e' || g, 'EventTracked', '{}'::json, now()
            FROM generate_series(1, 3000) g`)
          const { seen, store } = yield* recordingStore
          const at = new Date()
          const messages = Array.from({ length: 3 }, (_, i) => ({
            id: `new${i}`,
            projectId: project,
            endpointId: "w1",
            contactId: `c${i}`,
            eventId: `new-e${i}`,
            type: "purchase",
            payload: "{}",
            createdAt: at
          }))
          yield* store.webhookOutbox.enqueue(messages, {
            owner: "me",
            until: new Date(at.getTime() + 60_000),
            limit: 10
          })
          const [text, params] = seen.map((s) => s.compile()).find(([t]) => t.includes("INSERT INTO webhook_messages"))!
          const [row] = yield* sql.unsafe<{ "QUERY PLAN": ReadonlyArray<{ Plan: PlanNode }> }>(
            `EXPLAIN (FORMAT JSON) ${text}`,
            params
          )
          const plan = nodes(row!["QUERY PLAN"][0]!.Plan)
          expect(plan.filter((n) => n["Node Type"] === "Seq Scan").map((n) => n["Relation Name"])).toEqual([])
          expect(plan.some((n) => n["Index Name"] === "webhook_messages_order")).toBe(true)
        }).pipe(Effect.provide(Layer.fresh(TestDatabase.layer(backend.database)))),
      60_000
    )
  })

  describe(`hot-path plans: ${backend.name}`, () => {
    it.scopedLive(
      `no sequential scan of contacts, events, streams or keys looked up at ${Contacts} contacts, before and after ANALYZE, custom and generic plans`,
      () =>
        Effect.gen(function*() {
          yield* seed
          const sql = yield* SqlClient.SqlClient
          const statements = yield* exercise
          const before = yield* seqScans(statements)
          // Every kind of statement was seen: the lookup, the append, and the reads.
          expect(before.some((s) => s.query.includes("CROSS JOIN LATERAL"))).toBe(true)
          expect(before.some((s) => s.query.startsWith("WITH granted AS"))).toBe(true)
          expect(before.some((s) => s.query.startsWith("generic: WITH granted AS"))).toBe(true)
          expect(before.length).toBeGreaterThanOrEqual(7)
          expect(before.filter((s) => s.seqScans.length > 0)).toEqual([])
          yield* sql`ANALYZE`
          const after = yield* seqScans(statements)
          expect(after.filter((s) => s.seqScans.length > 0)).toEqual([])
          // The pages of snapshots and members come from the functions that walk their index.
          const texts = statements.map((s) => s.compile()[0])
          for (const f of ["tracklog_snapshot_page", "tracklog_member_page"]) {
            expect(texts.filter((t) => t.includes(f)).length).toBeGreaterThan(0)
          }
        }).pipe(Effect.provide(Layer.fresh(TestDatabase.layer(backend.database)))),
      120_000
    )
  })
}
