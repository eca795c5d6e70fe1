/**
 * Idempotency and batches on PostgreSQL, through the `Track` service (what the HTTP handlers
 * call, without the HTTP): plain tracks against tracks with a fresh Idempotency-Key each
 * (target ≥ 0.8×); tracks sent as batches of 1000 against single tracks (target ≥ 5×), and
 * against a plain multi-row INSERT of as many event rows into a bare table of the same shape.
 * Half of each run's emails exist already (updated contacts), half are new. Alternating A/B.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Ids from "@tracklog/core/Ids"
import * as Commands from "@tracklog/core/Commands"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as StorePostgres from "@tracklog/store-postgres/StorePostgres"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"

const N = Number(process.env.BENCH_TRACKS ?? 4000)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const Concurrency = 64
const BatchSize = 1000
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

let run = 0
// Half the emails of a run were tracked by the previous run of the same kind; half are new.
const commands = (kind: string) => {
  const r = run++
  return Array.from({ length: N }, (_, i) => {
    const email = i % 2 === 0 ? `${kind}-old-${i}@example.com` : `${kind}-${r}-${i}@example.com`
    return Either.getOrThrow(
      TrackCommand.decode({ email, event: "purchase", data: { amount: i % 100, plan: r % 2 ? "pro" : "free" } })
    )
  })
}

const perSecond = (count: number, started: number) => (count / (performance.now() - started)) * 1000

// CPU of this process (the store's server is another) per track, in µs: less noisy than tracks/s
// on a shared machine.
const cpu: Record<string, Array<number>> = { plain: [], batched: [] }
const cpuPer = (kind: string, count: number, before: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(before)
  cpu[kind]!.push((used.user + used.system) / count)
}

const plain = Effect.gen(function*() {
  const track = yield* Track.Track
  const list = commands("plain")
  const started = performance.now()
  const before = process.cpuUsage()
  yield* Effect.forEach(list, (c) => track.track("bench", c), { concurrency: Concurrency, discard: true })
  cpuPer("plain", N, before)
  return perSecond(N, started)
})

const idempotent = Effect.gen(function*() {
  const track = yield* Track.Track
  const list = commands("idem")
  const started = performance.now()
  yield* Effect.forEach(list, (c, i) =>
    track.trackIdempotent("bench", c, {
      key: `${run}-${i}-${Math.random().toString(36).slice(2)}`,
      fingerprint: "f".repeat(64),
      render: (result) => ({ status: 200, body: JSON.stringify(result) })
    }), { concurrency: Concurrency, discard: true })
  return perSecond(N, started)
})

const batched = Effect.gen(function*() {
  const track = yield* Track.Track
  const list = commands("batch")
  const started = performance.now()
  const before = process.cpuUsage()
  const batches = Array.from(
    { length: Math.ceil(N / BatchSize) },
    (_, b) => list.slice(b * BatchSize, (b + 1) * BatchSize).map(Either.right)
  )
  yield* Effect.forEach(batches, (items) => track.trackBatch("bench", items), { concurrency: 2, discard: true })
  cpuPer("batched", N, before)
  return perSecond(N, started)
})

// The physical ceiling: the same number of event-sized rows, 100 per INSERT and transaction.
const rawInsert = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const r = run++
  const started = performance.now()
  const chunks = Array.from({ length: Math.ceil(N / 100) }, (_, c) => c)
  yield* Effect.forEach(chunks, (c) => {
    const rows = JSON.stringify(Array.from({ length: 100 }, (_, i) => ({
      stream_id: `s-${r}-${c}-${i}`,
      version: 1,
      id: `raw-${r}-${c}-${i}`,
      type: "EventTracked",
      data: { _tag: "EventTracked", name: "purchase", data: { amount: i }, at: new Date().toISOString() },
      created_at: new Date().toISOString()
    })))
    return sql`INSERT INTO bench_raw_events (stream_id, version, id, type, data, created_at)
      SELECT * FROM json_to_recordset(${rows}::json) AS e(stream_id text, version integer, id text, type text, data json, created_at timestamptz)`
  }, { concurrency: 8, discard: true })
  return perSecond(chunks.length * 100, started)
}).pipe(Effect.orDie)

const program = Effect.gen(function*() {
  const db = yield* TestDatabase.server
  const context = yield* Layer.build(
    Commands.layer.pipe(
      Layer.provideMerge(StorePostgres.layer({ url: db.url, maxConnections: 10 })),
      Layer.provideMerge(Ids.layer)
    )
  )
  yield* Effect.provide(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE bench_raw_events (stream_id text NOT NULL, version integer NOT NULL, id text NOT NULL UNIQUE,
      type text NOT NULL, data json NOT NULL, created_at timestamptz NOT NULL, PRIMARY KEY (stream_id, version))`
    }),
    context
  )
  // One warm-up of each, so the "old" half of the emails exists.
  for (const e of [plain, idempotent, batched]) yield* Effect.provide(e, context)
  cpu["plain"] = []
  cpu["batched"] = []
  const results = {
    plain: [] as Array<number>,
    idempotent: [] as Array<number>,
    batched: [] as Array<number>,
    raw: [] as Array<number>
  }
  for (let r = 0; r < rounds; r++) {
    results.plain.push(yield* Effect.provide(plain, context))
    results.idempotent.push(yield* Effect.provide(idempotent, context))
    results.batched.push(yield* Effect.provide(batched, context))
    results.raw.push(yield* Effect.provide(rawInsert, context))
  }
  const p = median(results.plain)
  const i = median(results.idempotent)
  const b = median(results.batched)
  const raw = median(results.raw)
  console.log(
    `idempotency, Postgres, ${N} tracks, ${Concurrency} concurrent: plain ${p.toFixed(0)} tracks/s, ` +
      `with a fresh Idempotency-Key each ${i.toFixed(0)} tracks/s → ratio ${(i / p).toFixed(2)}× (target ≥ 0.8×)`
  )
  const pc = median(cpu["plain"]!)
  const bc = median(cpu["batched"]!)
  console.log(
    `CPU of this process per track: single ${pc.toFixed(0)} µs, in batches ${bc.toFixed(0)} µs → ${
      (pc / bc).toFixed(2)
    }× less`
  )
  console.log(
    `batch, Postgres, batches of ${BatchSize}: ${b.toFixed(0)} tracks/s → ${
      (b / p).toFixed(2)
    }× single tracks (target ≥ 5×); ` +
      `plain multi-row INSERT of event rows (100 per statement) ${raw.toFixed(0)} rows/s → batch at ${
        (b / raw).toFixed(2)
      }× of it`
  )
})

await Effect.runPromise(Effect.scoped(program))
