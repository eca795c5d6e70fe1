/**
 * Appends to the memory store's log (behaviour §4), with the projection change each carries: the
 * contact after its events and its email's claim (`Upsert`), or its erasure (`Erase`, behaviour
 * §7). The `append` and `appendAll` of the `EventStore` port.
 *
 * Each append is one synchronous step: no other fiber runs between its checks and its writes,
 * which is what makes check-and-append atomic here. Only what cannot be synchronous is done
 * before the step: an email's keyed hash (Web Crypto is asynchronous).
 */
import * as Contact from "@tracklog/core/Contact"
import * as EventStore from "@tracklog/core/EventStore"
import * as Projects from "@tracklog/core/Projects"
import * as Suppressions from "@tracklog/core/Suppressions"
import type * as LogStream from "@tracklog/core/LogStream"
import * as Effect from "effect/Effect"
import * as IdempotencyRecords from "./idempotencyRecords.js"
import * as LogRecord from "./logRecord.js"
import * as State from "./state.js"
import * as WebhookOutbox from "./webhookOutbox.js"
import * as SuppressionList from "./suppressionList.js"

type Refusal = EventStore.ConcurrencyConflict | Suppressions.EmailSuppressed

const conflict = (input: EventStore.Append, reason: "version" | "email", holder?: Contact.Contact) =>
  new EventStore.ConcurrencyConflict({
    streamId: input.streamId,
    expectedVersion: input.expectedVersion,
    reason,
    holder
  })

// An append's texts, as the next transaction. Every text is made before any is written: an
// event that cannot be encoded (a BigInt in its data, an invalid date) fails the append with
// nothing written.
const encode = (state: State.State, input: EventStore.Append, projectId: string): ReadonlyArray<string> => {
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

// Writes an upsert whose checks passed: its texts (the caller numbers their transaction), then
// the contact, with its email's claim when it claims one.
const writeUpsert = (
  state: State.State,
  input: EventStore.Append,
  contact: Contact.Contact,
  previous: Contact.Contact | undefined,
  claim: string | undefined,
  texts: ReadonlyArray<string>
) => {
  State.write(state, input.streamId, contact.projectId, texts)
  if (previous === undefined) {
    State.addContact(state, contact, claim)
    return
  }
  if (claim !== undefined) {
    state.byEmail.delete(Contact.emailKey(previous.projectId, previous.email))
    state.byEmail.set(claim, contact.id)
  }
  state.contacts.set(contact.id, contact)
}

// One append, in one step. `emailHash` is the hash `hashFor` made for it, if any.
const appendOne = (
  state: State.State,
  input: EventStore.Append,
  emailHash: string | undefined
): Refusal | undefined => {
  const stream = state.streams.get(input.streamId)
  if ((stream?.length ?? 0) !== input.expectedVersion) return conflict(input, "version")
  const projection = input.projection
  if (projection._tag === "Erase") return erase(state, input, projection, emailHash)
  const contact = projection.contact
  // A stream claims its email when it starts, and moves its claim when its email changes.
  const previous = stream === undefined ? undefined : state.contacts.get(input.streamId)
  const claim = previous === undefined || previous.email !== contact.email
    ? Contact.emailKey(contact.projectId, contact.email)
    : undefined
  if (claim !== undefined) {
    const holder = state.byEmail.get(claim)
    // A stream that starts gets the holder back, to go on with it without a read (decision 0026).
    if (holder !== undefined && holder !== input.streamId) {
      return conflict(input, "email", stream === undefined ? state.contacts.get(holder) : undefined)
    }
    // The suppression list stops a contact's creation only (behaviour §7, §10); an email that
    // has a contact was held above.
    if (
      stream === undefined && emailHash !== undefined && SuppressionList.includes(state, contact.projectId, emailHash)
    ) {
      return new Suppressions.EmailSuppressed()
    }
  }
  const texts = encode(state, input, contact.projectId)
  state.transactions++
  writeUpsert(state, input, contact, previous, claim, texts)
  return undefined
}

// Erasure (behaviour §7) in one step, like any append: every event of the stream is overwritten
// in the log's buffers with a tombstone, the projection forgets the contact, the email goes on the
// list when asked, the records of the contact's tracks are trimmed, and the marker takes the
// stream's next version.
const erase = (
  state: State.State,
  input: EventStore.Append,
  projection: Extract<EventStore.Projection, { readonly _tag: "Erase" }>,
  emailHash: string | undefined
): Refusal | undefined => {
  const stream = state.streams.get(input.streamId)
  const contact = state.contacts.get(input.streamId)
  if (stream === undefined || contact === undefined || contact.projectId !== projection.projectId) {
    return conflict(input, "version")
  }
  const texts = encode(state, input, contact.projectId)
  for (const position of stream) {
    const stored = LogRecord.at(state.log, position)
    if (!LogRecord.isErased(stored)) state.log.overwrite(position - 1, LogRecord.tombstone(stored.transactionId))
  }
  state.transactions++
  State.write(state, input.streamId, contact.projectId, texts)
  State.removeContact(state, contact)
  if (projection.suppress && emailHash !== undefined) SuppressionList.add(state, contact.projectId, emailHash)
  IdempotencyRecords.withoutContact(state, contact.projectId, contact.id)
  WebhookOutbox.eraseContact(state, contact.projectId, contact.id)
  return undefined
}

// An upsert of `appendAll` that passed its checks, with what its write needs.
interface Checked {
  readonly input: EventStore.Append
  readonly contact: Contact.Contact
  readonly previous: Contact.Contact | undefined
  readonly claim: string | undefined
}

// Several streams and an idempotency record in one step: every check first, then every event
// encoded (one that cannot be fails the whole, with nothing written), then the writes, as one
// transaction.
const appendMany = (
  state: State.State,
  input: EventStore.AppendAll,
  hashes: ReadonlyMap<string, string>
): Refusal | undefined => {
  const record = input.idempotency
  if (record !== undefined && IdempotencyRecords.isStored(state, record.projectId, record.key)) {
    return new EventStore.ConcurrencyConflict({
      streamId: input.appends[0]?.streamId ?? "",
      expectedVersion: input.appends[0]?.expectedVersion ?? 0,
      reason: "idempotency"
    })
  }
  const checked: Array<Checked> = []
  const claims = new Set<string>()
  for (const append of input.appends) {
    const version = state.streams.get(append.streamId)?.length ?? 0
    if (version !== append.expectedVersion) return conflict(append, "version")
    if (append.projection._tag !== "Upsert") throw new Error("StoreMemory.appendAll: only contact upserts go together")
    const contact = append.projection.contact
    const previous = version === 0 ? undefined : state.contacts.get(append.streamId)
    const claim = previous === undefined || previous.email !== contact.email
      ? Contact.emailKey(contact.projectId, contact.email)
      : undefined
    if (claim !== undefined) {
      // Two streams of the call claiming one email conflict as two calls would.
      const holder = state.byEmail.get(claim)
      if ((holder !== undefined && holder !== append.streamId) || claims.has(claim)) return conflict(append, "email")
      claims.add(claim)
      const hash = hashes.get(append.streamId)
      if (version === 0 && hash !== undefined && SuppressionList.includes(state, contact.projectId, hash)) {
        return new Suppressions.EmailSuppressed()
      }
    }
    checked.push({ input: append, contact, previous, claim })
  }
  if (checked.length > 0) {
    const texts = checked.map((c) => encode(state, c.input, c.contact.projectId))
    state.transactions++
    checked.forEach((c, i) => writeUpsert(state, c.input, c.contact, c.previous, c.claim, texts[i]!))
  }
  if (record !== undefined) IdempotencyRecords.put(state, record)
  return undefined
}

// The email hash an append's step needs, made before it: a starting stream's, when its project's
// list has entries to find it in; an erased contact's, when it is to be suppressed. Undefined
// when it needs none, which is the rule on the track path.
const hashFor = (state: State.State, input: EventStore.Append): Effect.Effect<string> | undefined => {
  const projection = input.projection
  if (projection._tag === "Erase") {
    const contact = state.contacts.get(input.streamId)
    return projection.suppress && contact !== undefined
      ? SuppressionList.hashOf(state, contact.projectId, contact.email)
      : undefined
  }
  const { email, projectId } = projection.contact
  return input.expectedVersion === 0 && SuppressionList.hasEntries(state, projectId)
    ? SuppressionList.hashOf(state, projectId, email)
    : undefined
}

type AppendError = Refusal | Projects.GrantRevoked

/** The appends of the `EventStore` port; `signal` wakes this process's live readers. */
export const make = (
  state: State.State,
  signal: LogStream.Signal
): Pick<EventStore.EventStore["Type"], "append" | "appendAll"> => {
  const step = (input: EventStore.Append, emailHash: string | undefined): Effect.Effect<void, AppendError> => {
    // The key the append is made under still grants its project (behaviour §9).
    if (
      input.grantedBy !== undefined &&
      state.grants.get(input.grantedBy)?.projectId !== EventStore.projectOf(input.projection)
    ) {
      return Effect.fail(new Projects.GrantRevoked())
    }
    const refused = appendOne(state, input, emailHash)
    if (refused !== undefined) return Effect.fail(refused)
    // Readers of this process wake at once (docs/decisions/0010-log-wake-up.md).
    signal.notify()
    return Effect.void
  }
  return {
    append: (input) =>
      Effect.suspend(() => {
        const hashing = hashFor(state, input)
        return hashing === undefined ? step(input, undefined) : Effect.flatMap(hashing, (hash) => step(input, hash))
      }),
    appendAll: (input) =>
      Effect.flatMap(
        Effect.forEach(input.appends, (append) => Effect.suspend(() => hashFor(state, append) ?? noHash)),
        (hashed) => {
          const hashes = new Map<string, string>()
          input.appends.forEach((append, i) => {
            if (hashed[i] !== undefined) hashes.set(append.streamId, hashed[i])
          })
          const refused = appendMany(state, input, hashes)
          if (refused !== undefined) return Effect.fail(refused)
          signal.notify()
          return Effect.void
        }
      )
  }
}

const noHash: Effect.Effect<string | undefined> = Effect.succeed(undefined)
