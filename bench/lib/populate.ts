/**
 * A log to read back in the log benchmarks: `contacts` streams of `perContact` events each (a
 * `ContactCreated`, then `EventTracked`s with `data(k)`), appended 64 at a time.
 */
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import type * as Json from "@tracklog/core/Json"
import * as Effect from "effect/Effect"

export const populate = (options: {
  readonly projectId: string
  readonly contacts: number
  readonly perContact: number
  readonly data: (k: number) => Json.JsonObject
}) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    const ids = yield* Ids.Ids
    yield* Effect.forEach(Array.from({ length: options.contacts }, (_, i) => i), (i) => {
      const contactId = ids.make(Date.now())
      const at = new Date()
      const events: Array<ContactEvent.ContactEvent> = [
        ContactEvent.ContactCreated.make({
          contactId,
          projectId: options.projectId,
          email: `c${i}@example.com`,
          subscribed: true,
          at
        })
      ]
      for (let k = 1; k < options.perContact; k++) {
        events.push(ContactEvent.EventTracked.make({ name: "purchase", data: options.data(k), at }))
      }
      return store.append({
        streamId: contactId,
        expectedVersion: 0,
        events: events.map((event) => ({ id: ids.make(Date.now()), event })),
        projection: { _tag: "Upsert" as const, contact: Contact.fold(events)! }
      })
    }, { concurrency: 64, discard: true })
  })
