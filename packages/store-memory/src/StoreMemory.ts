/**
 * The in-memory store: the log, the inline contact projection and the projects, in one state.
 * For embedding, tests and benchmarks; nothing survives the process.
 */
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as Contacts from "@tracklog/core/Contacts"
import * as EventStore from "@tracklog/core/EventStore"
import * as Projects from "@tracklog/core/Projects"
import * as Store from "@tracklog/core/Store"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
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
  transactions: number
}

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
  const claim = stream === undefined ? Contact.emailKey(contact.projectId, contact.email) : undefined
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
      read((state) => Option.map(Option.fromNullable(state.byEmail.get(Contact.emailKey(projectId, email))), (id) => state.contacts.get(id)!)),
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
          state.grants.set(keys.publicKeyHash, { projectId: keys.projectId, kind: "public" })
          state.grants.set(keys.secretKeyHash, { projectId: keys.projectId, kind: "secret" })
          return { _tag: "Exists" as const, projectId: keys.projectId }
        }),
        (outcome) => (outcome._tag === "Exists" ? Effect.succeed(outcome.projectId) : Effect.fail(outcome))
      ),
    count: read((state) => state.projects.size)
  })

  return { eventStore, contacts, projects }
})

/** `EventStore`, `Contacts` and `Projects` over one shared in-memory state. */
export const layer: Layer.Layer<Store.Ports> = Layer.effectContext(Effect.map(make, Store.context))
