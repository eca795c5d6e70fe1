/**
 * Catch-up: a `LogStream` subscription reading a log of ≥ 200k events from the start on Postgres,
 * events per second, against a plain `readAll` loop over the same log in the same run
 * (issue 11 targets: ≥ 0.8× of the loop, and ≥ 100k events/s).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as LogStream from "@tracklog/core/LogStream"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Populate from "./lib/populate.js"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"

const contacts = Number(process.env.BENCH_CONTACTS ?? 40_000)
const perContact = 5
const total = contacts * perContact
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const page = 10_000
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

const populate = Populate.populate({
  projectId: "catchup",
  contacts,
  perContact,
  data: (k) => ({ plan: "pro", amount: k })
})

const timed = <E, R>(effect: Effect.Effect<number, E, R>) =>
  Effect.gen(function*() {
    const started = performance.now()
    const count = yield* effect
    if (count !== total) throw new Error(`read ${count} events, expected ${total}`)
    return (count / (performance.now() - started)) * 1000
  })

const readAllLoop = timed(Effect.gen(function*() {
  const store = yield* EventStore.EventStore
  let checkpoint = EventStore.start
  let count = 0
  while (true) {
    const batch = yield* store.readAll(checkpoint, page)
    count += batch.events.length
    checkpoint = batch.checkpoint
    if (batch.events.length < page) return count
  }
}))

// Until the stream says it has caught up.
const subscription = (projectId: string | undefined) =>
  timed(Effect.suspend(() => {
    let count = 0
    return LogStream.items({ projectId, batchSize: page }).pipe(
      Stream.takeUntil((item) => item._tag === "CaughtUp"),
      // Per page, as a consumer would: a per-item fold recurses once per item of a 10k page.
      Stream.runForEachChunk((chunk) =>
        Effect.sync(() => {
          for (const item of chunk) if (item._tag === "Event") count++
        })
      ),
      Effect.map(() => count)
    )
  }))

const program = Effect.gen(function*() {
  yield* populate
  yield* readAllLoop // warm-up
  const loop: Array<number> = []
  const whole: Array<number> = []
  const project: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    loop.push(yield* readAllLoop)
    whole.push(yield* subscription(undefined))
    project.push(yield* subscription("catchup"))
  }
  const base = median(loop)
  console.log(
    `catch-up (${total} events, Postgres): readAll loop ${base.toFixed(0)} events/s; ` +
      `subscription (whole log) ${median(whole).toFixed(0)} events/s → ${(median(whole) / base).toFixed(2)}×; ` +
      `subscription (one project) ${median(project).toFixed(0)} events/s → ${(median(project) / base).toFixed(2)}×`
  )
}).pipe(
  Effect.provide(Layer.merge(
    TestDatabase.layer(TestDatabase.server) as Layer.Layer<
      EventStore.EventStore | LogStream.LogSource | SqlClient.SqlClient
    >,
    Ids.layer
  )),
  Effect.scoped
)

await Effect.runPromise(program)
