/**
 * The track request (behaviour §1.2, §1.3, §1.5 `locale`) as an Effect Schema: decoding is validation,
 * and every broken rule becomes one field-level issue with a path, a message and a code.
 */
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"
import * as FieldIssue from "./FieldIssue.js"
import * as Json from "./Json.js"

/** Longest canonical email accepted (RFC 5321 path limit). */
export const MaxEmailLength = 254
/** Longest event name accepted, in UTF-16 code units. */
export const MaxEventLength = 256
/** Most keys one `data` object may carry. */
export const MaxDataKeys = 512
/** Longest `data` key. */
export const MaxDataKeyLength = 256
/** Deepest nesting of arrays and objects below `data` itself (`{"a":[[1]]}` nests 2 deep). */
export const MaxDataDepth = 16
/** Largest `data` object, as UTF-16 code units of its JSON text. */
export const MaxDataSize = 512 * 1024

/** The code of a field issue, as it appears in `errors[].code`. */
export type IssueCode =
  | "required"
  | "invalid_type"
  | "invalid_email"
  | "too_short"
  | "too_long"
  | "blank"
  | "reserved_event"
  | "too_many_keys"
  | "key_too_long"
  | "too_deep"
  | "too_large"
  | "invalid_string"
  | "invalid_number"

// Named here too for callers that reach it through the track command; defined in `FieldIssue`.
export type { FieldIssue } from "./FieldIssue.js"

/** A request that breaks one or more rules of behaviour §1.2; nothing was changed. */
export class InvalidTrackCommand extends Schema.TaggedError<InvalidTrackCommand>()("InvalidTrackCommand", {
  issues: Schema.Array(FieldIssue.FieldIssue)
}) {
  override get message() {
    return this.issues.map((i) => `${i.field}: ${i.message}`).join("; ")
  }
}

const IssueAnnotationId = Symbol.for("@tracklog/core/TrackCommand/Issue")

/**
 * One rule of one field, written once: the schema's filters and the fast `check` are both built
 * from it. `find` answers `undefined` when the value keeps the rule; when it breaks it, `true` (the
 * issue is at the field) or the key below the field that breaks it (the issue is at `data.<key>`).
 */
export interface Rule<A> {
  readonly code: IssueCode
  readonly message: string
  readonly find: (value: A) => true | string | undefined
  /** Bounds the value's depth: once it is broken, the `recurses` rules after it are not checked. */
  readonly bounds?: true
  /** Walks the whole value, so it is only checked on a value of bounded depth. */
  readonly recurses?: true
}

const holds = <A>(predicate: (value: A) => boolean) => (value: A): true | undefined =>
  predicate(value) ? undefined : true

// The schema's filter for a rule: fails at the field, or at the key `find` names.
const filterOf = <A>(rule: Rule<A>) =>
  Schema.filter<Schema.Schema<A, any, never>>((value) => {
    const at = rule.find(value)
    return at === undefined || (at === true ? false : { path: [at], message: rule.message })
  }, { [IssueAnnotationId]: { code: rule.code, message: rule.message } })

// A schema refined by every rule of a table, in order: the first broken rule stops it.
const refined = <A, I>(schema: Schema.Schema<A, I, never>, rules: ReadonlyArray<Rule<A>>): Schema.Schema<A, I, never> =>
  rules.reduce((s, rule) => s.pipe(filterOf(rule)), schema)

/** Every rule of a table that `value` breaks, one issue each into `out`: unlike a schema, it goes on after one. */
export const apply = <A>(
  rules: ReadonlyArray<Rule<A>>,
  value: A,
  field: string,
  out: Array<FieldIssue.FieldIssue>
): void => {
  let unbounded = false
  for (const rule of rules) {
    if (unbounded && rule.recurses) continue
    const at = rule.find(value)
    if (at === undefined) continue
    out.push({ field: at === true ? field : `${field}.${at}`, code: rule.code, message: rule.message })
    if (rule.bounds) unbounded = true
  }
}

/** Data keys the system owns; an incoming value for one of them is dropped silently (behaviour §1.5). */
export const ReservedDataKeys: ReadonlySet<string> = new Set([
  "id",
  "email",
  "subscribed",
  "createdAt",
  "updatedAt",
  "plunk_id",
  "plunk_email",
  "unsubscribeUrl",
  "subscribeUrl",
  "manageUrl"
])

/** Event names the system emits itself (behaviour §1.3); case-sensitive, as Plunk. */
export const isReservedEventName = (name: string): boolean =>
  name.startsWith("email.") ||
  name === "contact.subscribed" ||
  name === "contact.unsubscribed" ||
  (name.startsWith("segment.") && (name.endsWith(".entry") || name.endsWith(".exit")))

const atom = "[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
const label = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
const EmailPattern = new RegExp(`^${atom}(?:\\.${atom})*@(?:${label}\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

/** True for an address the track endpoint accepts (after trimming and lowercasing). */
export const isEmail = (s: string): boolean => {
  const at = s.lastIndexOf("@")
  return at > 0 && at <= 64 && EmailPattern.test(s)
}

const Surrogate = /[\ud800-\udfff]/
const LoneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * True for text that can be stored and exchanged as is: no NUL (PostgreSQL text cannot hold it)
 * and no unpaired UTF-16 surrogate (not Unicode at all; it cannot be encoded as UTF-8).
 */
export const isStorableText = (s: string): boolean =>
  !s.includes("\u0000") && !(Surrogate.test(s) && LoneSurrogate.test(s))

// The first top-level key whose name or value (at any depth) is not storable text.
const unstorableKey = (data: Json.JsonObject): string | undefined => {
  const bad = (value: Json.Json): boolean => {
    if (typeof value === "string") return !isStorableText(value)
    if (typeof value !== "object" || value === null) return false
    if (Array.isArray(value)) return value.some(bad)
    for (const [k, v] of Object.entries(value)) if (!isStorableText(k) || bad(v)) return true
    return false
  }
  for (const [k, v] of Object.entries(data)) if (!isStorableText(k) || bad(v)) return k
  return undefined
}

// JSON.parse reads 1e400 as Infinity, which JSON cannot write back (it would become null, and
// null means "delete"): the first top-level key holding a non-finite number at any depth.
const nonFiniteKey = (data: Json.JsonObject): string | undefined => {
  const bad = (value: Json.Json): boolean => {
    if (typeof value === "number") return !Number.isFinite(value)
    if (typeof value !== "object" || value === null) return false
    return (Array.isArray(value) ? value : Object.values(value)).some(bad)
  }
  for (const [k, v] of Object.entries(data)) if (bad(v)) return k
  return undefined
}

/** The rules of the canonical email (behaviour §1.2), in the order they are reported. */
export const EmailRules: ReadonlyArray<Rule<string>> = [
  {
    code: "too_long",
    message: `Email must be at most ${MaxEmailLength} characters`,
    find: holds((s) => s.length <= MaxEmailLength)
  },
  { code: "invalid_email", message: "Invalid email", find: holds(isEmail) }
]

/** The rules of an event name (behaviour §1.2, §1.3). The empty name breaks `too_short` only. */
export const EventNameRules: ReadonlyArray<Rule<string>> = [
  { code: "too_short", message: "Event name must not be empty", find: holds((s) => s.length > 0) },
  {
    code: "too_long",
    message: `Event name must be at most ${MaxEventLength} characters`,
    find: holds((s) => s.length <= MaxEventLength)
  },
  { code: "blank", message: "Event name must not be blank", find: holds((s) => s.length === 0 || s.trim().length > 0) },
  {
    code: "invalid_string",
    message: "Event name must not contain NUL or unpaired surrogates",
    find: holds(isStorableText)
  },
  {
    code: "reserved_event",
    message: "Event name is reserved for system events",
    find: holds((s) => !isReservedEventName(s))
  }
]

/** The canonical email: trimmed, lowercased (Plunk issue #403), then validated. */
export const Email = refined(Schema.compose(Schema.Trim, Schema.Lowercase), EmailRules).annotations(
  {
    description: "Contact email; trimmed and lowercased",
    format: "email"
  } as const
)

/** An event name: 1–256 characters, not all whitespace, not reserved; stored verbatim. */
export const EventName = refined(Schema.String, EventNameRules).annotations({
  description: "Event name; case-sensitive, stored verbatim"
})

const depthExceeds = (value: Json.Json, budget: number): boolean => {
  if (typeof value !== "object" || value === null) return false
  if (budget === 0) return true
  for (const child of Array.isArray(value) ? value : Object.values(value)) {
    if (depthExceeds(child, budget - 1)) return true
  }
  return false
}

const keyTooLong = (data: Json.JsonObject): string | undefined =>
  Object.keys(data).find((k) => k.length > MaxDataKeyLength)

// The key holding a `locale` that is neither a string nor null (behaviour §1.5).
const badLocale = (data: Json.JsonObject): string | undefined => {
  const locale = Object.hasOwn(data, "locale") ? data["locale"] : null
  return typeof locale === "string" || locale === null ? undefined : "locale"
}

/**
 * The rules of `data` (behaviour §1.2, §1.5 `locale`; the limits of decision 0006). The ones that
 * walk the whole value are not checked on a value too deep: stringify and the walks recurse.
 */
export const DataRules: ReadonlyArray<Rule<Json.JsonObject>> = [
  {
    code: "too_many_keys",
    message: `Data must have at most ${MaxDataKeys} keys`,
    find: holds((d) => Object.keys(d).length <= MaxDataKeys)
  },
  { code: "key_too_long", message: `Data keys must be at most ${MaxDataKeyLength} characters`, find: keyTooLong },
  {
    code: "too_deep",
    message: `Data must not nest deeper than ${MaxDataDepth} levels`,
    find: holds((d) => !depthExceeds(d, MaxDataDepth + 1)),
    bounds: true
  },
  {
    code: "too_large",
    message: `Data must be at most ${MaxDataSize} characters of JSON`,
    find: holds((d) => JSON.stringify(d).length <= MaxDataSize),
    recurses: true
  },
  {
    code: "invalid_string",
    message: "Data keys and strings must not contain NUL or unpaired surrogates",
    find: unstorableKey,
    recurses: true
  },
  { code: "invalid_number", message: "Numbers must be finite", find: nonFiniteKey, recurses: true },
  { code: "invalid_type", message: "locale must be a string or null", find: badLocale }
]

/** The `data` object: a shallow patch of the contact plus one-shot variables (behaviour §1.5). */
export const Data = refined(Json.Object, DataRules).annotations({
  description: "Contact data and one-shot event variables ({ value, persistent: false })"
})

/** A validated track request: a plain object, so the hot path builds no class instance. */
export const TrackCommand = Schema.Struct({
  email: Email,
  event: EventName,
  subscribed: Schema.optionalWith(Schema.Boolean, { exact: true }),
  preserveExistingSubscription: Schema.optionalWith(Schema.Boolean, { exact: true }),
  data: Schema.optionalWith(Data, { exact: true })
}).annotations({ identifier: "TrackCommand", description: "Track an event for a contact" })

export interface TrackCommand extends Schema.Schema.Type<typeof TrackCommand> {}

/** The wire form of the request, as it appears in the request body. */
export type Encoded = Schema.Schema.Encoded<typeof TrackCommand>

/**
 * Decodes a parsed JSON body, or fails with one issue per broken rule. The rules are `check`'s,
 * the schema's predicates applied without its machinery (this is every request's path); a
 * property test holds `check` and the schema to the same answers.
 */
export const decode = (body: unknown): Either.Either<TrackCommand, InvalidTrackCommand> => {
  const broken = check(body)
  return broken.length === 0
    ? Either.right(build(body as Record<string, unknown>))
    : Either.left(new InvalidTrackCommand({ issues: broken }))
}

const build = (b: Record<string, unknown>): TrackCommand => {
  const props: { -readonly [K in keyof TrackCommand]?: TrackCommand[K] } = {
    email: (b["email"] as string).trim().toLowerCase(),
    event: b["event"] as string
  }
  if (b["subscribed"] !== undefined) props.subscribed = b["subscribed"] as boolean
  if (b["preserveExistingSubscription"] !== undefined)
    props.preserveExistingSubscription = b["preserveExistingSubscription"] as boolean
  if (b["data"] !== undefined) props.data = b["data"] as Json.JsonObject
  return props as TrackCommand
}

const issue = (field: string, code: IssueCode, message: string): FieldIssue.FieldIssue => ({ field, code, message })

/**
 * Every rule the body breaks, one issue each, with the schema's predicates and messages. The
 * schema's own filters stop at a field's first failure; behaviour §1.2 wants them all.
 */
export const check = (body: unknown): Array<FieldIssue.FieldIssue> => {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return [issue("body", "invalid_type", "Expected an object")]
  const b = body as Record<string, unknown>
  const out: Array<FieldIssue.FieldIssue> = []
  // As the schema: a key holding `undefined` is present (and of the wrong type), not missing.
  const present = (key: string) => Object.hasOwn(b, key)
  if (!present("email")) out.push(issue("email", "required", "email is required"))
  else if (typeof b["email"] !== "string") out.push(issue("email", "invalid_type", "Expected a string"))
  else apply(EmailRules, b["email"].trim().toLowerCase(), "email", out)
  if (!present("event")) out.push(issue("event", "required", "event is required"))
  else if (typeof b["event"] !== "string") out.push(issue("event", "invalid_type", "Expected a string"))
  else apply(EventNameRules, b["event"], "event", out)
  for (const key of ["subscribed", "preserveExistingSubscription"]) {
    if (Object.hasOwn(b, key) && typeof b[key] !== "boolean") out.push(issue(key, "invalid_type", "Expected a boolean"))
  }
  if (Object.hasOwn(b, "data")) {
    const data = b["data"]
    if (!Json.isObject(data)) out.push(issue("data", "invalid_type", "Expected an object"))
    else apply(DataRules, data, "data", out)
  }
  return out
}

/**
 * Flattens the schema's parse issue into field issues with dotted paths and codes, for callers
 * that decode with the schema itself (it stops at a field's first broken rule; `check` does not).
 */
export const issuesOf = (issue: ParseResult.ParseIssue): Array<FieldIssue.FieldIssue> => {
  const out: Array<FieldIssue.FieldIssue> = []
  collect(issue, [], out)
  return out
}

const fieldOf = (path: ReadonlyArray<PropertyKey>) => path.length === 0 ? "body" : path.map(String).join(".")

const collect = (
  issue: ParseResult.ParseIssue,
  path: ReadonlyArray<PropertyKey>,
  out: Array<FieldIssue.FieldIssue>
): void => {
  switch (issue._tag) {
    case "Pointer": {
      const next = Array.isArray(issue.path) ? [...path, ...issue.path] : [...path, issue.path as PropertyKey]
      return collect(issue.issue, next, out)
    }
    case "Composite": {
      const children = Array.isArray(issue.issues) ? issue.issues : [issue.issues as ParseResult.ParseIssue]
      for (const child of children) collect(child, path, out)
      return
    }
    case "Refinement": {
      if (issue.kind === "From") return collect(issue.issue, path, out)
      const rule = issue.ast.annotations[IssueAnnotationId] as { code: IssueCode; message?: string } | undefined
      if (rule === undefined) return collect(issue.issue, path, out)
      const { code } = rule
      // A filter may point below its own value (`data.locale`): keep that pointer, take its message.
      const inner = issue.issue
      if (inner._tag === "Pointer") {
        const sub = Array.isArray(inner.path) ? inner.path : [inner.path as PropertyKey]
        out.push({ field: fieldOf([...path, ...sub]), message: messageOf(inner.issue), code })
      } else {
        out.push({ field: fieldOf(path), message: rule.message ?? messageOf(inner), code })
      }
      return
    }
    case "Transformation":
      return collect(issue.issue, path, out)
    case "Missing":
      out.push({ field: fieldOf(path), message: `${fieldOf(path)} is required`, code: "required" })
      return
    case "Type":
      out.push({
        field: fieldOf(path),
        message: issue.message ?? `Expected ${expected(issue.ast)}`,
        code: "invalid_type"
      })
      return
    case "Unexpected":
    case "Forbidden":
      out.push({ field: fieldOf(path), message: issue.message ?? "Invalid value", code: "invalid_type" })
      return
  }
}

const expected = (ast: AST.AST): string => {
  switch (ast._tag) {
    case "TypeLiteral":
    case "Declaration":
      return "an object"
    case "BooleanKeyword":
      return "a boolean"
    case "StringKeyword":
      return "a string"
    default:
      return String(ast)
  }
}

const messageOf = (issue: ParseResult.ParseIssue): string =>
  ("message" in issue && typeof issue.message === "string") ? issue.message : "Invalid value"
