/**
 * Catch-up reading under concurrent writers (behaviour §4), after Emmett's ordering scenarios: a
 * reader that resumes from a checkpoint sees every committed event exactly once, in order.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, layer } from "@effect/vitest"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import { createContact, readAllFrom, readAllUntil, tracked } from "@tracklog/core/testing/StoreContract"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"

const appendNew = (email: string) =>
  Effect.map(createContact("ordering", email, [tracked(email)]), ({ contactId }) => contactId)

// A writer's transaction, by hand: it takes its transaction id and positions now and commits
// (or rolls back) when the test says. The store's own appends commit at once.
const insertInTransaction = (email: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const ids = yield* Ids.Ids
    const contactId = yield* ids.next
    const at = new Date()
    const events = [
      ContactEvent.ContactCreated.make({ contactId, projectId: "ordering", email, subscribed: true, at }),
      ContactEvent.EventTracked.make({ name: email, data: {}, at })
    ]
    yield* sql`INSERT INTO streams (stream_id, version) VALUES (${contactId}, 2)`
    for (const [i, event] of events.entries()) {
      yield* sql`INSERT INTO events (stream_id, project_id, version, id, type, data, created_at)
        VALUES (${contactId}, 'ordering', ${i + 1}, ${yield* ids.next}, ${event._tag}, ${
        JSON.stringify(ContactEvent.encode(event))
      }::json, ${at.toISOString()}::timestamptz)`
    }
  })

// Names of tracked events, only those of this test: other tests' commits may show up late.
const names = (events: ReadonlyArray<EventStore.RecordedEvent>, ours: (name: string) => boolean) =>
  events.flatMap((r) => (r.event._tag === "EventTracked" && ours(r.event.name) ? [r.event.name] : []))
const slowOrFast = (n: string) => n === "slow@example.com" || n === "fast@example.com"
const rollback = (n: string) => n.includes("rollback") || n.includes("rolled-back")
const writer = (n: string) => /^w\d+@/.test(n)
const hasBoth = (events: ReadonlyArray<EventStore.RecordedEvent>) => names(events, slowOrFast).length === 2

for (const backend of TestDatabase.backends) {
  layer(Layer.merge(TestDatabase.layer(backend.database), Ids.layer), { excludeTestServices: true })(
    `catch-up ordering: ${backend.name}`,
    (it) => {
      describe("a slow transaction that began first", () => {
        it.effect("is not skipped: later commits stay invisible until it ends, then both are read in order", () =>
          Effect.gen(function*() {
            const sql = yield* SqlClient.SqlClient
            const start = yield* readAllFrom(EventStore.start)
            const appended = yield* Deferred.make<void>()
            const release = yield* Deferred.make<void>()
            const slow = yield* sql.withTransaction(Effect.gen(function*() {
              yield* insertInTransaction("slow@example.com")
              yield* Deferred.succeed(appended, undefined)
              yield* Deferred.await(release)
            })).pipe(Effect.fork)
            yield* Deferred.await(appended)
            const { backend } = yield* TestDatabase.CurrentDatabase
            if (backend === "embedded") {
              // One session for all: the later writer waits for the open transaction, so it cannot
              // commit first at all.
              const fast = yield* Effect.fork(appendNew("fast@example.com"))
              yield* Effect.sleep("300 millis")
              expect(fast.unsafePoll()).toBeNull()
              yield* Deferred.succeed(release, undefined)
              yield* Fiber.join(slow)
              yield* Fiber.join(fast)
              const after = yield* readAllUntil(start.checkpoint, hasBoth)
              expect(names(after.events, slowOrFast)).toEqual(["slow@example.com", "fast@example.com"])
              return
            }
            yield* appendNew("fast@example.com")
            // The fast one has committed, but a reader must not move past the open, older transaction.
            const during = yield* readAllFrom(start.checkpoint)
            expect(names(during.events, slowOrFast)).toEqual([])
            yield* Deferred.succeed(release, undefined)
            yield* Fiber.join(slow)
            const after = yield* readAllUntil(during.checkpoint, hasBoth)
            expect(names(after.events, slowOrFast)).toEqual(["slow@example.com", "fast@example.com"])
          }))
      })

      describe("a rolled-back transaction", () => {
        it.effect("leaves no hole that blocks: later commits are read", () =>
          Effect.gen(function*() {
            const sql = yield* SqlClient.SqlClient
            const start = yield* readAllFrom(EventStore.start)
            const failed = yield* sql.withTransaction(
              Effect.zipRight(insertInTransaction("rolled-back@example.com"), Effect.fail("abort" as const))
            )
              .pipe(Effect.flip)
            expect(failed).toBe("abort")
            yield* appendNew("after-rollback@example.com")
            const read = yield* readAllUntil(start.checkpoint, (events) => names(events, rollback).length > 0)
            expect(names(read.events, rollback)).toEqual(["after-rollback@example.com"])
          }))
      })

      describe("a checkpoint", () => {
        it.effect("once advanced, nothing before it repeats, also across concurrent writers", () =>
          Effect.gen(function*() {
            let checkpoint = (yield* readAllFrom(EventStore.start)).checkpoint
            const seen: Array<string> = []
            const writers = yield* Effect.forEach(
              Array.from({ length: 60 }, (_, i) => `w${i}@example.com`),
              (email) => appendNew(email),
              { concurrency: 8 }
            ).pipe(Effect.fork)
            // Read while the writers run, in small pages, resuming from each checkpoint.
            for (let round = 0; round < 200; round++) {
              const batch = yield* (yield* EventStore.EventStore).readAll(checkpoint, 7)
              seen.push(...names(batch.events, writer))
              checkpoint = batch.checkpoint
              if (batch.events.length === 0) {
                if (writers.unsafePoll() !== null) break
                yield* Effect.sleep("5 millis")
              }
            }
            yield* Fiber.join(writers)
            const rest = yield* readAllUntil(
              checkpoint,
              (events) => seen.length + names(events, writer).length >= 60,
              7
            )
            seen.push(...names(rest.events, writer))
            expect(seen.length).toBe(60)
            expect(new Set(seen).size).toBe(60)
          }))
      })
    }
  )
}
