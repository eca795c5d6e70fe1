/**
 * The memory store's state: the log, the contact projection, the projects and everything else the
 * ports keep, in one object made once per store and shared by every port. Each operation on it is
 * one synchronous step, so no other fiber sees it half changed. Also the writes that more than one
 * port makes: adding texts to the log, and adding a contact to the projection.
 */
import * as Contact from "@tracklog/core/Contact"
import type * as EventStore from "@tracklog/core/EventStore"
import type * as Idempotency from "@tracklog/core/Idempotency"
import type * as Membership from "@tracklog/core/Membership"
import type * as Projects from "@tracklog/core/Projects"
import type * as Segment from "@tracklog/core/Segment"
import type * as WebhookEndpoint from "@tracklog/core/WebhookEndpoint"
import type * as WebhookOutbox from "@tracklog/core/WebhookOutbox"
import * as SortedIds from "./sortedIds.js"
import * as TextLog from "./textLog.js"

/** A processor's checkpoint and lease (behaviour §5.3). */
export interface ProcessorRow {
  checkpoint: EventStore.Checkpoint
  owner: string | undefined
  leaseUntil: number
}

/** A webhook message as the memory store keeps it: the message and its lease. */
export interface MessageRow {
  message: WebhookOutbox.Message
  leaseOwner: string | undefined
  leaseUntil: number
}

/** Everything the store holds. */
export interface State {
  /** streamId → the log positions of its events, in version order. */
  readonly streams: Map<string, Array<number>>
  /** Every event in log order (position = index + 1), each as the text of a `LogRecord`. */
  readonly log: TextLog.TextLog
  readonly contacts: Map<string, Contact.Contact>
  /** `Contact.emailKey(projectId, email)` → contact id: the one-contact-per-email index. */
  readonly byEmail: Map<string, string>
  /** projectId → contact ids, sorted, for cursor pagination. */
  readonly byProject: Map<string, Array<string>>
  /** Key hash → what the key grants. */
  readonly grants: Map<string, Projects.Grant>
  /** The projects made by `Projects.ensure` or an import, in creation order. */
  readonly projects: Set<string>
  /** projectId → when it was created. */
  readonly projectCreated: Map<string, Date>
  /** `projectId \0 key` → the idempotency record stored with its request's events (behaviour §6). */
  readonly idempotency: Map<string, Idempotency.Record>
  /** projectId → the secret its suppression hashes are keyed with. */
  readonly secrets: Map<string, string>
  /** projectId → the email hashes on its suppression list. */
  readonly suppressed: Map<string, Set<string>>
  /** projectId → the log positions of its events, in log order: a project's log without a scan. */
  readonly projectLog: Map<string, Array<number>>
  /** Processor checkpoints and leases, by name. */
  readonly processors: Map<string, ProcessorRow>
  /** Segment definitions by id, deleted ones until purged (behaviour §11). */
  readonly segments: Map<string, Segment.Segment>
  /** The segment processor's snapshot of each contact it has seen. */
  readonly snapshots: Map<string, Membership.Snapshot>
  /** segmentId → its members' ids, each with when it entered (ms). */
  readonly members: Map<string, Map<string, number>>
  /** Webhook endpoints by id (behaviour §12). */
  readonly webhookEndpoints: Map<string, WebhookEndpoint.WebhookEndpoint>
  /** Webhook messages by id, in queue order. */
  readonly webhookMessages: Map<string, MessageRow>
  /** The pending ones among them: what a claim and the queue's depth look at. */
  readonly webhookPending: Map<string, MessageRow>
  /** `endpointId \0 eventId` of every message queued: one message per endpoint and event. */
  readonly webhookQueued: Set<string>
  /** The last webhook message's `seq`. */
  webhookSeq: number
  /** The last transaction written; each append is one, numbered in commit order. */
  transactions: number
}

/** An empty store. */
export const make = (): State => ({
  streams: new Map(),
  log: TextLog.make(),
  contacts: new Map(),
  byEmail: new Map(),
  byProject: new Map(),
  grants: new Map(),
  projects: new Set(),
  projectCreated: new Map(),
  idempotency: new Map(),
  secrets: new Map(),
  suppressed: new Map(),
  projectLog: new Map(),
  processors: new Map(),
  segments: new Map(),
  snapshots: new Map(),
  members: new Map(),
  webhookEndpoints: new Map(),
  webhookMessages: new Map(),
  webhookPending: new Map(),
  webhookQueued: new Set(),
  webhookSeq: 0,
  transactions: 0
})

/**
 * Adds the texts of one stream's events to the log, in order, with their positions in the
 * stream's and the project's position lists. The caller numbers the transaction.
 */
export const write = (state: State, streamId: string, projectId: string, texts: ReadonlyArray<string>): void => {
  let positions = state.streams.get(streamId)
  if (positions === undefined) state.streams.set(streamId, positions = [])
  let projectLog = state.projectLog.get(projectId)
  if (projectLog === undefined) state.projectLog.set(projectId, projectLog = [])
  for (const text of texts) {
    state.log.append(text)
    positions.push(state.log.size())
    projectLog.push(state.log.size())
  }
}

/**
 * Adds a new contact to the projection: its row, its email's claim (`emailKey`, when the caller
 * has made it already) and its place in its project's list.
 */
export const addContact = (
  state: State,
  contact: Contact.Contact,
  emailKey = Contact.emailKey(contact.projectId, contact.email)
): void => {
  state.contacts.set(contact.id, contact)
  state.byEmail.set(emailKey, contact.id)
  const ids = state.byProject.get(contact.projectId)
  if (ids === undefined) state.byProject.set(contact.projectId, [contact.id])
  else SortedIds.insert(ids, contact.id)
}

/** Takes a contact out of the projection: its row, its email's claim and its place in its project's list. */
export const removeContact = (state: State, contact: Contact.Contact): void => {
  state.contacts.delete(contact.id)
  // Its segment state goes with it (behaviour §7, §11.3): no exit, `contact.erased` says it.
  state.snapshots.delete(contact.id)
  for (const members of state.members.values()) members.delete(contact.id)
  state.byEmail.delete(Contact.emailKey(contact.projectId, contact.email))
  const ids = state.byProject.get(contact.projectId)
  if (ids !== undefined) SortedIds.remove(ids, contact.id)
}
