/**
 * A set of live items kept in the slots of one array, a freed slot reused by the next item. For
 * registries of short-lived things a long-lived owner must be able to list (fibers, request
 * deadlines).
 *
 * Why not a `Set`: V8 grows and compacts a `Set`'s table by copying it into a new one, and the
 * old table keeps pointing at what it held. Once a long-lived `Set`'s table is in the old
 * generation, each copy is made there too, and every dead copy keeps the items it held alive
 * through young collections until the next full one: under load, most of what each request
 * allocated was promoted that way (docs/decisions/0028-fiber-roots-in-slots.md). This array only
 * grows when more items are live at once than ever before, and a removed item's slot is cleared.
 * Iteration walks every slot: an item added meanwhile into a slot already passed is not seen.
 */
export interface SlotSet<A extends object> extends Iterable<A> {
  /** Adds an item; the slot it got, to remove it with. */
  readonly add: (item: A) => number
  /** Removes the item from its slot; nothing when the slot holds another item by now. */
  readonly remove: (slot: number, item: A) => void
  /** Items held now. */
  readonly size: () => number
}

// Items are objects: an empty slot holds `undefined`, which must never match an item.
export const make = <A extends object>(): SlotSet<A> => {
  const slots: Array<A | undefined> = []
  const free: Array<number> = []
  let size = 0

  return {
    add: (item) => {
      const slot = free.length > 0 ? free.pop()! : slots.length
      slots[slot] = item
      size++
      return slot
    },
    remove: (slot, item) => {
      if (slots[slot] !== item) return
      slots[slot] = undefined
      free.push(slot)
      size--
    },
    size: () => size,
    *[Symbol.iterator]() {
      for (let slot = 0; slot < slots.length; slot++) {
        const item = slots[slot]
        if (item !== undefined) yield item
      }
    }
  }
}
