/**
 * A segment's condition, normalised: the small tree (`Node`) that `SegmentCondition.decode` builds
 * from Plunk's wire format, `SegmentEvaluation` evaluates and `SegmentRouting` reads, and what is
 * done to whole trees: joining them, listing and checking their `segment.<id>` references, and
 * inlining those.
 *
 * Built with `and`/`or`/`not`, an `And`/`Or` holds no child of its own kind and never stands for a
 * single child, and a `Not` never holds a `Not`. A negative operator decodes to `Not` over its
 * positive leaf, so "a negative is exactly NOT its positive" holds by construction. Leaves carry
 * their values parsed once: instants in ms, windows in ms, lower-cased needles, data paths split.
 */
import type * as FieldIssue from "./FieldIssue.js"
import type * as Json from "./Json.js"

/** The contact attributes that hold an instant. */
export type DateAttribute = "createdAt" | "updatedAt"

/** An ordering comparison. */
export type Comparison = "greaterThan" | "lessThan" | "greaterThanOrEqual" | "lessThanOrEqual"

/** Every child holds (the empty `And` always holds). */
export interface And {
  readonly _tag: "And"
  readonly children: ReadonlyArray<Node>
}

/** Some child holds (the empty `Or` never holds). */
export interface Or {
  readonly _tag: "Or"
  readonly children: ReadonlyArray<Node>
}

/** The child does not hold: every negative operator. */
export interface Not {
  readonly _tag: "Not"
  readonly child: Node
}

/** The email equals `value` (lower-cased here, compared case-insensitively). */
export interface EmailEquals {
  readonly _tag: "EmailEquals"
  readonly value: string
}

/** The email contains `value` (lower-cased here, compared case-insensitively). */
export interface EmailContains {
  readonly _tag: "EmailContains"
  readonly value: string
}

/** The contact's subscription state is `value`. */
export interface Subscribed {
  readonly _tag: "Subscribed"
  readonly value: boolean
}

/** `from ≤ attribute ≤ to` (ms, inclusive): equality with an instant or a UTC day, and the comparisons. */
export interface DateIn {
  readonly _tag: "DateIn"
  readonly attribute: DateAttribute
  readonly from: number
  readonly to: number
}

/** `attribute ≥ t − window`: true through `attribute + window`. */
export interface DateWithin {
  readonly _tag: "DateWithin"
  readonly attribute: DateAttribute
  readonly window: number
}

/** `attribute < t − window`: true after `attribute + window`. */
export interface DateOlderThan {
  readonly _tag: "DateOlderThan"
  readonly attribute: DateAttribute
  readonly window: number
}

/**
 * The data value at `path` equals `value` as JSON; when the filter's value is a `YYYY-MM-DD` day,
 * `day` is its UTC midnight and a string value naming an instant of that day matches too.
 */
export interface DataEquals {
  readonly _tag: "DataEquals"
  readonly path: ReadonlyArray<string>
  readonly value: Json.Json
  readonly day: number | undefined
}

/** The data value at `path` is a string containing `value` (lower-cased here), case-insensitively. */
export interface DataContains {
  readonly _tag: "DataContains"
  readonly path: ReadonlyArray<string>
  readonly value: string
}

/**
 * The data value at `path` compared with `bound`: as numbers when `instant` is false (a number
 * value only), as instants when it is true (an ISO-8601 string value only).
 */
export interface DataCompare {
  readonly _tag: "DataCompare"
  readonly path: ReadonlyArray<string>
  readonly comparison: Comparison
  readonly bound: number
  readonly instant: boolean
}

/** The data value at `path` is there and is not JSON null. */
export interface DataExists {
  readonly _tag: "DataExists"
  readonly path: ReadonlyArray<string>
}

/** The data value at `path` is an ISO-8601 instant `≥ t − window`. */
export interface DataWithin {
  readonly _tag: "DataWithin"
  readonly path: ReadonlyArray<string>
  readonly window: number
}

/** The data value at `path` is an ISO-8601 instant `< t − window`. */
export interface DataOlderThan {
  readonly _tag: "DataOlderThan"
  readonly path: ReadonlyArray<string>
  readonly window: number
}

/** The contact has had the event at least once. */
export interface Triggered {
  readonly _tag: "Triggered"
  readonly event: string
}

/** The contact's last such event is at `≥ t − window`. */
export interface TriggeredWithin {
  readonly _tag: "TriggeredWithin"
  readonly event: string
  readonly window: number
}

/** The contact has had the event, the last one at `< t − window`. */
export interface TriggeredOlderThan {
  readonly _tag: "TriggeredOlderThan"
  readonly event: string
  readonly window: number
}

/** At least `count` such events, at `≥ t − window` when there is a window. */
export interface TriggeredAtLeast {
  readonly _tag: "TriggeredAtLeast"
  readonly event: string
  readonly count: number
  readonly window: number | undefined
}

/**
 * The contact is a member of segment `segmentId`: its condition holds. `at` is the path of the
 * filter's field below the root (`groups[0].filters[1].field`), for the issues of `checkReferences`.
 */
export interface MemberOf {
  readonly _tag: "MemberOf"
  readonly segmentId: string
  readonly at: string
}

/** A test of one filter. */
export type Leaf =
  | EmailEquals
  | EmailContains
  | Subscribed
  | DateIn
  | DateWithin
  | DateOlderThan
  | DataEquals
  | DataContains
  | DataCompare
  | DataExists
  | DataWithin
  | DataOlderThan
  | Triggered
  | TriggeredWithin
  | TriggeredOlderThan
  | TriggeredAtLeast
  | MemberOf

/** A normalised condition. */
export type Node = And | Or | Not | Leaf

// Nested nodes of the same kind are flattened and a single child stands for itself: the tree an
// evaluation walks is no deeper than it must be.
const junction = (tag: "And" | "Or", nodes: ReadonlyArray<Node>): Node => {
  const children: Array<Node> = []
  for (const node of nodes) {
    if (node._tag === tag) children.push(...node.children)
    else children.push(node)
  }
  return children.length === 1 ? children[0]! : { _tag: tag, children }
}

/** Every node holds; nested `And`s are flattened, one child is returned as is. */
export const and = (nodes: ReadonlyArray<Node>): Node => junction("And", nodes)

/** Some node holds; nested `Or`s are flattened, one child is returned as is. */
export const or = (nodes: ReadonlyArray<Node>): Node => junction("Or", nodes)

/** The node does not hold; `not(not(x))` is `x`. */
export const not = (node: Node): Node => node._tag === "Not" ? node.child : { _tag: "Not", child: node }

/** The node that never holds: what a reference to a segment that no longer exists inlines to. */
export const never: Node = { _tag: "Or", children: [] }

// ---------------------------------------------------------------------------------------------
// Segment references

const walk = (node: Node, visit: (leaf: Leaf) => void): void => {
  switch (node._tag) {
    case "And":
    case "Or":
      for (const child of node.children) walk(child, visit)
      return
    case "Not":
      return walk(node.child, visit)
    default:
      return visit(node)
  }
}

/** The ids of the segments a condition refers to directly (`segment.<id>` fields). */
export const references = (node: Node): ReadonlySet<string> => {
  const ids = new Set<string>()
  walk(node, (leaf) => {
    if (leaf._tag === "MemberOf") ids.add(leaf.segmentId)
  })
  return ids
}

/**
 * The issues of a condition's segment references: `unknown_segment` for an id `lookup` does not
 * know, `segment_cycle` for one that leads back to `segmentId` (the segment being defined;
 * `undefined` for a new one or an audience) or into any other cycle. Each at the filter's `field`.
 */
export const checkReferences = (
  segmentId: string | undefined,
  node: Node,
  lookup: (id: string) => Node | undefined,
  root: string = "condition"
): Array<FieldIssue.FieldIssue> => {
  const issues: Array<FieldIssue.FieldIssue> = []
  // Ids known to lead to no cycle and no unknown id, shared by every reference checked.
  const sound = new Set<string>()
  // Whether following `id` reaches `segmentId` or a cycle. `path` holds the ids being followed.
  const cyclic = (id: string, path: Set<string>): boolean => {
    if (id === segmentId || path.has(id)) return true
    if (sound.has(id)) return false
    const referenced = lookup(id)
    if (referenced === undefined) return false
    path.add(id)
    for (const next of references(referenced)) {
      if (cyclic(next, path)) return true
    }
    path.delete(id)
    sound.add(id)
    return false
  }
  walk(node, (leaf) => {
    if (leaf._tag !== "MemberOf") return
    const field = `${root}.${leaf.at}`
    if (leaf.segmentId !== segmentId && lookup(leaf.segmentId) === undefined) {
      issues.push({ field, code: "unknown_segment", message: `No segment has id "${leaf.segmentId}"` })
    } else if (cyclic(leaf.segmentId, new Set())) {
      issues.push({
        field,
        code: "segment_cycle",
        message: leaf.segmentId === segmentId
          ? "A segment cannot refer to itself"
          : `Segment "${leaf.segmentId}" refers back to this segment, directly or through others`
      })
    }
  })
  return issues
}

/**
 * The tree with every `segment.<id>` leaf replaced by that segment's own tree, itself inlined:
 * membership is exactly "the referenced condition holds", so the answers are the same and the
 * referenced segment's time windows become the referencing one's. A reference `lookup` does not
 * know inlines to `never` (a deleted segment has no members); a cycle is a defect (`checkReferences`
 * refuses them) and throws.
 */
export const inline = (node: Node, lookup: (id: string) => Node | undefined): Node => {
  const done = new Map<string, Node>()
  const open = new Set<string>()
  const go = (n: Node): Node => {
    switch (n._tag) {
      case "And":
      case "Or": {
        let changed = false
        const children = n.children.map((child) => {
          const next = go(child)
          if (next !== child) changed = true
          return next
        })
        return changed ? junction(n._tag, children) : n
      }
      case "Not": {
        const child = go(n.child)
        return child === n.child ? n : not(child)
      }
      case "MemberOf": {
        const cached = done.get(n.segmentId)
        if (cached !== undefined) return cached
        if (open.has(n.segmentId)) throw new Error(`Segment reference cycle through "${n.segmentId}"`)
        const referenced = lookup(n.segmentId)
        if (referenced === undefined) return never
        open.add(n.segmentId)
        const inlined = go(referenced)
        open.delete(n.segmentId)
        done.set(n.segmentId, inlined)
        return inlined
      }
      default:
        return n
    }
  }
  return go(node)
}
