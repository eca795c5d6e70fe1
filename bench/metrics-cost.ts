// In-process cost of metrics per track (`node --conditions=@tracklog/source --import tsx bench/metrics-cost.ts`):
// Track over the memory store with the store ports timed and a request recorded, against the same
// without; alternating rounds, medians of CPU time per track. NO_STORE=1 / NO_REC=1 leave out the
// store timings / the request recorder, to see each part alone. Steadier than the HTTP benchmark on a shared machine.
import * as Ids from "@tracklog/core/Ids"
import * as Commands from "@tracklog/core/Commands"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as Metrics from "../packages/http/src/Metrics.js"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RuntimeFlags from "effect/RuntimeFlags"

const N = Number(process.env.BENCH_TRACKS ?? 20_000)
const rounds = Number(process.env.BENCH_ROUNDS ?? 5)
const commands = Array.from({ length: 1000 }, (_, i) => {
  const c = TrackCommand.decode({ email: `u${i}@example.com`, event: "e", data: { i } })
  if (c._tag === "Left") throw c.left
  return c.right
})

const run = (instrumented: boolean) =>
  Effect.gen(function*() {
    const store = instrumented && process.env.NO_STORE === undefined
      ? Metrics.instrumentStore(StoreMemory.layer)
      : StoreMemory.layer
    const context = yield* Layer.build(Commands.layer.pipe(Layer.provideMerge(store), Layer.provideMerge(Ids.layer)))
    const track = Effect.provide(Track.Track, context)
    const tracker = yield* track
    const record = instrumented && process.env.NO_REC === undefined ? Metrics.makeRequestRecorder() : undefined
    // CPU time, not wall time: on a shared machine the wall clock mostly measures the neighbours.
    const started = process.cpuUsage()
    for (let i = 0; i < N; i++) {
      const t = performance.now()
      yield* tracker.track("p", commands[i % commands.length]!)
      record?.("POST", "/v1/track", 200, performance.now() - t)
    }
    const used = process.cpuUsage(started)
    return (used.user + used.system) / N
  }).pipe(Effect.scoped, Effect.provide(RuntimeFlags.disableRuntimeMetrics))

// ONLY=on|off: one side alone, one run of BENCH_TRACKS, for counting instructions under callgrind
// (`valgrind --tool=callgrind node … bench/metrics-cost.ts` twice; the difference of the totals ÷
// BENCH_TRACKS is what metrics add per track, start-up being the same in both).
if (process.env.ONLY !== undefined) {
  await Effect.runPromise(run(process.env.ONLY === "on"))
  process.exit(0)
}
const on: Array<number> = []
const off: Array<number> = []
await Effect.runPromise(run(false))
await Effect.runPromise(run(true))
for (let r = 0; r < rounds; r++) {
  off.push(await Effect.runPromise(run(false)))
  on.push(await Effect.runPromise(run(true)))
}
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
console.log(
  `per track: metrics off ${median(off).toFixed(2)} µs, on ${median(on).toFixed(2)} µs → +${
    (median(on) - median(off)).toFixed(2)
  } µs (${((median(on) / median(off) - 1) * 100).toFixed(1)} %)`
)
console.log(JSON.stringify({ off, on }))
