/**
 * Segments at scale on PostgreSQL (issue 29), in one run over BENCH_SEGMENT_CONTACTS contacts
 * (default 100 000), each with a `purchase`:
 * - the processor's catch-up over the log (snapshots of every contact), contacts/s;
 * - a new segment over every contact: time until `live` (target ≤ 10 s);
 * - an audience over every contact (`Segments.query`): ms (target ≤ 1 s);
 * - every contact due at once (a window that passed for all): exits drained per second (target
 *   ≥ 10 000/s), and single tracks' p99 meanwhile against before (not stalled);
 * - Plunk's method at the same size: every segment recomputed from the store and diffed with its
 *   members (one 5-minute tick of `SegmentService.computeMembership`), against ours per event.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Commands from "@tracklog/core/Commands"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as Membership from "@tracklog/core/Membership"
import * as Processor from "@tracklog/core/Processor"
import type * as Segment from "@tracklog/core/Segment"
import * as SegmentProcessor from "@tracklog/core/SegmentProcessor"
import * as Segments from "@tracklog/core/Segments"
import * as SegmentStore from "@tracklog/core/SegmentStore"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Populate from "./lib/populate.js"

const contacts = Number(process.env.BENCH_SEGMENT_CONTACTS ?? 100_000)
const projectId = "segments"
const time = { offset: 0 }
const real = Clock.make()
const clock: Clock.Clock = {
  ...real,
  unsafeCurrentTimeMillis: () => real.unsafeCurrentTimeMillis() + time.offset,
  unsafeCurrentTimeNanos: () => real.unsafeCurrentTimeNanos() + BigInt(time.offset) * 1_000_000n,
  currentTimeMillis: Effect.sync(() => real.unsafeCurrentTimeMillis() + time.offset),
  currentTimeNanos: Effect.sync(() => real.unsafeCurrentTimeNanos() + BigInt(time.offset) * 1_000_000n),
  sleep: (d) => real.sleep(d)
}
const percentile = (xs: Array<number>, p: number) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * p)] ?? NaN

// Turns of the one instance until there is nothing to do; how long that took.
const settle = Effect.gen(function*() {
  const { turn } = yield* SegmentProcessor.make({ dueGrace: 0, pageSize: 2000, batchSize: 5000 })
  const store = yield* Processor.ProcessorStore
  const claimed = yield* store.claim(Membership.ProcessorName, "bench", Duration.minutes(10))
  let checkpoint = claimed._tag === "Some" ? claimed.value : EventStore.start
  const started = performance.now()
  for (;;) {
    const result = yield* turn(Membership.ProcessorName, "bench", checkpoint, store)
    checkpoint = result.checkpoint
    if (!result.worked) break
  }
  yield* store.release(Membership.ProcessorName, "bench")
  return performance.now() - started
}).pipe(Effect.withClock(clock))

const segment = (id: string, condition: Segment.Segment["condition"]): Segment.Segment => {
  const at = new Date(clock.unsafeCurrentTimeMillis())
  return {
    id,
    projectId,
    name: id,
    slug: id,
    condition,
    trackMembership: true,
    createdAt: at,
    updatedAt: at,
    revision: 1,
    builtRevision: 0,
    buildCursor: ""
  }
}

const define = (s: Segment.Segment) =>
  Effect.flatMap(
    SegmentStore.SegmentStore,
    (store) => store.update(projectId, () => Either.right({ put: [s], answer: undefined }))
  )

const filter = (field: string, operator: string, value?: unknown, unit?: string): Segment.Segment["condition"] => ({
  logic: "AND",
  groups: [{ filters: [{ field, operator, ...(value === undefined ? {} : { value }), ...(unit ? { unit } : {}) }] }]
})

// Single tracks, one at a time, for `ms`: their latencies.
const trackLatencies = (ms: number, latencies: Array<number> = []) =>
  Effect.gen(function*() {
    const track = yield* Track.Track
    const end = performance.now() + ms
    let i = 0
    while (performance.now() < end) {
      const started = performance.now()
      yield* track.track(
        "live",
        Either.getOrThrow(TrackCommand.decode({ email: `live${i++ % 500}@example.com`, event: "view" }))
      )
      latencies.push(performance.now() - started)
      yield* Effect.sleep("5 millis")
    }
    return latencies
  })

// Plunk's tick: each segment's matching contacts recomputed by a query over the store, and diffed
// with its stored members.
const plunkTick = (segments: ReadonlyArray<{ readonly id: string; readonly query: string }>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const started = performance.now()
    let changes = 0
    for (const s of segments) {
      const matching = yield* sql.unsafe<{ id: string }>(s.query, [projectId])
      const members = yield* sql<
        { contact_id: string }
      >`SELECT contact_id FROM segment_members WHERE segment_id = ${s.id}`
      const now = new Set(matching.map((r) => r.id))
      const before = new Set(members.map((r) => r.contact_id))
      for (const id of now) if (!before.has(id)) changes++
      for (const id of before) if (!now.has(id)) changes++
    }
    return { ms: performance.now() - started, changes }
  })

const program = Effect.gen(function*() {
  let started = performance.now()
  yield* Populate.populate({ projectId, contacts, perContact: 2, data: (k) => ({ amount: k }) })
  const populated = performance.now() - started
  const catchUp = yield* settle
  console.log(
    `segments at ${contacts} contacts (Postgres): populated in ${(populated / 1000).toFixed(1)} s; ` +
      `processor catch-up (snapshots) ${(contacts / catchUp * 1000).toFixed(0)} contacts/s`
  )

  // A new segment over every contact, and a timed one: until live.
  yield* define(segment("big-spenders", filter("data.amount", "greaterThan", 0)))
  const newSegment = yield* settle
  yield* define(segment("recent", filter("event.purchase", "triggeredWithin", 60, "minutes")))
  const timedSegment = yield* settle
  const members = yield* Effect.flatMap(Membership.MembershipStore, (m) => m.count("recent"))
  console.log(
    `new segment live: data condition ${(newSegment / 1000).toFixed(2)} s, time condition ` +
      `${(timedSegment / 1000).toFixed(2)} s, over ${contacts} contacts (target ≤ 10 s; ${members} members)`
  )

  // An audience over every contact.
  const segments = yield* Segments.Segments
  const audience: Array<number> = []
  for (let r = 0; r < 3; r++) {
    started = performance.now()
    const answer = yield* segments.query(projectId, filter("event.purchase", "triggeredWithin", 60, "minutes"), {
      limit: 100
    })
    audience.push(performance.now() - started)
    if (answer.total !== contacts) throw new Error(`audience: ${answer.total} of ${contacts}`)
  }
  console.log(
    `audience over ${contacts} contacts: ${percentile(audience, 0.5).toFixed(0)} ms (median of 3; target ≤ 1000 ms)`
  )

  // Every contact due at once: the window passes for all of them.
  const before = yield* trackLatencies(3000)
  time.offset += 2 * 3_600_000
  const during: Array<number> = []
  const tracks = yield* Effect.fork(trackLatencies(600_000, during))
  const drain = yield* settle
  yield* Fiber.interrupt(tracks)
  const left = yield* Effect.flatMap(Membership.MembershipStore, (m) => m.count("recent"))
  if (left !== 0) throw new Error(`${left} contacts still in "recent" after the drain`)
  console.log(
    `due drain: ${contacts} exits in ${(drain / 1000).toFixed(2)} s → ${(contacts / drain * 1000).toFixed(0)}/s ` +
      `(target ≥ 10 000/s); single track p99 before ${percentile(before, 0.99).toFixed(1)} ms, ` +
      `during the drain ${percentile(during, 0.99).toFixed(1)} ms (${during.length} tracks)`
  )

  // Plunk's method: 20 segments recomputed from the store (10 on data, 10 on events), diffed.
  const plunk = Array.from({ length: 20 }, (_, i) =>
    i % 2 === 0
      ? {
        id: "big-spenders",
        query: `SELECT id FROM contacts WHERE project_id = $1 AND (data->>'amount')::numeric > ${i}`
      }
      : {
        id: "recent",
        query: `SELECT DISTINCT e.stream_id AS id FROM events e JOIN contacts c ON c.id = e.stream_id
                WHERE c.project_id = $1 AND e.type = 'EventTracked' AND e.data->>'name' = 'purchase'`
      })
  const tick = yield* plunkTick(plunk)
  const perEvent = drain * 1000 / contacts
  console.log(
    `Plunk's method (recompute 20 segments from the store and diff, one 5-minute tick): ${
      (tick.ms / 1000).toFixed(2)
    } s ` +
      `over ${contacts} contacts, whether anything changed or not; ours: ${perEvent.toFixed(1)} µs per transition ` +
      `and nothing for an event no segment reads`
  )
}).pipe(
  Effect.provide(
    Segments.layer.pipe(
      Layer.provideMerge(Commands.layer),
      Layer.provideMerge(Ids.layer),
      Layer.provideMerge(TestDatabase.layer(TestDatabase.server) as never),
      Layer.provideMerge(Layer.setClock(clock))
    )
  ),
  Effect.scoped
)

await Effect.runPromise(program as Effect.Effect<void>)
