/**
 * `tracklog segments rebuild [<id>]` (behaviour §11.3), in process: it calls the store's
 * `MembershipStore.rebuild`, for one segment or all. The stores do not provide the segment ports
 * yet, so the small in-memory ones of the HTTP tests are provided around the CLI (the memory store
 * it opens does not shadow them); at the merge this runs on the stores' own ports.
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import type * as Segment from "@tracklog/core/Segment"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import { describe, expect, it } from "vitest"
import * as SegmentPorts from "../../http/test/segmentPorts.js"
import * as Cli from "../src/Cli.js"

const projectId = "0190a000-0000-7000-8000-0000000000a0"
const segmentId = "0190a000-0000-7000-8000-0000000000a1"
const contactId = "0190a000-0000-7000-8000-0000000000c1"

const given = (): Segment.Segment => ({
  id: segmentId,
  projectId,
  name: "VIPs",
  slug: "vips",
  condition: { logic: "AND", groups: [{ filters: [{ field: "data.plan", operator: "equals", value: "vip" }] }] },
  trackMembership: true,
  createdAt: new Date(0),
  updatedAt: new Date(0),
  revision: 1,
  builtRevision: 1,
  buildCursor: contactId
})

const tracklog = (ports: ReturnType<typeof SegmentPorts.make>, args: ReadonlyArray<string>) => {
  const out: Array<string> = []
  const output: Cli.Output = { out: (text) => Effect.sync(() => void out.push(text)), err: () => Effect.void }
  return Cli.cli(output)(["node", "tracklog", ...args]).pipe(
    Effect.provide(ports.layer),
    Effect.provide(NodeContext.layer),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["TRACKLOG_STORE", "memory"]]))),
    Effect.exit,
    Effect.map((exit) => ({ exit, out: out.join("") })),
    Effect.runPromise
  )
}

const seeded = async () => {
  const ports = SegmentPorts.make()
  await Effect.runPromise(ports.segmentStore.update(projectId, () => Either.right({ put: [given()], answer: null })))
  await Effect.runPromise(ports.membership.write({
    snapshots: [],
    removed: [],
    joined: [{ segmentId, contactId, at: 0 }],
    left: [],
    transitions: [],
    progress: [],
    purged: []
  }))
  return ports
}

describe("tracklog segments rebuild", () => {
  it("one segment: its members forgotten, back to building from the first contact", async () => {
    const ports = await seeded()
    const run = await tracklog(ports, ["segments", "rebuild", segmentId.toUpperCase()])
    expect(Exit.isSuccess(run.exit)).toBe(true)
    expect(run.out).toContain(`Segment ${segmentId} is rebuilding`)
    expect(await Effect.runPromise(ports.membership.count(segmentId))).toBe(0)
    const [segment] = await Effect.runPromise(ports.segmentStore.list(projectId))
    expect(segment).toMatchObject({ builtRevision: 0, buildCursor: "", revision: 1 })
  })

  it("every segment without an id", async () => {
    const ports = await seeded()
    const run = await tracklog(ports, ["segments", "rebuild"])
    expect(Exit.isSuccess(run.exit)).toBe(true)
    expect(run.out).toContain("Every segment is rebuilding")
    expect(await Effect.runPromise(ports.membership.count(segmentId))).toBe(0)
  })

  it("an unknown segment fails (exit 1); a malformed id is a usage error (exit 2)", async () => {
    const ports = await seeded()
    const unknown = await tracklog(ports, ["segments", "rebuild", "0190a000-0000-7000-8000-0000000000ff"])
    expect(unknown.exit).toEqual(
      Exit.fail(new Cli.CliError({ message: "no segment with id 0190a000-0000-7000-8000-0000000000ff" }))
    )
    expect(await Effect.runPromise(ports.membership.count(segmentId))).toBe(1)
    const malformed = await tracklog(ports, ["segments", "rebuild", "nope"])
    expect(Exit.isFailure(malformed.exit)).toBe(true)
    const failure = Exit.isFailure(malformed.exit) ? malformed.exit.cause : undefined
    expect(JSON.stringify(failure)).toContain("UUID")
    expect(
      Exit.match(malformed.exit, {
        onFailure: (cause) => cause._tag === "Fail" && ValidationError.isValidationError(cause.error),
        onSuccess: () => false
      })
    ).toBe(true)
  })
})
