/**
 * A service that embeds the core with the Postgres store and runs the revenue processor.
 * Run: pnpm --filter @tracklog/example-processor start
 * On DATABASE_URL when set, else an embedded Postgres in memory (with a few demo purchases).
 * REVENUE_BATCH_DELAY_MS slows each batch (the crash test kills the process mid-batch).
 */
import * as Processor from "@tracklog/core/Processor"
import * as EmbeddedPostgres from "@tracklog/store-postgres/EmbeddedPostgres"
import * as StorePostgres from "@tracklog/store-postgres/StorePostgres"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Demo from "./Demo.js"
import * as Revenue from "./Revenue.js"

const url = process.env["DATABASE_URL"]
const delay = Number(process.env["REVENUE_BATCH_DELAY_MS"] ?? 0)

// Composition happens once, here at the edge.
const StoreLayer = url !== undefined
  ? StorePostgres.layer({ url })
  : Layer.unwrapScoped(
    Effect.map(EmbeddedPostgres.make({}), ({ url }) => StorePostgres.layer({ url, maxConnections: 1 }))
  )

const program = Effect.gen(function*() {
  yield* Revenue.migrate
  if (url === undefined) yield* Demo.purchases
  yield* Effect.log("revenue processor: waiting for its lease, then following the log")
  const report = Effect.gen(function*() {
    const lag = yield* Processor.lag(Revenue.name)
    const totals = yield* Revenue.totals
    yield* Effect.log(`behind: ${lag.events} events; revenue: ${JSON.stringify(totals)}`)
  }).pipe(Effect.repeat(Schedule.spaced("5 seconds")))
  yield* Effect.raceFirst(
    Revenue.run({
      batchDelay: delay > 0 ? Duration.millis(delay) : undefined,
      onActive: (active) => console.log(active ? "ACTIVE" : "STANDBY")
    }),
    Effect.zipRight(report, Effect.never)
  )
})

Effect.runPromise(Effect.provide(program, StoreLayer)).catch((error) => {
  console.error(error)
  process.exit(1)
})
