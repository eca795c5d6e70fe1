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
import * as ContactReads from "./internal/contactReads.js"
import * as LogReads from "./internal/logReads.js"
import * as LogRecord from "./internal/logRecord.js"
import * as LogSource from "./internal/logSource.js"
import * as ProcessorStore from "./internal/processorStore.js"
import * as SortedIds from "./internal/sortedIds.js"
import * as State from "./internal/state.js"

// Each operation is one synchronous step: no other fiber runs between the version check and the
// write, which is what makes check-and-append atomic here. `emailHash` is the hash of a starting
// stream's email when the project's suppression list has entries (made before the step: Web
// Crypto is asynchronous).
const appendTo = (
  state: State.State,
  input: EventStore.Append,
  emailHash: string | undefined
): EventStore.ConcurrencyConflict | Suppressions.EmailSuppressed | undefined => {
  const stream = state.streams.get(input.streamId)
  const version = stream?.length ?? 0
  const conflict = (reason: "version" | "email", holder?: Contact.Contact) =>
    new EventStore.ConcurrencyConflict({
      streamId: input.streamId,
      expectedVersion: input.expectedVersion,
      reason,
      holder
    })
  if (version !== input.expectedVersion) return conflict("version")
  const projection = input.projection
  if (projection._tag === "Erase") return eraseFrom(state, input, projection, emailHash)
  const contact = projection.contact
  // A stream claims its email when it starts, and moves its claim when its email changes.
  const previous = stream === undefined ? undefined : state.contacts.get(input.streamId)
  const claim = previous === undefined || previous.email !== contact.email
    ? Contact.emailKey(contact.projectId, contact.email)
    : undefined
  const holder = claim === undefined ? undefined : state.byEmail.get(claim)
  if (holder !== undefined && holder !== input.streamId) {
    return conflict("email", stream === undefined ? state.contacts.get(holder) : undefined)
  }
  // The suppression list stops a contact's creation only (behaviour §7, §10).
  if (stream === undefined && emailHash !== undefined && state.suppressed.get(contact.projectId)?.has(emailHash)) {
    return new Suppressions.EmailSuppressed()
  }
  const texts = encodeAll(state, input, contact.projectId)
  writeAll(state, input, contact.projectId, texts)
  if (claim !== undefined) {
    if (previous !== undefined) state.byEmail.delete(Contact.emailKey(previous.projectId, previous.email))
    state.byEmail.set(claim, contact.id)
    if (previous === undefined) {
      const ids = state.byProject.get(contact.projectId)
      if (ids === undefined) state.byProject.set(contact.projectId, [contact.id])
      else SortedIds.insert(ids, contact.id)
    }
  }
  state.contacts.set(contact.id, contact)
  return undefined
}

// Every text is made before any is written: an event that cannot be encoded (a BigInt in its
// data, an invalid date) fails the append with nothing written.
const encodeAll = (state: State.State, input: EventStore.Append, projectId: string): ReadonlyArray<string> => {
  const transactionId = state.transactions + 1
  return input.events.map(({ event, id }, i) =>
    LogRecord.encode({
      id,
      streamId: input.streamId,
      projectId,
      version: input.expectedVersion + i + 1,
      transactionId,
      event
    })
  )
}

const writeAll = (state: State.State, input: EventStore.Append, projectId: string, texts: ReadonlyArray<string>) => {
  state.transactions++
  State.write(state, input.streamId, projectId, texts)
}

// Several streams and an idempotency record in one synchronous step: every check first, then
// every event encoded (one that cannot be fails the whole with nothing written), then the writes.
const appendAllTo = (
  state: State.State,
  input: EventStore.AppendAll,
  hashes: ReadonlyMap<string, string>
): EventStore.ConcurrencyConflict | Suppressions.EmailSuppressed | undefined => {
  const record = input.idempotency
  if (record !== undefined && state.idempotency.has(Contact.emailKey(record.projectId, record.key))) {
    return new EventStore.ConcurrencyConflict({
      streamId: input.appends[0]?.streamId ?? "",
      expectedVersion: input.appends[0]?.expectedVersion ?? 0,
      reason: "idempotency"
    })
  }
  const claims = new Set<string>()
  for (const append of input.appends) {
    const version = state.streams.get(append.streamId)?.length ?? 0
    const conflict = (reason: "version" | "email") =>
      new EventStore.ConcurrencyConflict({ streamId: append.streamId, expectedVersion: append.expectedVersion, reason })
    if (version !== append.expectedVersion) return conflict("version")
    if (append.projection._tag !== "Upsert") throw new Error("StoreMemory.appendAll: only contact upserts go together")
    const contact = append.projection.contact
    const previous = version === 0 ? undefined : state.contacts.get(append.streamId)
    if (previous === undefined || previous.email !== contact.email) {
      const claim = Contact.emailKey(contact.projectId, contact.email)
      const holder = state.byEmail.get(claim)
      if ((holder !== undefined && holder !== append.streamId) || claims.has(claim)) return conflict("email")
      claims.add(claim)
    }
    const hash = hashes.get(append.streamId)
    if (version === 0 && hash !== undefined && state.suppressed.get(contact.projectId)?.has(hash)) {
      return new Suppressions.EmailSuppressed()
    }
  }
  // One append encodes every event before it writes any (see `appendTo`); several are checked here.
  if (input.appends.length > 1) {
    for (const append of input.appends)
      for (const { event } of append.events)
        JSON.stringify(ContactEvent.encode(event))
  }
  for (const append of input.appends) appendTo(state, append, undefined)
  if (record !== undefined) state.idempotency.set(Contact.emailKey(record.projectId, record.key), record)
  return undefined
}

// Erasure (behaviour §7) in one synchronous step, like an append: every event of the stream is
// overwritten in the log's buffers with a tombstone, the projection and its indexes forget the
// contact, and the marker takes the stream's next version.
const eraseFrom = (
  state: State.State,
  input: EventStore.Append,
  projection: Extract<EventStore.Projection, { readonly _tag: "Erase" }>,
  emailHash: string | undefined
): EventStore.ConcurrencyConflict | undefined => {
  const stream = state.streams.get(input.streamId)
  const contact = state.contacts.get(input.streamId)
  if (stream === undefined || contact === undefined || contact.projectId !== projection.projectId) {
    return new EventStore.ConcurrencyConflict({
      streamId: input.streamId,
      expectedVersion: input.expectedVersion,
      reason: "version"
    })
  }
  const texts = encodeAll(state, input, contact.projectId)
  for (const position of stream) {
    const stored = LogRecord.at(state.log, position)
    if (!LogRecord.isErased(stored)) state.log.overwrite(position - 1, LogRecord.tombstone(stored.transactionId))
  }
  writeAll(state, input, contact.projectId, texts)
  State.removeContact(state, contact)
  if (projection.suppress && emailHash !== undefined) {
    const hashes = state.suppressed.get(contact.projectId)
    if (hashes === undefined) state.suppressed.set(contact.projectId, new Set([emailHash]))
    else hashes.add(emailHash)
  }
  // The idempotency records of the contact's tracks (behaviour §6) go in this same step. One that
  // names other contacts too (a batch's) stays without this one: a retry of that batch must not
  // track them twice (docs/decisions/0029-erasure-keeps-shared-batch-records.md).
  for (const [at, record] of state.idempotency) {
    if (record.projectId !== contact.projectId || !record.contactIds.includes(contact.id)) continue
    const others = record.contactIds.filter((id) => id !== contact.id)
    if (others.length === 0) state.idempotency.delete(at)
    else state.idempotency.set(at, { ...record, contactIds: others })
  }
  return undefined
}

const noHash: Effect.Effect<string | undefined> = Effect.succeed(undefined)

/** Builds both ports and `Projects` over one fresh in-memory state. */
export const make = Effect.sync(() => {
  const state = State.make()
  const signal = LogStream.makeSignal()
  const read = <A>(f: (state: State.State) => A) => Effect.sync(() => f(state))

  const eventStore = EventStore.EventStore.of({
    append: (input) =>
      // The hash a step needs is made first (Web Crypto is asynchronous), only when there is a
      // list to look in or an email to put on it; the step checks the rest itself.
      Effect.flatMap(hashFor(input), (
        emailHash
      ): Effect.Effect<void, EventStore.ConcurrencyConflict | Projects.GrantRevoked | Suppressions.EmailSuppressed> => {
        // The key the append is made under still grants its project (behaviour §9).
        const projectId = EventStore.projectOf(input.projection)
        if (input.grantedBy !== undefined && state.grants.get(input.grantedBy)?.projectId !== projectId) {
          return Effect.fail(new Projects.GrantRevoked())
        }
        const refused = appendTo(state, input, emailHash)
        if (refused !== undefined) return Effect.fail(refused)
        // Readers of this process wake at once (docs/decisions/0010-log-wake-up.md).
        signal.notify()
        return Effect.void
      }),
    appendAll: (input) =>
      Effect.flatMap(
        Effect.forEach(input.appends, (append) =>
          Effect.map(hashFor(append), (hash) => [append.streamId, hash] as const)),
        (hashed) => {
          const hashes = new Map<string, string>()
          for (const [streamId, hash] of hashed)
            if (hash !== undefined)
              hashes.set(streamId, hash)
          const refused = appendAllTo(state, input, hashes)
          if (refused !== undefined)
            return Effect.fail(refused)
          signal.notify()
          return Effect.void
        }
      ),
    findIdempotency: (projectId, key, notBefore) =>
      read((state) => {
        const at = Contact.emailKey(projectId, key)
        const record = state.idempotency.get(at)
        if (record === undefined) return Option.none()
        if (record.createdAt >= notBefore) return Option.some(record)
        state.idempotency.delete(at)
        return Option.none()
      }),
    expireIdempotency: (before) =>
      read((state) => {
        let removed = 0
        for (const [at, record] of state.idempotency) {
          if (record.createdAt < before) {
            state.idempotency.delete(at)
            removed++
          }
        }
        return removed
      }),
    ...LogReads.make(state)
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

  // A project gets its secret when created; one known only by id (tests, embedders that skip
  // `Projects`) gets it on first use.
  const secretOf = (projectId: string) => {
    let secret = state.secrets.get(projectId)
    if (secret === undefined) {
      secret = Suppressions.newSecret()
      state.secrets.set(projectId, secret)
    }
    return secret
  }
  const hashOf = (projectId: string, email: string) =>
    Effect.flatMap(Effect.sync(() => secretOf(projectId)), (secret) => Suppressions.emailHash(secret, email))

  // The email hash an append needs: a starting stream's, when its project's list has entries to
  // find; an erased contact's, when it is to be suppressed.
  const hashFor = (input: EventStore.Append): Effect.Effect<string | undefined> =>
    Effect.suspend(() => {
      const projection = input.projection
      if (projection._tag === "Erase") {
        const contact = state.contacts.get(input.streamId)
        return projection.suppress && contact !== undefined ? hashOf(contact.projectId, contact.email) : noHash
      }
      const hashes = state.suppressed.get(projection.contact.projectId)
      return input.expectedVersion === 0 && hashes !== undefined && hashes.size > 0
        ? hashOf(projection.contact.projectId, projection.contact.email)
        : noHash
    })

  const suppressions = Suppressions.Suppressions.of({
    // A project with an empty list answers without hashing: Web Crypto's HMAC costs ~100 µs.
    isSuppressed: (projectId, email) =>
      Effect.suspend(() => {
        const hashes = state.suppressed.get(projectId)
        return hashes === undefined || hashes.size === 0
          ? Effect.succeed(false)
          : Effect.map(hashOf(projectId, email), (hash) => hashes.has(hash))
      }),
    suppressedAmong: (projectId, emails) =>
      Effect.suspend(() => {
        const hashes = state.suppressed.get(projectId)
        if (hashes === undefined || hashes.size === 0) return Effect.succeed(new Set<string>())
        const distinct = [...new Set(emails)]
        return Effect.map(
          Effect.forEach(distinct, (email) => hashOf(projectId, email)),
          (hashed) => new Set(distinct.filter((_, i) => hashes.has(hashed[i]!)))
        )
      }),
    lift: (projectId, email) =>
      Effect.flatMap(
        hashOf(projectId, email),
        (hash) =>
          state.suppressed.get(projectId)?.delete(hash) === true
            ? Effect.void
            : Effect.fail(new Suppressions.NotSuppressed())
      )
  })

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
