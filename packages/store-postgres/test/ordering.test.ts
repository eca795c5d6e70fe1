/**
 * Catch-up reading under concurrent writers (SPEC §4), after Emmett's ordering scenarios: a
 * reader that resumes from a checkpoint sees every committed event exactly once, in order.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, layer } from "@effect/vitest"
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import { readAllFrom } from "@tracklog/core/testing/StoreContract"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"

const appendNew = (email: string) =>
  Effect.gen(function*() {
    const ids = yield* Ids.Ids
    const store = yield* EventStore.EventStore
    const contactId = yield* ids.next
    const events = [
      ContactEvent.ContactCreated.make({ contactId, projectId: "ordering", email, subscribed: true, at: new Date() }),
      ContactEvent.EventTracked.make({ name: email, data: {}, at: new Date() })
    ]
    const newEvents: Array<EventStore.NewEvent> = []
    for (const event of events) newEvents.push({ id: yield* ids.next, event })
    yield* store.append({ streamId: contactId, expectedVersion: 0, events: newEvents, contact: Contact.fold(events)! })
    return contactId
  })

const names = (events: ReadonlyArray<EventStore.RecordedEvent>) =>
  events.flatMap((r) => (r.event._tag === "EventTracked" ? [r.event.name] : []))

for (const backend of TestDatabase.backends) {
layer(Layer.merge(TestDatabase.layer(backend.database), Ids.layer), { excludeTestServices: true })(`catch-up ordering: ${backend.name}`, (it) => {
  describe("a slow transaction that began first", () => {
    it.effect("is not skipped: later commits stay invisible until it ends, then both are read in order", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const start = yield* readAllFrom(EventStore.start)
        const appended = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const slow = yield* sql.withTransaction(Effect.gen(function*() {
          yield* appendNew("slow@example.com")
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
          const after = yield* readAllFrom(start.checkpoint)
          expect(names(after.events)).toEqual(["slow@example.com", "fast@example.com"])
          return
        }
        yield* appendNew("fast@example.com")
        // The fast one has committed, but a reader must not move past the open, older transaction.
        const during = yield* readAllFrom(start.checkpoint)
        expect(names(during.events)).toEqual([])
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(slow)
        const after = yield* readAllFrom(during.checkpoint)
        expect(names(after.events)).toEqual(["slow@example.com", "fast@example.com"])
      }))
  })

  describe("a rolled-back transaction", () => {
    it.effect("leaves no hole that blocks: later commits are read", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const start = yield* readAllFrom(EventStore.start)
        const failed = yield* sql.withTransaction(Effect.zipRight(appendNew("rolled-back@example.com"), Effect.fail("abort" as const)))
          .pipe(Effect.flip)
        expect(failed).toBe("abort")
        yield* appendNew("after-rollback@example.com")
        const read = yield* readAllFrom(start.checkpoint)
        expect(names(read.events)).toEqual(["after-rollback@example.com"])
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
          seen.push(...names(batch.events))
          checkpoint = batch.checkpoint
          if (batch.events.length === 0) {
            if (writers.unsafePoll() !== null) break
            yield* Effect.sleep("5 millis")
          }
        }
        yield* Fiber.join(writers)
        seen.push(...names((yield* readAllFrom(checkpoint, 7)).events))
        expect(seen.length).toBe(60)
        expect(new Set(seen).size).toBe(60)
      }))
  })
})
}
