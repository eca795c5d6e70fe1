/**
 * Which segments a command can move a contact in or out of: what each (inlined) condition reads,
 * what a command changed, and whether the two meet. A segment that reads nothing a command changed
 * keeps its answer, so it need not be evaluated for that command at all.
 */
import * as ContactEvent from "./ContactEvent.js"
import type * as SegmentNode from "./SegmentNode.js"

/** A contact attribute a condition can read. */
export type Attribute = "email" | "subscribed" | "createdAt" | "updatedAt"

/** What a condition reads. */
export interface Reads {
  readonly attributes: ReadonlySet<Attribute>
  /** The top-level data keys of its `data.<path>` fields. */
  readonly dataKeys: ReadonlySet<string>
  /**
   * Its event names, each with how many recent times `EventFacts` must keep for it: the largest
   * count of a windowed `triggeredAtLeast` / `triggeredFewerThan` on it, 0 for none.
   */
  readonly events: ReadonlyMap<string, number>
  /** True when the passing of time alone can change its answer (a window somewhere). */
  readonly timed: boolean
}

/** Nothing: what the empty condition reads. */
export const nothing: Reads = { attributes: new Set(), dataKeys: new Set(), events: new Map(), timed: false }

const attributeOf = (leaf: SegmentNode.Leaf): Attribute | undefined => {
  switch (leaf._tag) {
    case "EmailEquals":
    case "EmailContains":
      return "email"
    case "Subscribed":
      return "subscribed"
    case "DateIn":
    case "DateWithin":
    case "DateOlderThan":
      return leaf.attribute
    default:
      return undefined
  }
}

/**
 * What an inlined condition reads. A `segment.<id>` leaf left in it is a defect and throws: what
 * it reads is what the referenced condition reads, which only inlining tells.
 */
export const reads = (node: SegmentNode.Node): Reads => {
  const attributes = new Set<Attribute>()
  const dataKeys = new Set<string>()
  const events = new Map<string, number>()
  let timed = false
  const go = (n: SegmentNode.Node): void => {
    switch (n._tag) {
      case "And":
      case "Or":
        for (const child of n.children) go(child)
        return
      case "Not":
        return go(n.child)
      case "DateWithin":
      case "DateOlderThan":
      case "DataWithin":
      case "DataOlderThan":
      case "TriggeredWithin":
      case "TriggeredOlderThan":
        timed = true
        break
      case "TriggeredAtLeast":
        if (n.window !== undefined) timed = true
        break
      case "MemberOf":
        throw new Error(`Segment "${n.segmentId}" must be inlined before what a condition reads is known`)
    }
    const attribute = attributeOf(n)
    if (attribute !== undefined) attributes.add(attribute)
    if ("path" in n) dataKeys.add(n.path[0]!)
    if ("event" in n) {
      const keep = n._tag === "TriggeredAtLeast" && n.window !== undefined ? n.count : 0
      events.set(n.event, Math.max(events.get(n.event) ?? 0, keep))
    }
  }
  go(node)
  return { attributes, dataKeys, events, timed }
}

/** What several conditions read together: for one contact's facts, the largest `keep` per name wins. */
export const combine = (all: Iterable<Reads>): Reads => {
  const attributes = new Set<Attribute>()
  const dataKeys = new Set<string>()
  const events = new Map<string, number>()
  let timed = false
  for (const r of all) {
    for (const a of r.attributes) attributes.add(a)
    for (const k of r.dataKeys) dataKeys.add(k)
    for (const [name, keep] of r.events) events.set(name, Math.max(events.get(name) ?? 0, keep))
    timed ||= r.timed
  }
  return { attributes, dataKeys, events, timed }
}

/** What one command did to a contact. */
export interface Change {
  /** The contact came into being: every segment must look at it. */
  readonly created: boolean
  /** The contact was erased: it leaves every segment. */
  readonly erased: boolean
  readonly emailChanged: boolean
  readonly subscriptionChanged: boolean
  /** Top-level data keys set or unset. */
  readonly dataKeys: ReadonlySet<string>
  /** Event names recorded (tracked events, and `contact.subscribed` / `contact.unsubscribed`). */
  readonly events: ReadonlySet<string>
  /** Something changed the contact's state, so its `updatedAt` moved. */
  readonly stateChanged: boolean
  /** An event this module does not know: every segment must look, to be safe. */
  readonly unknown: boolean
}

/** Nothing changed. */
export const unchanged: Change = {
  created: false,
  erased: false,
  emailChanged: false,
  subscriptionChanged: false,
  dataKeys: new Set(),
  events: new Set(),
  stateChanged: false,
  unknown: false
}

const meets = <A>(a: ReadonlySet<A>, b: { has(a: A): boolean }): boolean => {
  for (const x of a) if (b.has(x)) return true
  return false
}

/** Whether a change can alter the answer of a condition that reads `reads`. */
export const affects = (reads: Reads, change: Change): boolean =>
  change.created || change.erased || change.unknown ||
  (change.emailChanged && reads.attributes.has("email")) ||
  (change.subscriptionChanged && reads.attributes.has("subscribed")) ||
  (change.stateChanged && reads.attributes.has("updatedAt")) ||
  meets(change.dataKeys, reads.dataKeys) ||
  meets(change.events, reads.events)

interface Draft {
  created: boolean
  erased: boolean
  emailChanged: boolean
  subscriptionChanged: boolean
  readonly dataKeys: Set<string>
  readonly events: Set<string>
  stateChanged: boolean
  unknown: boolean
}

/**
 * What each event does to a change, one entry per event type: a new type of event is a type error
 * here until it says what it changes.
 */
const Effects: {
  readonly [T in ContactEvent.Type]: (draft: Draft, event: Extract<ContactEvent.ContactEvent, { _tag: T }>) => void
} = {
  ContactCreated: (draft) => {
    draft.created = true
    draft.stateChanged = true
  },
  SubscriptionChanged: (draft, event) => {
    draft.subscriptionChanged = true
    draft.stateChanged = true
    draft.events.add(ContactEvent.visibleName(event)!)
  },
  ContactDataChanged: (draft, event) => {
    for (const key of Object.keys(event.set)) draft.dataKeys.add(key)
    for (const key of event.unset) draft.dataKeys.add(key)
    draft.stateChanged = true
  },
  ContactEmailChanged: (draft) => {
    draft.emailChanged = true
    draft.stateChanged = true
  },
  EventTracked: (draft, event) => {
    draft.events.add(event.name)
  },
  ContactErased: (draft) => {
    draft.erased = true
  }
}

/** What one command did, from the events it appended. An event of a type not known here affects everything. */
export const changeOf = (events: ReadonlyArray<ContactEvent.ContactEvent>): Change => {
  const draft: Draft = {
    created: false,
    erased: false,
    emailChanged: false,
    subscriptionChanged: false,
    dataKeys: new Set(),
    events: new Set(),
    stateChanged: false,
    unknown: false
  }
  for (const event of events) {
    // Events decoded from a newer log may carry a tag this build does not know.
    const effect = Object.hasOwn(Effects, event._tag)
      ? Effects[event._tag] as (draft: Draft, event: ContactEvent.ContactEvent) => void
      : undefined
    if (effect === undefined) draft.unknown = true
    else effect(draft, event)
  }
  return draft
}
