/**
 * Replay: rebuild every contact projection from the log (catch-up reads from the start, folding
 * each stream), memory store against Postgres, events per second.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Contact from "@tracklog/core/Contact"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Populate from "./lib/populate.js"
import * as Layer from "effect/Layer"

const contacts = Number(process.env.BENCH_CONTACTS ?? 20_000)
const perContact = 5
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

const populate = Populate.populate({
  projectId: "replay",
  contacts,
  perContact,
  data: (k) => ({ plan: "pro", amount: k, note: "x".repeat(20) })
})

const replay = Effect.gen(function*() {
  const store = yield* EventStore.EventStore
  const states = new Map<string, Contact.State>()
  let checkpoint = EventStore.start
  let count = 0
  const started = performance.now()
  while (true) {
    const batch = yield* store.readAll(checkpoint, 10_000)
    for (const recorded of batch.events) {
      states.set(recorded.streamId, Contact.evolve(states.get(recorded.streamId) ?? null, recorded.event))
    }
    count += batch.events.length
    checkpoint = batch.checkpoint
    if (batch.events.length < 10_000) break
  }
  const ms = performance.now() - started
  if (count !== contacts * perContact || states.size !== contacts)
    throw new Error(`replayed ${count} events, ${states.size} contacts`)
  return (count / ms) * 1000
})

const measure = <E>(name: string, layer: Layer.Layer<EventStore.EventStore, E>) =>
  Effect.gen(function*() {
    yield* populate
    yield* replay
    const rates: Array<number> = []
    for (let r = 0; r < rounds; r++) rates.push(yield* replay)
    return median(rates)
  }).pipe(Effect.provide(Layer.merge(layer, Ids.layer)), Effect.scoped)

const memory = await Effect.runPromise(measure("memory", StoreMemory.layer))
const postgres = await Effect.runPromise(
  measure(
    "postgres",
    TestDatabase.layer(TestDatabase.server).pipe(Layer.map((c) => c)) as Layer.Layer<
      EventStore.EventStore | SqlClient.SqlClient
    >
  )
)
console.log(
  `replay (${contacts * perContact} events, ${contacts} contacts): memory ${memory.toFixed(0)} events/s, ` +
    `Postgres ${postgres.toFixed(0)} events/s → Postgres/memory ratio ${(postgres / memory).toFixed(2)}×`
)
