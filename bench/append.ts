/**
 * Append throughput on PostgreSQL: the store's group commit against the same store with batches
 * of one (a transaction per append), at several concurrencies, alternating A/B.
 */
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as StorePostgres from "@tracklog/store-postgres/StorePostgres"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const appends = Number(process.env.BENCH_APPENDS ?? 4000)
const eventsPerAppend = 5
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

const run = (concurrency: number) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    const ids = yield* Ids.Ids
    const started = performance.now()
    yield* Effect.forEach(Array.from({ length: appends }, (_, i) => i), (i) => {
      const contactId = ids.make(Date.now())
      const at = new Date()
      const events: Array<ContactEvent.ContactEvent> = [
        ContactEvent.ContactCreated.make({
          contactId,
          projectId: "append",
          email: `a${i}-${contactId}@example.com`,
          subscribed: true,
          at
        })
      ]
      for (let k = 1; k < eventsPerAppend; k++)
        events.push(ContactEvent.EventTracked.make({ name: "e", data: { k }, at }))
      return store.append({
        streamId: contactId,
        expectedVersion: 0,
        events: events.map((event) => ({ id: ids.make(Date.now()), event })),
        projection: { _tag: "Upsert" as const, contact: Contact.fold(events)! }
      })
    }, { concurrency, discard: true })
    return (appends / (performance.now() - started)) * 1000
  })

const program = Effect.gen(function*() {
  const db = yield* TestDatabase.server
  const grouped = yield* Layer.build(Layer.merge(StorePostgres.layer({ url: db.url, maxConnections: 10 }), Ids.layer))
  const single = yield* Layer.build(
    Layer.merge(StorePostgres.layer({ url: db.url, maxConnections: 10, maxBatch: 1, maxInFlight: 10 }), Ids.layer)
  )
  for (const concurrency of [1, 16, 64]) {
    const a: Array<number> = []
    const b: Array<number> = []
    for (let r = 0; r < rounds; r++) {
      a.push(yield* Effect.provide(run(concurrency), grouped))
      b.push(yield* Effect.provide(run(concurrency), single))
    }
    console.log(
      `append, Postgres, ${concurrency} concurrent, ${eventsPerAppend} events each: group commit ${
        median(a).toFixed(0)
      } appends/s ` +
        `(${(median(a) * eventsPerAppend).toFixed(0)} events/s), a transaction per append ${
          median(b).toFixed(0)
        } appends/s → ratio ${(median(a) / median(b)).toFixed(2)}×`
    )
  }
})

await Effect.runPromise(Effect.scoped(program))
