/**
 * The in-memory store: the log, the inline contact projection and the projects, in one state.
 * For embedding, tests and benchmarks; nothing survives the process.
 */
import * as Backup from "@tracklog/core/Backup"
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as Contacts from "@tracklog/core/Contacts"
import * as EventStore from "@tracklog/core/EventStore"
import * as Projects from "@tracklog/core/Projects"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TextLog from "./internal/textLog.js"

interface State {
  /** streamId → the log positions of its events, in version order. */
  readonly streams: Map<string, Array<number>>
  /** Every event in log order (position = index + 1), each as the JSON text of a `Stored`. */
  readonly log: TextLog.TextLog
  readonly contacts: Map<string, Contact.Contact>
  /** `projectId \0 email` → contact id: the one-contact-per-email index. */
  readonly byEmail: Map<string, string>
  /** projectId → contact ids, sorted, for cursor pagination. */
  readonly byProject: Map<string, Array<string>>
  readonly grants: Map<string, Projects.Grant>
  readonly projects: Set<string>
  /** projectId → when it was created, in creation order. */
  readonly projectCreated: Map<string, Date>
  transactions: number
}

const emailKey = (projectId: string, email: string) => `${projectId}\u0000${email}`

// The log keeps each event as JSON text in buffers outside the heap, not as the ~7 objects it
// decodes to, which the garbage collector would copy and mark again and again as the log grows
// (docs/decisions/0009-memory-log-as-text.md). Events round-trip through JSON as they do in
// Postgres; the projection keeps the contact object the caller folded.
interface Stored {
  readonly id: string
  readonly streamId: string
  readonly projectId: string
  readonly version: number
  readonly transactionId: number
  readonly event: ContactEvent.Encoded
}

const encodeRecord = (stored: Omit<Stored, "event"> & { readonly event: ContactEvent.ContactEvent }): string =>
  JSON.stringify({
    id: stored.id,
    streamId: stored.streamId,
    projectId: stored.projectId,
    version: stored.version,
    transactionId: stored.transactionId,
    event: ContactEvent.encode(stored.event)
  } satisfies Stored)

const recordedAt = (log: TextLog.TextLog, position: number): EventStore.RecordedEvent => {
  const stored = JSON.parse(log.get(position - 1)) as Stored
  return {
    id: stored.id,
    streamId: stored.streamId,
    projectId: stored.projectId,
    version: stored.version,
    transactionId: BigInt(stored.transactionId),
    position: BigInt(position),
    event: ContactEvent.decode(stored.event)
  }
}

// Sorted insert: ids are time-ordered, so this is an append in the common case.
const insertSorted = (ids: Array<string>, id: string) => {
  let lo = 0
  let hi = ids.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ids[mid]! < id) lo = mid + 1
    else hi = mid
  }
  ids.splice(lo, 0, id)
}

const firstAbove = (ids: ReadonlyArray<string>, cursor: string) => {
  let lo = 0
  let hi = ids.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ids[mid]! <= cursor) lo = mid + 1
    else hi = mid
  }
  return lo
}

// Each operation is one synchronous step: no other fiber runs between the version check and the
// write, which is what makes check-and-append atomic here.
const appendTo = (state: State, input: EventStore.Append): EventStore.ConcurrencyConflict | undefined => {
  const stream = state.streams.get(input.streamId)
  const version = stream?.length ?? 0
  if (version !== input.expectedVersion) {
    return new EventStore.ConcurrencyConflict({
      streamId: input.streamId,
      expectedVersion: input.expectedVersion,
      reason: "version"
    })
  }
  const contact = input.contact
  // A stream claims its email when it starts; events never change a contact's email.
  const claim = stream === undefined ? emailKey(contact.projectId, contact.email) : undefined
  if (claim !== undefined && state.byEmail.has(claim)) {
    return new EventStore.ConcurrencyConflict({
      streamId: input.streamId,
      expectedVersion: input.expectedVersion,
      reason: "email"
    })
  }
  // Every text is made before any is written: an event that cannot be encoded (a BigInt in its
  // data, an invalid date) fails the append with nothing written.
  const transactionId = state.transactions + 1
  const texts = input.events.map(({ event, id }, i) =>
    encodeRecord({ id, streamId: input.streamId, projectId: contact.projectId, version: input.expectedVersion + i + 1, transactionId, event })
  )
  state.transactions = transactionId
  const positions = stream ?? []
  for (const text of texts) {
    state.log.append(text)
    positions.push(state.log.size())
  }
  if (stream === undefined) state.streams.set(input.streamId, positions)
  if (claim !== undefined) {
    state.byEmail.set(claim, contact.id)
    const ids = state.byProject.get(contact.projectId)
    if (ids === undefined) state.byProject.set(contact.projectId, [contact.id])
    else insertSorted(ids, contact.id)
  }
  state.contacts.set(contact.id, contact)
  return undefined
}

/** Builds both ports and `Projects` over one fresh in-memory state. */
export const make = Effect.sync(() => {
  const state: State = {
    streams: new Map(),
    log: TextLog.make(),
    contacts: new Map(),
    byEmail: new Map(),
    byProject: new Map(),
    grants: new Map(),
    projects: new Set(),
    projectCreated: new Map(),
    transactions: 0
  }
  const read = <A>(f: (state: State) => A) => Effect.sync(() => f(state))

  const eventStore = EventStore.EventStore.of({
    append: (input) =>
      Effect.suspend(() => {
        const conflict = appendTo(state, input)
        return conflict === undefined ? Effect.void : Effect.fail(conflict)
      }),
    readStream: (streamId) =>
      read((state) => (state.streams.get(streamId) ?? []).map((position) => recordedAt(state.log, position))),
    readAll: (after, limit) =>
      read((state) => {
        // Transactions here commit in id order, so the position alone orders the log.
        const from = Math.max(0, Number(after.position))
        const events: Array<EventStore.RecordedEvent> = []
        for (let p = from + 1; p <= Math.min(from + limit, state.log.size()); p++) events.push(recordedAt(state.log, p))
        const last = events[events.length - 1]
        return { events, checkpoint: last === undefined ? after : last }
      })
  })

  const contacts = Contacts.Contacts.of({
    findById: (projectId, contactId) =>
      read((state) => Option.filter(Option.fromNullable(state.contacts.get(contactId)), (c) => c.projectId === projectId)),
    findByEmail: (projectId, email) =>
      read((state) => Option.map(Option.fromNullable(state.byEmail.get(emailKey(projectId, email))), (id) => state.contacts.get(id)!)),
    list: (projectId, request) =>
      read((state) => {
        const ids = state.byProject.get(projectId) ?? []
        const from = request.cursor === undefined ? 0 : firstAbove(ids, request.cursor)
        const rows = ids.slice(from, from + request.limit + 1).map((id) => state.contacts.get(id)!)
        return Contacts.page(rows, request.limit, (c) => c.id)
      }),
    timeline: (projectId, contactId, request) =>
      Effect.flatMap(
        read((state) => {
          const contact = state.contacts.get(contactId)
          if (contact === undefined || contact.projectId !== projectId) return undefined
          const positions = state.streams.get(contactId) ?? []
          const before = request.cursor === undefined ? Infinity : Number(request.cursor)
          const rows: Array<EventStore.RecordedEvent> = []
          // Versions are 1, 2, 3… at indexes 0, 1, 2…: the ones below the cursor are the first
          // ⌈cursor − 1⌉, so nothing after it is decoded.
          for (let i = Math.min(positions.length, Math.ceil(before - 1)) - 1; i >= 0 && rows.length <= request.limit; i--) {
            const recorded = recordedAt(state.log, positions[i]!)
            if (ContactEvent.visibleName(recorded.event) !== undefined) rows.push(recorded)
          }
          return Contacts.page(rows, request.limit, (r) => String(r.version))
        }),
        (page) =>
          page === undefined
            ? Effect.fail(new Contacts.ContactNotFound({ contactId }))
            : Effect.succeed({ ...page, data: page.data.map(Contacts.toTimelineEvent) })
      )
  })

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
        if (!state.projects.has(keys.projectId)) return Effect.fail(new Projects.ProjectNotFound({ projectId: keys.projectId }))
        if (state.grants.has(keys.publicKeyHash) || state.grants.has(keys.secretKeyHash) || keys.publicKeyHash === keys.secretKeyHash) {
          return Effect.fail(new Projects.ProjectKeysConflict({ message: "A new key of the rotation is already in use" }))
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

  const backup = Backup.Backup.of({
    export: Stream.suspend(() =>
      Stream.fromIterable(exportItems(state))
    ),
    import: (items) =>
      Effect.flatMap(Stream.runCollect(items), (chunk) =>
        Effect.suspend((): Effect.Effect<Backup.Summary, Backup.StoreNotEmpty | Backup.InvalidExport> => {
          if (state.projects.size > 0 || state.log.size() > 0) {
            return Effect.fail(new Backup.StoreNotEmpty({ message: "The store already holds projects or events; import needs an empty store" }))
          }
          return Either.match(importInto(state, chunk), { onLeft: Effect.fail, onRight: Effect.succeed })
        }))
  })

  return { eventStore, contacts, projects, backup }
})

function* exportItems(state: State): Generator<Backup.Item> {
  yield { type: "tracklog-export", version: 1, exportedAt: new Date().toISOString() }
  for (const id of state.projects) {
    const createdAt = state.projectCreated.get(id)
    yield createdAt === undefined ? { type: "project", id } : { type: "project", id, createdAt: createdAt.toISOString() }
  }
  for (const [hash, grant] of state.grants) yield { type: "key", hash, projectId: grant.projectId, kind: grant.kind }
  for (let p = 1; p <= state.log.size(); p++) {
    const recorded = recordedAt(state.log, p)
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
const importInto = (state: State, items: Iterable<Backup.Item>): Either.Either<Backup.Summary, Backup.InvalidExport> => {
  const invalid = (message: string) => Either.left(new Backup.InvalidExport({ message }))
  const projects = new Map<string, Date | undefined>()
  const grants = new Map<string, Projects.Grant>()
  const streams = new Map<string, { version: number; state: Contact.State }>()
  const texts: Array<{ readonly streamId: string; readonly text: string }> = []
  for (const item of items) {
    switch (item.type) {
      case "tracklog-export":
        break
      case "project":
        projects.set(item.id, item.createdAt === undefined ? undefined : new Date(item.createdAt))
        break
      case "key":
        if (!projects.has(item.projectId)) return invalid(`key of unknown project ${item.projectId}`)
        grants.set(item.hash, { projectId: item.projectId, kind: item.kind })
        break
      case "row":
        return invalid(`the memory store keeps no table ${item.table}`)
      case "event": {
        const decoded = Backup.eventOf(item)
        if (Either.isLeft(decoded)) return Either.left(decoded.left)
        const stream = streams.get(item.streamId) ?? { version: 0, state: Contact.initialState }
        if (item.version !== stream.version + 1) return invalid(`event ${item.id}: version ${item.version} after ${stream.version}`)
        stream.version = item.version
        stream.state = Contact.evolve(stream.state, decoded.right)
        streams.set(item.streamId, stream)
        texts.push({
          streamId: item.streamId,
          text: encodeRecord({
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
    const key = emailKey(contact.projectId, contact.email)
    if (emails.has(key)) return invalid(`two contacts for one email in project ${contact.projectId}`)
    emails.add(key)
  }
  for (const [id, createdAt] of projects) {
    state.projects.add(id)
    if (createdAt !== undefined) state.projectCreated.set(id, createdAt)
  }
  for (const [hash, grant] of grants) state.grants.set(hash, grant)
  for (const { streamId, text } of texts) {
    state.log.append(text)
    const positions = state.streams.get(streamId)
    if (positions === undefined) state.streams.set(streamId, [state.log.size()])
    else positions.push(state.log.size())
  }
  state.transactions = texts.length
  let contacts = 0
  for (const { state: contact } of streams.values()) {
    if (contact === null) continue
    contacts++
    state.contacts.set(contact.id, contact)
    state.byEmail.set(emailKey(contact.projectId, contact.email), contact.id)
    const ids = state.byProject.get(contact.projectId)
    if (ids === undefined) state.byProject.set(contact.projectId, [contact.id])
    else insertSorted(ids, contact.id)
  }
  return Either.right({ projects: projects.size, keys: grants.size, events: texts.length, contacts, rows: 0 })
}

/** The three ports as one context. */
export const context = (ports: {
  readonly eventStore: EventStore.EventStore["Type"]
  readonly contacts: Contacts.Contacts["Type"]
  readonly projects: Projects.Projects["Type"]
}) =>
  Context.make(EventStore.EventStore, ports.eventStore).pipe(
    Context.add(Contacts.Contacts, ports.contacts),
    Context.add(Projects.Projects, ports.projects)
  )

/** `EventStore`, `Contacts` and `Projects` over one shared in-memory state. */
export const layer: Layer.Layer<EventStore.EventStore | Contacts.Contacts | Projects.Projects | Backup.Backup> = Layer.effectContext(
  Effect.map(make, (ports) => context(ports).pipe(Context.add(Backup.Backup, ports.backup)))
)
