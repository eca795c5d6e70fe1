import { describe, expect, it } from "@effect/vitest"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import * as SlotSet from "../src/SlotSet.js"

describe("SlotSet", () => {
  it("holds what was added and not removed, and reuses freed slots", () => {
    const set = SlotSet.make<string>()
    const a = set.add("a")
    const b = set.add("b")
    const c = set.add("c")
    set.remove(b, "b")
    expect([...set]).toEqual(["a", "c"])
    expect(set.size()).toBe(2)
    expect(set.add("d")).toBe(b)
    expect([...set].sort()).toEqual(["a", "c", "d"])
    set.remove(a, "a")
    set.remove(c, "c")
    expect([...set]).toEqual(["d"])
    expect(set.size()).toBe(1)
  })

  it("leaves a slot alone once it holds another item", () => {
    const set = SlotSet.make<string>()
    const slot = set.add("first")
    set.remove(slot, "first")
    expect(set.add("second")).toBe(slot)
    // A late second removal of "first" (say a sweep and an observer both remove it).
    set.remove(slot, "first")
    expect([...set]).toEqual(["second"])
    expect(set.size()).toBe(1)
  })

  it("can be changed while it is iterated", () => {
    const set = SlotSet.make<number>()
    const slots = [1, 2, 3, 4].map((n) => set.add(n))
    const seen: Array<number> = []
    for (const n of set) {
      seen.push(n)
      set.remove(slots[n - 1]!, n)
    }
    expect(seen).toEqual([1, 2, 3, 4])
    expect(set.size()).toBe(0)
  })

  // Why it exists (decision 0028): a long-lived registry of short-lived items, two of them live at
  // a time. With a `Set` whose table is in the old generation, the items outlive young
  // collections and are promoted; in a SlotSet they die young. Measured in old-space bytes.
  describe("under churn, against a Set", () => {
    V8.setFlagsFromString("--expose-gc")
    const gc = Vm.runInNewContext("gc") as (options?: { type: "minor" | "major" }) => void
    const oldSpace = () =>
      V8.getHeapSpaceStatistics().find((space) => space.space_name === "old_space")!.space_used_size

    interface Registry {
      readonly add: (item: object) => () => void
    }
    const asSet = (): Registry => {
      const set = new Set<object>()
      return { add: (item) => (set.add(item), () => set.delete(item)) }
    }
    const asSlots = (): Registry => {
      const set = SlotSet.make<object>()
      return {
        add: (item) => {
          const slot = set.add(item)
          return () => set.remove(slot, item)
        }
      }
    }
    // Bytes promoted by young collections after `rounds` items, ~16 KB each, went through it.
    const promoted = (make: () => Registry, rounds: number) => {
      const registry = make()
      const keep = {}
      registry.add(keep)
      // The registry's own storage into the old generation, as a server's is after a while.
      gc({ type: "minor" })
      gc({ type: "minor" })
      gc({ type: "major" })
      let previous: (() => void) | undefined
      for (let i = 0; i < rounds; i++) {
        const payload = Array.from({ length: 400 }, (_, n) => ({ n, i }))
        const remove = registry.add(payload)
        previous?.()
        previous = remove
      }
      previous?.()
      const before = oldSpace()
      gc({ type: "minor" })
      gc({ type: "minor" })
      gc({ type: "minor" })
      return { bytes: oldSpace() - before, keep }
    }

    it("a SlotSet lets removed items die young", () => {
      const rounds = 300
      const set = promoted(asSet, rounds).bytes
      const slots = promoted(asSlots, rounds).bytes
      // ~16 KB an item: the Set promotes a large part of the 4.8 MB; the SlotSet next to nothing.
      expect(set).toBeGreaterThan(1_000_000)
      expect(slots).toBeLessThan(set / 10)
    })
  })
})
