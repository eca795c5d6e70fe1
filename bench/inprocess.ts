/**
 * In-process: the `Track` service on the memory store (decode + decide + append + projection),
 * against a hand-written plain-JS track over Maps doing the same work, alternating A/B.
 */
import * as Ids from "@tracklog/core/Ids"
import * as Commands from "@tracklog/core/Commands"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { randomUUID } from "node:crypto"
import * as V8 from "node:v8"
import * as Vm from "node:vm"

const N = Number(process.env.BENCH_COMMANDS ?? 50_000)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const emails = 1000
const Concurrency = Number(process.env.BENCH_CONCURRENCY ?? 50)
const bodies = Array.from({ length: N }, (_, i) => ({
  email: `user${i % emails}@example.com`,
  event: "purchase",
  data: { plan: i % 2 ? "pro" : "free", amount: i % 100 }
}))

// CPU time of this process, not wall time: the machine is shared, and CPU time is what a command costs.
const cpuMillis = (since: NodeJS.CpuUsage) => {
  const { system, user } = process.cpuUsage(since)
  return (user + system) / 1000
}

const wall: Array<number> = []

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

V8.setFlagsFromString("--expose-gc")
const gc = Vm.runInNewContext("gc") as () => void
// Bytes in the JS heap and in buffers outside it, after a full collection.
const memoryKept = () => {
  gc()
  return { heap: V8.getHeapStatistics().used_heap_size, buffers: process.memoryUsage().arrayBuffers }
}
let kept = { heap: 0, buffers: 0 }

const ours = async () => {
  const runtime = ManagedRuntime.make(
    Commands.layer.pipe(Layer.provideMerge(StoreMemory.layer), Layer.provideMerge(Ids.layer))
  )
  const track = await runtime.runPromise(Track.Track)
  const before = memoryKept()
  const start = process.cpuUsage()
  const wallStart = performance.now()
  await runtime.runPromise(Effect.forEach(bodies, (body) => {
    const command = Either.getOrThrow(TrackCommand.decode(body))
    return track.track("bench", command)
  }, { concurrency: Concurrency, discard: true }))
  wall.push(performance.now() - wallStart)
  const ms = cpuMillis(start)
  // What the store (log, projection) and Track's cache keep: what a long run carries.
  const after = memoryKept()
  kept = { heap: (after.heap - before.heap) / N, buffers: (after.buffers - before.buffers) / N }
  await runtime.dispose()
  return ms
}

// The same work without Effect: validate, find-or-create, merge, append to a log.
const baseline = async () => {
  const contacts = new Map<string, { id: string; data: Record<string, unknown>; version: number }>()
  const log: Array<unknown> = []
  const start = process.cpuUsage()
  await Promise.all(Array.from({ length: 50 }, async (_, worker) => {
    for (let i = worker; i < N; i += 50) {
      const body = bodies[i]!
      if (typeof body.email !== "string" || typeof body.event !== "string") throw new Error("invalid")
      const email = body.email.trim().toLowerCase()
      let contact = contacts.get(email)
      if (contact === undefined) {
        contact = { id: randomUUID(), data: {}, version: 0 }
        contacts.set(email, contact)
      }
      contact.data = { ...contact.data, ...body.data }
      contact.version++
      log.push({ id: randomUUID(), contact: contact.id, name: body.event, data: body.data, at: new Date() })
      await undefined
    }
  }))
  return cpuMillis(start)
}

await ours()
await baseline()
const a: Array<number> = []
const b: Array<number> = []
for (let r = 0; r < rounds; r++) {
  a.push(await ours())
  b.push(await baseline())
}
const perSecond = (ms: number) => (N / ms) * 1000
console.log(
  `in-process Track: ${perSecond(median(wall.slice(1))).toFixed(0)} commands/s (wall clock); ` +
    `in-process Track, memory store (${N} commands, ${Concurrency} concurrent, ${emails} contacts): ` +
    `${perSecond(median(a)).toFixed(0)} commands per CPU-second, ${
      ((median(a) * 1000) / N).toFixed(1)
    } CPU-µs/command; ` +
    `hand-written plain JS ${perSecond(median(b)).toFixed(0)} commands per CPU-second → ratio ${
      (median(b) / median(a)).toFixed(2)
    }×; ` +
    `kept per command: ${kept.heap.toFixed(0)} bytes of JS heap, ${kept.buffers.toFixed(0)} in buffers`
)
