import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as GlobalValue from "effect/GlobalValue"
import * as FiberRoots from "../src/FiberRoots.js"

const roots = () => Effect.runSync(Fiber.roots)
// Where Effect keeps its root fibers: a Set until `install` (why that matters: SlotSet.test.ts).
const registry = () =>
  (GlobalValue.globalValue(Symbol.for("effect/FiberScope/Global"), () => {
    throw new Error("Effect has no global fiber scope yet")
  }) as { roots: unknown }).roots

describe("FiberRoots", () => {
  it("moves Effect's root fibers out of a Set, and Fiber.roots stays true", async () => {
    const early = Effect.runFork(Effect.never)
    // Started before `install`: it must still be listed after, and leave when it ends.
    expect(roots()).toContain(early)

    expect(FiberRoots.install()).toBe(true)
    expect(registry()).not.toBeInstanceOf(Set)
    // Once per process: a second call changes nothing.
    const installed = registry()
    expect(FiberRoots.install()).toBe(true)
    expect(registry()).toBe(installed)

    expect(roots()).toContain(early)
    const late = Effect.runFork(Effect.never)
    expect(roots()).toEqual(expect.arrayContaining([early, late]))
    // A fiber registered before install leaves when it ends, as one registered after.
    await Effect.runPromise(Fiber.interrupt(early))
    expect(roots()).not.toContain(early)
    expect(roots()).toContain(late)
    await Effect.runPromise(Fiber.interrupt(late))
    expect(roots()).not.toContain(late)

    // Fibers started as daemons from inside a fiber are roots too.
    const daemon = await Effect.runPromise(Effect.forkDaemon(Effect.never))
    expect(roots()).toContain(daemon)
    await Effect.runPromise(Fiber.interrupt(daemon))
    expect(roots()).not.toContain(daemon)

    // Many short fibers, overlapping: each one listed while it runs, none once it ended.
    const fibers = Array.from({ length: 50 }, (_, i) => Effect.runFork(Effect.as(Effect.sleep(i % 5), i)))
    expect(roots()).toEqual(expect.arrayContaining(fibers))
    expect(await Effect.runPromise(Fiber.joinAll(fibers).pipe(Effect.as("joined")))).toBe("joined")
    for (const fiber of fibers) expect(roots()).not.toContain(fiber)
  })
})
