/**
 * Every commit to the log wakes this process's live readers at once, whatever path it took
 * (docs/decisions/0010-log-wake-up.md): a group commit, several streams in one transaction, an email
 * change (its own transaction), an erasure's marker. Without the wake-up a reader finds the event
 * only at its next poll. On the server and on the embedded Postgres.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as LogStream from "@tracklog/core/LogStream"
import * as NewContact from "@tracklog/core/testing/NewContact"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

for (const backend of TestDatabase.backends) {
  describe(`live readers wake on every commit: ${backend.name}`, () => {
    it.scopedLive(
      "a group commit, several streams at once, an email change and an erasure each notify the signal",
      () =>
        Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const ids = yield* Ids.Ids
          const { signal } = yield* LogStream.LogSource
          const projectId = "wake-up"
          // The signal's version moves for each commit, and only then.
          const notifies = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
            Effect.gen(function*() {
              const seen = signal.version()
              const a = yield* effect
              expect(signal.version()).toBeGreaterThan(seen)
              return a
            })

          const one = yield* NewContact.firstAppend(projectId, "one@example.com")
          yield* notifies(store.append(one.append))
          const [two, three] = [
            yield* NewContact.firstAppend(projectId, "two@example.com"),
            yield* NewContact.firstAppend(projectId, "three@example.com")
          ]
          yield* notifies(store.appendAll({ appends: [two.append, three.append] }))

          const moved = ContactEvent.ContactEmailChanged.make({ email: "moved@example.com", at: new Date() })
          const contact = Contact.fold(one.events)!
          yield* notifies(store.append({
            streamId: one.contactId,
            expectedVersion: 1,
            events: [{ id: yield* ids.next, event: moved }],
            projection: { _tag: "Upsert", contact: Contact.evolve(contact, moved)! }
          }))

          yield* notifies(store.append({
            streamId: two.contactId,
            expectedVersion: 1,
            events: [{
              id: yield* ids.next,
              event: ContactEvent.trusted.ContactErased({ contactId: two.contactId, at: new Date() })
            }],
            projection: { _tag: "Erase", projectId, suppress: false }
          }))
          expect((yield* store.readStream(one.contactId)).map((r) => r.event._tag)).toEqual([
            "ContactCreated",
            "ContactEmailChanged"
          ])
        }).pipe(
          Effect.provide(Layer.fresh(TestDatabase.layer(backend.database).pipe(Layer.provideMerge(Ids.layer))))
        ),
      60_000
    )
  })
}
