/**
 * What a contact's log says about each event name, as much as segment conditions need: how many,
 * the first and last time, and the times of the most recent ones (for counts in a window). Plain
 * JSON (times in ms), so a store can persist it with the contact; pure, so a rebuild from the log
 * gives the same facts.
 */
import * as ContactEvent from "./ContactEvent.js"

/** The facts about one event name. */
export interface Facts {
  readonly count: number
  /** Time of the earliest event, ms since the epoch. */
  readonly firstAt: number
  /** Time of the latest event, ms since the epoch. */
  readonly lastAt: number
  /** The times of the latest events, oldest first, newest last: at most the `keep` they were recorded with. */
  readonly recent: ReadonlyArray<number>
}

/** The facts of a contact, by event name. */
export interface EventFacts {
  readonly [name: string]: Facts
}

/**
 * How many recent times to keep for an event name: the largest count of a windowed
 * `triggeredAtLeast` / `triggeredFewerThan` on it (`SegmentRouting.reads`), 0 for none.
 */
export type Keep = (name: string) => number

/** No facts: a contact with no events. */
export const empty: EventFacts = {}

/** Keeps no recent times: no segment counts events in a window. */
export const keepNone: Keep = () => 0

const none: ReadonlyArray<number> = []

/**
 * Whether a condition may read event `name`: not the system's own (`email.*`, and a segment's
 * `segment.<slug>.entry` / `.exit`, which a condition tests as `segment.<id>`). No facts are kept
 * for the others: a snapshot under many segments held more of them than of anything else.
 */
export const readable = (name: string): boolean =>
  !name.startsWith("email.") && !(name.startsWith("segment.") && (name.endsWith(".entry") || name.endsWith(".exit")))

/** The facts about `name`, or `undefined` when the contact never had it. */
export const get = (facts: EventFacts, name: string): Facts | undefined =>
  // Own keys only: an event may be named `constructor` or `__proto__`.
  Object.hasOwn(facts, name) ? facts[name] : undefined

// The latest `keep` times of `recent` and `at`, in time order. The log is in time order, so `at`
// almost always goes last (one copy); a time a little out of order (another process's clock) still
// lands in its place.
const withRecent = (recent: ReadonlyArray<number>, at: number, keep: number): ReadonlyArray<number> => {
  if (keep <= 0) return none
  let i = recent.length
  while (i > 0 && recent[i - 1]! > at) i--
  if (i === recent.length) {
    const next = recent.slice(Math.max(0, recent.length + 1 - keep))
    next.push(at)
    return next
  }
  const next = recent.slice()
  next.splice(i, 0, at)
  return next.length > keep ? next.slice(next.length - keep) : next
}

/** The facts about one more event `name` at `at` (ms). */
export const add = (facts: Facts | undefined, at: number, keep: number): Facts =>
  facts === undefined
    ? { count: 1, firstAt: at, lastAt: at, recent: keep > 0 ? [at] : none }
    : {
      count: facts.count + 1,
      firstAt: Math.min(facts.firstAt, at),
      lastAt: Math.max(facts.lastAt, at),
      recent: withRecent(facts.recent, at, keep)
    }

// Sets `name` in a fresh copy's own keys: assigning `__proto__` would set the prototype instead.
const put = (target: { [name: string]: Facts }, name: string, value: Facts): void => {
  if (name === "__proto__") {
    Object.defineProperty(target, name, { value, writable: true, enumerable: true, configurable: true })
  } else target[name] = value
}

/** The facts with one more event `name` at `at` (ms), keeping at most `keep` recent times for it. */
export const record = (facts: EventFacts, name: string, at: number, keep: number): EventFacts => {
  const next: { [name: string]: Facts } = { ...facts }
  put(next, name, add(get(facts, name), at, keep))
  return next
}

/**
 * The facts after a contact's events: each visible one a condition may read (a tracked event
 * under its name, a subscription flip as `contact.subscribed` / `contact.unsubscribed`) is
 * recorded; creation and erasure start over, as they do for the contact itself.
 */
export const fold = (
  events: Iterable<ContactEvent.ContactEvent>,
  keep: Keep = keepNone,
  facts: EventFacts = empty
): EventFacts => {
  // One copy for the whole fold, not one per event.
  let next: { [name: string]: Facts } | undefined
  for (const event of events) {
    if (event._tag === "ContactCreated" || event._tag === "ContactErased") {
      next = {}
      continue
    }
    const name = ContactEvent.visibleName(event)
    if (name === undefined || !readable(name)) continue
    next ??= { ...facts }
    put(next, name, add(get(next, name), event.at.getTime(), keep(name)))
  }
  return next ?? facts
}
