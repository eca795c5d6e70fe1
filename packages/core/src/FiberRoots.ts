/**
 * Effect registers every fiber started from outside a fiber (`runFork`, `runPromise`,
 * `forkDaemon`) in one process-wide `Set`, the roots `Fiber.roots` lists, and deletes it when it
 * ends. A server starts one such fiber per request. When requests overlap (each waits on a
 * database), that `Set`'s discarded tables kept most of each request's objects alive through
 * young collections (`SlotSet` says how): on the PostgreSQL track path ~2 KB of every request
 * was promoted to the old generation, and young collections took twice as long
 * (docs/decisions/0028-fiber-roots-in-slots.md).
 *
 * `install` keeps the roots in a `SlotSet` instead. `Fiber.roots` lists the same fibers. The HTTP
 * pipeline (server, web handler, router layer) calls it; a service that runs the core in code and
 * serves concurrent requests should call it once at start.
 */
import type * as Fiber from "effect/Fiber"
import * as GlobalValue from "effect/GlobalValue"
import * as SlotSet from "./SlotSet.js"

type Root = Fiber.RuntimeFiber<unknown, unknown>

// The shape of Effect 3's global fiber scope (effect/internal/fiberScope.ts) this module relies on.
interface GlobalScope {
  roots: Iterable<Root> & { readonly delete?: (fiber: Root) => boolean }
  add: (runtimeFlags: unknown, child: Root) => void
}

const Installed = Symbol.for("@tracklog/core/FiberRoots")

const globalScope = (): GlobalScope | undefined => {
  // Effect makes its scope as its runtime loads, before anything could call `install`. Were it
  // missing (another Effect layout), the compute throws and nothing is stored under Effect's key.
  const scope: unknown = GlobalValue.globalValue(Symbol.for("effect/FiberScope/Global"), () => {
    throw new Error("Effect's global fiber scope is not there")
  })
  const candidate = scope as Partial<GlobalScope> | undefined
  return typeof candidate?.add === "function" && candidate.roots !== undefined &&
      typeof candidate.roots[Symbol.iterator] === "function"
    ? candidate as GlobalScope
    : undefined
}

/**
 * Keeps Effect's root fibers in a `SlotSet` from now on, once per process (later calls do
 * nothing). False when this Effect's global scope does not have the expected shape; then nothing
 * changed.
 */
export const install = (): boolean => {
  let scope: GlobalScope | undefined
  try {
    scope = globalScope()
  } catch {
    return false
  }
  if (scope === undefined) return false
  if (Installed in scope) return true
  const slots = SlotSet.make<Root>()
  // Fibers registered before `install` remove themselves by calling `roots.delete` when they end.
  const before = new Map<Root, number>()
  for (const fiber of scope.roots) before.set(fiber, slots.add(fiber))
  scope.roots = {
    [Symbol.iterator]: () => slots[Symbol.iterator](),
    delete: (fiber) => {
      const slot = before.get(fiber)
      if (slot === undefined) return false
      before.delete(fiber)
      slots.remove(slot, fiber)
      return true
    }
  }
  scope.add = (_runtimeFlags, child) => {
    const slot = slots.add(child)
    child.addObserver(() => slots.remove(slot, child))
  }
  Object.defineProperty(scope, Installed, { value: true })
  return true
}
