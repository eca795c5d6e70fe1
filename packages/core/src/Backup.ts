/**
 * The whole store as a sequence of items, and back (behaviour §9 `export` / `import`): projects, key
 * hashes, the log in log order with ids, versions, times and projects, and any extra rows a store
 * keeps beside them (suppressions). Contacts are not items: they are a projection, rebuilt on
 * import by folding the log. Idempotency records are not exported (they only guard retries of
 * recent requests, and belong to the store that answered them).
 */
import * as Context from "effect/Context"
import * as Either from "effect/Either"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import * as Contact from "./Contact.js"
import * as ContactEvent from "./ContactEvent.js"
import type * as Json from "./Json.js"
import type * as Segment from "./Segment.js"
import * as SegmentCondition from "./SegmentCondition.js"
import type * as StoreError from "./StoreError.js"

/** The first item of every export: what the rest is. */
export const Header = Schema.Struct({
  type: Schema.Literal("tracklog-export"),
  version: Schema.Literal(1),
  exportedAt: Schema.String
})

/** A project; `extra` holds columns a store keeps beside id and time (a per-project secret, say). */
export const ProjectItem = Schema.Struct({
  type: Schema.Literal("project"),
  id: Schema.String,
  createdAt: Schema.optional(Schema.String),
  extra: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})

/** A key, as its SHA-256 hash: keys themselves are never stored, so never exported. */
export const KeyItem = Schema.Struct({
  type: Schema.Literal("key"),
  hash: Schema.String,
  projectId: Schema.String,
  kind: Schema.Literal("public", "secret")
})

/** One event of the log; items come in log order, and import keeps that order. */
export const EventItem = Schema.Struct({
  type: Schema.Literal("event"),
  id: Schema.String,
  streamId: Schema.String,
  projectId: Schema.String,
  version: Schema.Int.pipe(Schema.positive()),
  /** Its position in the exporting store, for reference; the importing store numbers anew. */
  position: Schema.String,
  event: Schema.Unknown
})

/** A row of another table the store keeps (e.g. `suppressions`), copied column by column. */
export const RowItem = Schema.Struct({
  type: Schema.Literal("row"),
  table: Schema.String,
  row: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})

/**
 * The suppression list travels as rows of this table, `{project_id, email_hash}` (other columns,
 * such as `created_at`, may come along), in every store's export.
 */
export const SuppressionsTable = "suppressions"

/** The table whose rows carry segment definitions (behaviour §11; membership is rebuilt, not carried). */
export const SegmentsTable = "segments"

/** A segment definition as an export row: the PostgreSQL store's columns. */
export const segmentRow = (segment: Segment.Segment): Record<string, Json.Json> => ({
  id: segment.id,
  project_id: segment.projectId,
  name: segment.name,
  slug: segment.slug,
  condition: segment.condition as unknown as Json.Json,
  track_membership: segment.trackMembership,
  created_at: segment.createdAt.toISOString(),
  updated_at: segment.updatedAt.toISOString(),
  revision: segment.revision,
  deleted_at: segment.deletedAt === undefined ? null : segment.deletedAt.toISOString()
})

/**
 * A segment definition from an export row, of a project the export holds; it is built again from
 * the first contact (`builtRevision` 0), as nothing of its membership travels.
 */
export const checkSegment = (
  row: Readonly<Record<string, unknown>>,
  projects: { has(id: string): boolean }
): Either.Either<Segment.Segment, InvalidExport> => {
  const text = (k: string) => (typeof row[k] === "string" ? row[k] as string : undefined)
  const instant = (k: string) => {
    const t = text(k)
    const ms = t === undefined ? NaN : Date.parse(t)
    return Number.isNaN(ms) ? undefined : new Date(ms)
  }
  const [id, projectId, name, slug] = [text("id"), text("project_id"), text("name"), text("slug")]
  const createdAt = instant("created_at")
  const updatedAt = instant("updated_at")
  const revision = row["revision"]
  const condition = SegmentCondition.decode(row["condition"])
  if (
    id === undefined || projectId === undefined || name === undefined || slug === undefined ||
    createdAt === undefined || updatedAt === undefined || typeof row["track_membership"] !== "boolean" ||
    typeof revision !== "number" || !Number.isInteger(revision) || revision < 1 || Either.isLeft(condition)
  ) {
    return Either.left(new InvalidExport({ message: `segment row ${id ?? "?"} is not a valid segment definition` }))
  }
  if (!projects.has(projectId))
    return Either.left(new InvalidExport({ message: `segment of unknown project ${projectId}` }))
  const deletedAt = row["deleted_at"] === null || row["deleted_at"] === undefined ? undefined : instant("deleted_at")
  return Either.right({
    id,
    projectId,
    name,
    slug,
    condition: condition.right.wire,
    trackMembership: row["track_membership"] as boolean,
    createdAt,
    updatedAt,
    revision,
    builtRevision: 0,
    buildCursor: "",
    ...(deletedAt === undefined ? {} : { deletedAt })
  })
}

/**
 * The `extra` field of a project item holding its suppression secret. The hashes of its
 * suppression rows are keyed with it, so it travels with them: an importing store keeps the
 * exported secret, never a new one of its own, or a suppressed email would be tracked again.
 */
export const SecretField = "hmac_secret"

/** The suppression secret a project item carries, if any. */
export const secretOf = (item: typeof ProjectItem.Type): string | undefined => {
  const secret = item.extra?.[SecretField]
  return typeof secret === "string" && secret.length > 0 ? secret : undefined
}

/**
 * Checks the rows of the suppressions table, whatever store reads them: each names a project
 * that came before it with its secret (`secrets`: project id → whether it carried one), and a hash.
 */
export const checkSuppression = (
  row: Readonly<Record<string, unknown>>,
  secrets: ReadonlyMap<string, boolean>
): Either.Either<{ readonly projectId: string; readonly emailHash: string }, InvalidExport> => {
  const projectId = row["project_id"]
  const emailHash = row["email_hash"]
  if (typeof projectId !== "string" || typeof emailHash !== "string" || emailHash.length === 0) {
    return Either.left(new InvalidExport({ message: "a suppression row needs project_id and email_hash" }))
  }
  if (secrets.get(projectId) !== true) {
    return Either.left(
      new InvalidExport({
        message:
          `suppression of project ${projectId} without the project's ${SecretField}: its hashes could not be checked`
      })
    )
  }
  return Either.right({ projectId, emailHash })
}

/** Any line of an export. */
export const Item = Schema.Union(Header, ProjectItem, KeyItem, EventItem, RowItem)
export type Item = typeof Item.Type

/** An export line that is not an item, or items that do not fit together. */
export class InvalidExport extends Schema.TaggedError<InvalidExport>()("InvalidExport", {
  message: Schema.String
}) {}

/** Import refuses a store that already holds projects or events. */
export class StoreNotEmpty extends Schema.TaggedError<StoreNotEmpty>()("StoreNotEmpty", {
  message: Schema.String
}) {}

const decodeItem = Schema.decodeUnknownEither(Item)

/** One NDJSON line as an item; `line` (from 1) names it in the error. */
export const parseLine = (text: string, line: number): Either.Either<Item, InvalidExport> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return Either.left(new InvalidExport({ message: `line ${line}: not JSON` }))
  }
  return Either.mapLeft(decodeItem(json), () => new InvalidExport({ message: `line ${line}: not an export item` }))
}

/** The event of an event item, checked. */
export const eventOf = (item: typeof EventItem.Type): Either.Either<ContactEvent.ContactEvent, InvalidExport> =>
  Either.try({
    try: () => ContactEvent.decode(item.event),
    catch: () => new InvalidExport({ message: `event ${item.id}: not a valid event` })
  })

/**
 * Whether an event item may follow its stream's last imported version: the next one, or an
 * erasure marker past it (an erased stream keeps only its marker, at the version after its last
 * erased event, behaviour §7).
 */
export const follows = (last: number, version: number, event: ContactEvent.ContactEvent): boolean =>
  version === last + 1 || (event._tag === "ContactErased" && version > last)

/** A stream as an import rebuilt it: its last version, its project, and its contact (none once erased). */
export interface RebuiltStream {
  readonly streamId: string
  readonly projectId: string
  readonly version: number
  readonly contact: Contact.State
}

/**
 * An import's projection, rebuilt from its log as it is read (behaviour §9): every event item is
 * checked to follow its stream (`follows`) and folded into its contact; at the end, one contact per
 * (project, canonical email) must hold. Both stores import through it, so both accept and refuse
 * exactly the same exports.
 */
export const rebuild = () => {
  const streams = new Map<string, { projectId: string; version: number; contact: Contact.State }>()
  return {
    /** Folds one event item: its event, or why it does not fit its stream. */
    add: (item: typeof EventItem.Type): Either.Either<ContactEvent.ContactEvent, InvalidExport> =>
      Either.flatMap(eventOf(item), (event) => {
        const stream = streams.get(item.streamId) ?? { projectId: item.projectId, version: 0, contact: null }
        if (!follows(stream.version, item.version, event)) {
          return Either.left(
            new InvalidExport({ message: `event ${item.id}: version ${item.version} after ${stream.version}` })
          )
        }
        streams.set(item.streamId, {
          projectId: stream.projectId,
          version: item.version,
          contact: Contact.evolve(stream.contact, event)
        })
        return Either.right(event)
      }),
    /** Every stream folded so far, in the order they started; two contacts with one email are invalid. */
    finish: (): Either.Either<ReadonlyArray<RebuiltStream>, InvalidExport> => {
      const emails = new Set<string>()
      const out: Array<RebuiltStream> = []
      for (const [streamId, stream] of streams) {
        const contact = stream.contact
        if (contact !== null) {
          const key = Contact.emailKey(contact.projectId, contact.email)
          if (emails.has(key)) {
            return Either.left(
              new InvalidExport({ message: `two contacts for one email in project ${contact.projectId}` })
            )
          }
          emails.add(key)
        }
        out.push({ streamId, projectId: stream.projectId, version: stream.version, contact })
      }
      return Either.right(out)
    }
  }
}

/** What an import loaded. */
export interface Summary {
  readonly projects: number
  readonly keys: number
  readonly events: number
  readonly contacts: number
  readonly rows: number
}

/** Export and import of a whole store. */
export class Backup extends Context.Tag("@tracklog/core/Backup")<Backup, {
  /** Every item of the store: header, projects, keys, other rows, then the log in order. */
  readonly export: Stream.Stream<Item, StoreError.StoreUnavailable>
  /**
   * Loads items into this store, which must be empty, and rebuilds the contact projection by
   * folding each stream. All or nothing where the store has transactions.
   */
  readonly import: <E>(
    items: Stream.Stream<Item, E>
  ) => Effect.Effect<Summary, E | StoreError.StoreUnavailable | StoreNotEmpty | InvalidExport>
}>() {}
