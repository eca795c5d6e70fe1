/**
 * The revenue processor, as two real processes on one PostgreSQL: the active one is killed with
 * SIGKILL mid-batch; the standby takes over within 10 s and every purchase is counted exactly once.
 */
import { expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as Processor from "@tracklog/core/Processor"
import * as StorePostgres from "@tracklog/store-postgres/StorePostgres"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as Revenue from "../src/Revenue.js"

const newId = () => Ids.uuidv7(Date.now(), globalThis.crypto.getRandomValues(new Uint8Array(10)))
const root = fileURLToPath(new URL("..", import.meta.url))

interface Instance {
  readonly child: ChildProcess
  active: boolean
}

const startInstance = (url: string): Instance => {
  const child = spawn(process.execPath, ["--conditions=@tracklog/source", "--import", "tsx", "src/main.ts"], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: url, REVENUE_BATCH_DELAY_MS: "150" },
    stdio: ["ignore", "pipe", "inherit"]
  })
  const instance: Instance = { child, active: false }
  child.stdout!.setEncoding("utf8").on("data", (text: string) => {
    for (const line of text.split("\n")) {
      if (line === "ACTIVE") instance.active = true
      if (line === "STANDBY") instance.active = false
    }
  })
  return instance
}

const waitUntil = (what: string, done: () => boolean, seconds: number) =>
  Effect.gen(function*() {
    const deadline = Date.now() + seconds * 1000
    while (!done()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`${what}: not within ${seconds} s`))
      yield* Effect.sleep("20 millis")
    }
  })

// Purchases for a few contacts, appended through the store's port; returns the expected totals.
const purchases = (contacts: number, each: number) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    const expected = new Map<string, { total: number; purchases: number }>()
    for (let c = 0; c < contacts; c++) {
      const contactId = newId()
      const at = new Date()
      const events: Array<ContactEvent.ContactEvent> = [
        ContactEvent.ContactCreated.make({
          contactId,
          projectId: "p",
          email: `${contactId}@example.com`,
          subscribed: true,
          at
        })
      ]
      let total = 0
      for (let i = 0; i < each; i++) {
        const amount = (c + 1) * 10 + i
        total += amount
        events.push(ContactEvent.EventTracked.make({ name: "purchase", data: { amount }, at }))
        events.push(ContactEvent.EventTracked.make({ name: "page-view", data: {}, at }))
      }
      yield* store.append({
        streamId: contactId,
        expectedVersion: 0,
        events: events.map((event) => ({ id: newId(), event })),
        projection: { _tag: "Upsert", contact: Contact.fold(events)! }
      })
      expected.set(contactId, { total, purchases: each })
    }
    return expected
  })

it.live(
  "kill -9 of the active instance mid-batch: the standby takes over within 10 s, and every purchase counts exactly once",
  () =>
    Effect.gen(function*() {
      const db = yield* TestDatabase.server
      if (db.backend === "embedded")
        return yield* Effect.die(new Error("this test needs a PostgreSQL server (DATABASE_URL)"))
      const store = yield* Layer.build(StorePostgres.layer({ url: db.url }))
      yield* Effect.provide(Revenue.migrate, store)
      const expected = yield* Effect.provide(purchases(12, 25), store)

      const instances = [startInstance(db.url), startInstance(db.url)]
      yield* Effect.addFinalizer(() => Effect.sync(() => instances.forEach((i) => i.child.kill("SIGKILL"))))
      yield* waitUntil("an instance active", () => instances.some((i) => i.active), 30)
      // Mid-batch: some batches committed, more to go.
      const status = Effect.flatMap(Processor.ProcessorStore, (s) => s.status(Revenue.name)).pipe(Effect.provide(store))
      yield* Effect.gen(function*() {
        while (true) {
          const s = yield* status
          if (Option.isSome(s) && s.value.checkpoint.position > 0n) return
          yield* Effect.sleep("20 millis")
        }
      }).pipe(Effect.timeout("20 seconds"), Effect.orDie)
      expect(instances.filter((i) => i.active)).toHaveLength(1)
      const victim = instances.find((i) => i.active)!
      const standby = instances.find((i) => i !== victim)!
      victim.child.kill("SIGKILL")
      const killedAt = Date.now()
      yield* waitUntil("the standby active", () => standby.active, 10)
      expect(Date.now() - killedAt).toBeLessThan(10_000)

      // More purchases after the takeover, then wait for the processor to be level with the log.
      for (const [id, v] of yield* Effect.provide(purchases(3, 5), store)) expected.set(id, v)
      yield* Effect.gen(function*() {
        while ((yield* Effect.provide(Processor.lag(Revenue.name), store)).events > 0) yield* Effect.sleep("50 millis")
      }).pipe(Effect.timeout("30 seconds"), Effect.orDie)

      const rows = yield* Effect.provide(Revenue.totals, store)
      const got = new Map(rows.map((r) => [r.contact_id, { total: Number(r.total), purchases: r.purchases }]))
      expect(got).toEqual(expected)
      // Not a leftover of the killed instance: its lease expired and the standby holds it.
      const owner = yield* Effect.provide(status, store)
      expect(Option.isSome(owner) && Option.isSome(owner.value.owner)).toBe(true)
      yield* Effect.provide(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1`), store)
    }).pipe(Effect.scoped),
  120_000
)
