/**
 * The in-memory store: the log, the inline contact projection and the projects, in one state.
 * For embedding, tests and benchmarks; nothing survives the process.
 */
import * as Backup from "@tracklog/core/Backup"
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as EventStore from "@tracklog/core/EventStore"
import * as Projects from "@tracklog/core/Projects"
import * as Suppressions from "@tracklog/core/Suppressions"
import * as LogStream from "@tracklog/core/LogStream"
import * as Processor from "@tracklog/core/Processor"
import * as Context from "effect/Context"
import * as Store from "@tracklog/core/Store"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Append from "./internal/append.js"
import * as ContactReads from "./internal/contactReads.js"
import * as IdempotencyRecords from "./internal/idempotencyRecords.js"
import * as LogReads from "./internal/logReads.js"
import * as LogRecord from "./internal/logRecord.js"
import * as LogSource from "./internal/logSource.js"
import * as ProcessorStore from "./internal/processorStore.js"
import * as State from "./internal/state.js"
import * as SuppressionList from "./internal/suppressionList.js"

/** Builds both ports and `Projects` over one fresh in-memory state. */
export const make = Effect.sync(() => {
  const state = State.make()
  const signal = LogStream.makeSignal()
  const read = <A>(f: (state: State.State) => A) => Effect.sync(() => f(state))

  const appends = Append.make(state, signal)
  const records = IdempotencyRecords.make(state)
  const reads = LogReads.make(state)
  const eventStore = EventStore.EventStore.of({
    append: appends.append,
    appendAll: appends.appendAll,
    findIdempotency: records.findIdempotency,
    expireIdempotency: records.expireIdempotency,
    readStream: reads.readStream,
    readAll: reads.readAll
  })

  const logSource = LogSource.make(state, signal)
  const processors = ProcessorStore.make(state)
  const contacts = ContactReads.make(state)

  const projects = Projects.Projects.of({
    findByKeyHash: (hash) => read((state) => Option.fromNullable(state.grants.get(hash))),
    ensure: (keys) =>
      Effect.flatMap(
        read((state) => {
          const outcome = Projects.resolveEnsure({
            public: state.grants.get(keys.publicKeyHash),
            secret: state.grants.get(keys.secretKeyHash)
          })
          if (outcome._tag !== "Create") return outcome
          state.projects.add(keys.projectId)
          state.secrets.set(keys.projectId, Suppressions.newSecret())
          state.projectCreated.set(keys.projectId, new Date())
          state.grants.set(keys.publicKeyHash, { projectId: keys.projectId, kind: "public" })
          state.grants.set(keys.secretKeyHash, { projectId: keys.projectId, kind: "secret" })
          return { _tag: "Exists" as const, projectId: keys.projectId }
        }),
        (outcome) => (outcome._tag === "Exists" ? Effect.succeed(outcome.projectId) : Effect.fail(outcome))
      ),
    count: read((state) => state.projects.size),
    list: read((state) =>
      [...state.projects].map((projectId) => {
        let publicKeys = 0
        let secretKeys = 0
        for (const grant of state.grants.values()) {
          if (grant.projectId !== projectId) continue
          if (grant.kind === "public") publicKeys++
          else secretKeys++
        }
        return { projectId, createdAt: state.projectCreated.get(projectId), publicKeys, secretKeys }
      })
    ),
    rotate: (keys) =>
      Effect.suspend((): Effect.Effect<void, Projects.ProjectNotFound | Projects.ProjectKeysConflict> => {
        if (!state.projects.has(keys.projectId))
          return Effect.fail(new Projects.ProjectNotFound({ projectId: keys.projectId }))
        if (
          state.grants.has(keys.publicKeyHash) || state.grants.has(keys.secretKeyHash) ||
          keys.publicKeyHash === keys.secretKeyHash
        ) {
          return Effect.fail(
            new Projects.ProjectKeysConflict({ message: "A new key of the rotation is already in use" })
          )
        }
        for (const [hash, grant] of state.grants) if (grant.projectId === keys.projectId) state.grants.delete(hash)
        state.grants.set(keys.publicKeyHash, { projectId: keys.projectId, kind: "public" })
        state.grants.set(keys.secretKeyHash, { projectId: keys.projectId, kind: "secret" })
        return Effect.void
      }),
    revoke: (hash) =>
      Effect.suspend(() => {
        const grant = state.grants.get(hash)
        if (grant === undefined) return Effect.fail(new Projects.KeyNotFound())
        state.grants.delete(hash)
        return Effect.succeed(grant)
      })
  })

  const suppressions = SuppressionList.make(state)

  const backup = Backup.Backup.of({
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

  return {
    backup,
    eventStore,
    contacts,
    projects,
    suppressions,
    /** The raw bytes the log holds, for checking what the process still keeps after an erasure. */
    logBuffers: () => state.log.buffers(),
    logSource,
    processors
  }
})

function* exportItems(state: State.State): Generator<Backup.Item> {
  yield { type: "tracklog-export", version: 1, exportedAt: new Date().toISOString() }
  // A project known only by id (see `secretOf`) that has suppressions is exported too: its
  // secret must travel with its hashes.
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

// Checks everything before writing anything: an import that fails leaves the store empty.
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
  const grants = new Map<string, Projects.Grant>()
  const streams = new Map<string, { version: number; state: Contact.State }>()
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
        if (item.table !== Backup.SuppressionsTable) return invalid(`the memory store keeps no table ${item.table}`)
        const row = Backup.checkSuppression(item.row, carried)
        if (Either.isLeft(row)) return Either.left(row.left)
        suppressed.push(row.right)
        break
      }
      case "event": {
        const decoded = Backup.eventOf(item)
        if (Either.isLeft(decoded)) return Either.left(decoded.left)
        const stream = streams.get(item.streamId) ?? { version: 0, state: Contact.initialState }
        if (!Backup.follows(stream.version, item.version, decoded.right))
          return invalid(`event ${item.id}: version ${item.version} after ${stream.version}`)
        stream.version = item.version
        stream.state = Contact.evolve(stream.state, decoded.right)
        streams.set(item.streamId, stream)
        texts.push({
          projectId: item.projectId,
          streamId: item.streamId,
          text: LogRecord.encode({
            id: item.id,
            streamId: item.streamId,
            projectId: item.projectId,
            version: item.version,
            transactionId: texts.length + 1,
            event: decoded.right
          })
        })
      }
    }
  }
  const emails = new Set<string>()
  for (const { state: contact } of streams.values()) {
    if (contact === null) continue
    const key = Contact.emailKey(contact.projectId, contact.email)
    if (emails.has(key)) return invalid(`two contacts for one email in project ${contact.projectId}`)
    emails.add(key)
  }
  for (const [id, createdAt] of projects) {
    state.projects.add(id)
    if (createdAt !== undefined) state.projectCreated.set(id, createdAt)
    // The exported secret, so the exported hashes still match; a project without one gets its own.
    state.secrets.set(id, secrets.get(id) ?? Suppressions.newSecret())
  }
  for (const { emailHash, projectId } of suppressed) {
    const hashes = state.suppressed.get(projectId)
    if (hashes === undefined) state.suppressed.set(projectId, new Set([emailHash]))
    else hashes.add(emailHash)
  }
  for (const [hash, grant] of grants) state.grants.set(hash, grant)
  for (const { projectId, streamId, text } of texts) State.write(state, streamId, projectId, [text])
  state.transactions = texts.length
  let contacts = 0
  for (const { state: contact } of streams.values()) {
    if (contact === null) continue
    contacts++
    State.addContact(state, contact)
  }
  return Either.right({
    projects: projects.size,
    keys: grants.size,
    events: texts.length,
    contacts,
    rows: suppressed.length
  })
}

/** Every port of the store over one shared in-memory state. */
export const layer: Layer.Layer<
  Store.Ports | LogStream.LogSource | Processor.ProcessorStore | Backup.Backup
> = Layer.effectContext(
  Effect.map(make, (ports) =>
    Store.context(ports).pipe(
      Context.add(LogStream.LogSource, ports.logSource),
      Context.add(Processor.ProcessorStore, ports.processors),
      Context.add(Backup.Backup, ports.backup)
    ))
)
