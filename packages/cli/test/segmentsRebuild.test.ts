/**
 * `tracklog segments rebuild [<id>]` (behaviour §11.3) on PostgreSQL: the CLI opens the store the
 * server uses and calls `MembershipStore.rebuild`; the processor's next pass gives the same members
 * and records nothing.
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Commands from "@tracklog/core/Commands"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as Membership from "@tracklog/core/Membership"
import * as Processor from "@tracklog/core/Processor"
import * as SegmentCommand from "@tracklog/core/SegmentCommand"
import * as SegmentProcessor from "@tracklog/core/SegmentProcessor"
import * as Segments from "@tracklog/core/Segments"
import * as SegmentStore from "@tracklog/core/SegmentStore"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as StorePostgres from "@tracklog/store-postgres/StorePostgres"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Cli from "../src/Cli.js"

const scope = Effect.runSync(Scope.make())
let url = ""
let run: <A, E>(effect: Effect.Effect<A, E, any>) => Promise<A> = () => Promise.reject(new Error("not started"))

beforeAll(async () => {
  const database = await Effect.runPromise(Scope.extend(TestDatabase.server, scope))
  url = database.url
  const context = await Effect.runPromise(Scope.extend(
    Layer.build(
      Layer.mergeAll(Commands.layer, Segments.layer).pipe(
        Layer.provideMerge(StorePostgres.layer({ url, maxConnections: database.maxConnections })),
        Layer.provideMerge(Ids.layer)
      )
    ),
    scope
  ))
  run = (effect) => Effect.runPromise(Effect.provide(effect, context) as Effect.Effect<any, any>)
}, 60_000)
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

const tracklog = (args: ReadonlyArray<string>) => {
  const out: Array<string> = []
  const output: Cli.Output = { out: (text) => Effect.sync(() => void out.push(text)), err: () => Effect.void }
  return Cli.cli(output)(["node", "tracklog", ...args]).pipe(
    Effect.provide(NodeContext.layer),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["TRACKLOG_STORE", "postgres"], ["DATABASE_URL", url]]))),
    Effect.exit,
    Effect.map((exit) => ({ exit, out: out.join("") })),
    Effect.runPromise
  )
}

const settle = Effect.gen(function*() {
  const { turn } = yield* SegmentProcessor.make({ dueGrace: 0 })
  const store = yield* Processor.ProcessorStore
  const claimed = yield* store.claim(Membership.ProcessorName, "cli-test", Duration.minutes(1))
  let checkpoint = claimed._tag === "Some" ? claimed.value : EventStore.start
  for (let i = 0; i < 100; i++) {
    const result = yield* turn(Membership.ProcessorName, "cli-test", checkpoint, store)
    checkpoint = result.checkpoint
    if (!result.worked) break
  }
  yield* store.release(Membership.ProcessorName, "cli-test")
})

const projectId = "0190a000-0000-7000-8000-0000000000a0"
let segmentId = ""
const state = Effect.gen(function*() {
  const membership = yield* Membership.MembershipStore
  const segments = yield* SegmentStore.SegmentStore
  const segment = yield* segments.get(projectId, segmentId)
  const events = yield* EventStore.EventStore
  return {
    members: yield* membership.count(segmentId),
    builtRevision: segment._tag === "Some" ? segment.value.builtRevision : -1,
    log: (yield* events.readAll(EventStore.start, 100_000)).events.length
  }
})

describe("tracklog segments rebuild (PostgreSQL)", () => {
  beforeAll(async () => {
    await run(Effect.gen(function*() {
      const track = yield* Track.Track
      for (const [email, plan] of [["a@x.io", "vip"], ["b@x.io", "free"], ["c@x.io", "vip"]]) {
        yield* track.track(
          projectId,
          Either.getOrThrow(TrackCommand.decode({ email: email!, event: "e", data: { plan: plan! } }))
        )
      }
      const segments = yield* Segments.Segments
      const created = yield* segments.create(
        projectId,
        Either.getOrThrow(SegmentCommand.decodeCreate({
          name: "VIPs",
          condition: { logic: "AND", groups: [{ filters: [{ field: "data.plan", operator: "equals", value: "vip" }] }] }
        }))
      )
      segmentId = created.segment.id
      yield* settle
    }))
  }, 60_000)

  it(
    "one segment: its members forgotten and building again; the next pass gives them back, recording nothing",
    async () => {
      const before = await run(state)
      expect(before).toMatchObject({ members: 2, builtRevision: 1 })
      const result = await tracklog(["segments", "rebuild", segmentId.toUpperCase()])
      expect(Exit.isSuccess(result.exit)).toBe(true)
      expect(result.out).toContain(`Segment ${segmentId} is rebuilding`)
      expect(await run(state)).toMatchObject({ members: 0, builtRevision: 0 })
      await run(settle)
      expect(await run(state)).toEqual(before)
    },
    60_000
  )

  it("every segment without an id: the same members from the log, nothing recorded twice", async () => {
    const before = await run(state)
    const result = await tracklog(["segments", "rebuild"])
    expect(Exit.isSuccess(result.exit)).toBe(true)
    expect(result.out).toContain("Every segment is rebuilding")
    expect((await run(state)).members).toBe(0)
    await run(settle)
    expect(await run(state)).toEqual(before)
  }, 60_000)

  it("an unknown segment fails (exit 1); a malformed id is a usage error (exit 2)", async () => {
    const unknown = await tracklog(["segments", "rebuild", "0190a000-0000-7000-8000-0000000000ff"])
    expect(unknown.exit).toEqual(
      Exit.fail(new Cli.CliError({ message: "no segment with id 0190a000-0000-7000-8000-0000000000ff" }))
    )
    const malformed = await tracklog(["segments", "rebuild", "nope"])
    expect(
      Exit.match(malformed.exit, {
        onFailure: (cause) => cause._tag === "Fail" && ValidationError.isValidationError(cause.error),
        onSuccess: () => false
      })
    ).toBe(true)
  }, 60_000)
})
