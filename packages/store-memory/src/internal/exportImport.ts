/**
 * Export and import of the whole memory store (behaviour §9): the `Backup` port. The items are
 * those of every store: projects (with their suppression secret), key hashes, the suppression
 * list as rows of its table, and the log; an import rebuilds the contact projection from the log.
 */
import * as Backup from "@tracklog/core/Backup"
import type * as Segment from "@tracklog/core/Segment"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import type * as Projects from "@tracklog/core/Projects"
import * as Suppressions from "@tracklog/core/Suppressions"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as LogRecord from "./logRecord.js"
import * as State from "./state.js"
import * as SuppressionList from "./suppressionList.js"

// Every item of the store, in the order `Backup.Backup` gives: header, projects, keys, rows, the log.
function* exportItems(state: State.State): Generator<Backup.Item> {
  yield { type: "tracklog-export", version: 1, exportedAt: new Date().toISOString() }
  // A project known only by id (see `SuppressionList.secretOf`) that has suppressions is exported
  // too: its secret must travel with its hashes.
  const projects = new Set(state.projects)
  for (const [id, hashes] of state.suppressed) if (hashes.size > 0) projects.add(id)
  for (const id of projects) {
    const createdAt = state.projectCreated.get(id)
    const secret = state.secrets.get(id)
    yield {
      type: "project",
      id,
      ...(createdAt === undefined ? {} : { createdAt: createdAt.toISOString() }),
      ...(secret === undefined ? {} : { extra: { [Backup.SecretField]: secret } })
    }
  }
  for (const [hash, grant] of state.grants) yield { type: "key", hash, projectId: grant.projectId, kind: grant.kind }
  for (const [projectId, hashes] of state.suppressed) {
    for (const emailHash of hashes) {
      yield { type: "row", table: Backup.SuppressionsTable, row: { project_id: projectId, email_hash: emailHash } }
    }
  }
  for (const segment of state.segments.values()) {
    yield { type: "row", table: Backup.SegmentsTable, row: Backup.segmentRow(segment) }
  }
  for (let p = 1; p <= state.log.size(); p++) {
    const stored = LogRecord.at(state.log, p)
    // An erased event left nothing to export; its stream's marker is exported like any event.
    if (LogRecord.isErased(stored)) continue
    const recorded = LogRecord.toRecorded(stored, p)
    yield {
      type: "event",
      id: recorded.id,
      streamId: recorded.streamId,
      projectId: recorded.projectId,
      version: recorded.version,
      position: String(recorded.position),
      event: ContactEvent.encode(recorded.event)
    }
  }
}

// Checks everything before writing anything: an import that fails leaves the store empty. The
// log's checks (each stream's versions, one contact per email) are core's `Backup.rebuild`, the
// same as the PostgreSQL store's, so both accept and refuse the same exports.
const importInto = (
  state: State.State,
  items: Iterable<Backup.Item>
): Either.Either<Backup.Summary, Backup.InvalidExport> => {
  const invalid = (message: string) => Either.left(new Backup.InvalidExport({ message }))
  const projects = new Map<string, Date | undefined>()
  const secrets = new Map<string, string>()
  // project id → whether its item carried a secret, for `Backup.checkSuppression`.
  const carried = new Map<string, boolean>()
  const suppressed: Array<{ readonly projectId: string; readonly emailHash: string }> = []
  const segments: Array<Segment.Segment> = []
  const grants = new Map<string, Projects.Grant>()
  const rebuilt = Backup.rebuild()
  const texts: Array<{ readonly projectId: string; readonly streamId: string; readonly text: string }> = []
  for (const item of items) {
    switch (item.type) {
      case "tracklog-export":
        break
      case "project": {
        projects.set(item.id, item.createdAt === undefined ? undefined : new Date(item.createdAt))
        const secret = Backup.secretOf(item)
        if (secret !== undefined) secrets.set(item.id, secret)
        carried.set(item.id, secret !== undefined)
        break
      }
      case "key":
        if (!projects.has(item.projectId)) return invalid(`key of unknown project ${item.projectId}`)
        grants.set(item.hash, { projectId: item.projectId, kind: item.kind })
        break
      case "row": {
        if (item.table === Backup.SegmentsTable) {
          const segment = Backup.checkSegment(item.row, projects)
          if (Either.isLeft(segment)) return Either.left(segment.left)
          segments.push(segment.right)
          break
        }
        if (item.table !== Backup.SuppressionsTable) return invalid(`the memory store keeps no table ${item.table}`)
        const row = Backup.checkSuppression(item.row, carried)
        if (Either.isLeft(row)) return Either.left(row.left)
        suppressed.push(row.right)
        break
      }
      case "event": {
        const event = rebuilt.add(item)
        if (Either.isLeft(event)) return Either.left(event.left)
        // Each event its own transaction, numbered in log order: the log is renumbered (behaviour §9).
        texts.push({
          projectId: item.projectId,
          streamId: item.streamId,
          text: LogRecord.encode({
            id: item.id,
            streamId: item.streamId,
            projectId: item.projectId,
            version: item.version,
            transactionId: texts.length + 1,
            event: event.right
          })
        })
      }
    }
  }
  const streams = rebuilt.finish()
  if (Either.isLeft(streams)) return Either.left(streams.left)
  for (const [id, createdAt] of projects) {
    state.projects.add(id)
    if (createdAt !== undefined) state.projectCreated.set(id, createdAt)
    // The exported secret, so the exported hashes still match; a project without one gets its own.
    state.secrets.set(id, secrets.get(id) ?? Suppressions.newSecret())
  }
  for (const { emailHash, projectId } of suppressed) SuppressionList.add(state, projectId, emailHash)
  for (const segment of segments) state.segments.set(segment.id, segment)
  for (const [hash, grant] of grants) state.grants.set(hash, grant)
  for (const { projectId, streamId, text } of texts) State.write(state, streamId, projectId, [text])
  state.transactions = texts.length
  let contacts = 0
  for (const { contact } of streams.right) {
    if (contact === null) continue
    contacts++
    State.addContact(state, contact)
  }
  return Either.right({
    projects: projects.size,
    keys: grants.size,
    events: texts.length,
    contacts,
    rows: suppressed.length + segments.length
  })
}

/** The `Backup` port of a memory store. */
export const make = (state: State.State): Backup.Backup["Type"] =>
  Backup.Backup.of({
    export: Stream.suspend(() => Stream.fromIterable(exportItems(state))),
    import: (items) =>
      Effect.flatMap(
        Stream.runCollect(items),
        (chunk) =>
          Effect.suspend((): Effect.Effect<Backup.Summary, Backup.StoreNotEmpty | Backup.InvalidExport> => {
            if (state.projects.size > 0 || state.log.size() > 0) {
              return Effect.fail(
                new Backup.StoreNotEmpty({
                  message: "The store already holds projects or events; import needs an empty store"
                })
              )
            }
            return Either.match(importInto(state, chunk), { onLeft: Effect.fail, onRight: Effect.succeed })
          })
      )
  })
