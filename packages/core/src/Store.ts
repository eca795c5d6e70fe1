/**
 * A store: the ports every backend provides together, over one shared state (`StoreMemory`,
 * `StorePostgres`). The store contract suite (`testing/StoreContract`) holds each to the same
 * promises. The live-log ports (`LogStream.LogSource`, `Processor.ProcessorStore`) come on top,
 * from the stores that can be read live.
 */
import * as Context from "effect/Context"
import * as Contacts from "./Contacts.js"
import * as EventStore from "./EventStore.js"
import * as Membership from "./Membership.js"
import * as Projects from "./Projects.js"
import * as SegmentStore from "./SegmentStore.js"
import * as Suppressions from "./Suppressions.js"
import * as WebhookEndpoints from "./WebhookEndpoints.js"
import * as WebhookOutbox from "./WebhookOutbox.js"

/** The services a store layer provides. */
export type Ports =
  | EventStore.EventStore
  | Contacts.Contacts
  | Projects.Projects
  | Suppressions.Suppressions
  | SegmentStore.SegmentStore
  | Membership.MembershipStore
  | WebhookEndpoints.WebhookEndpoints
  | WebhookOutbox.WebhookOutbox

/** A backend's implementations of the ports. */
export interface Implementations {
  readonly eventStore: EventStore.EventStore["Type"]
  readonly contacts: Contacts.Contacts["Type"]
  readonly projects: Projects.Projects["Type"]
  readonly suppressions: Suppressions.Suppressions["Type"]
  readonly segmentStore: SegmentStore.SegmentStore["Type"]
  readonly membershipStore: Membership.MembershipStore["Type"]
  readonly webhookEndpoints: WebhookEndpoints.WebhookEndpoints["Type"]
  readonly webhookOutbox: WebhookOutbox.WebhookOutbox["Type"]
}

/** The context a store layer provides, from its implementations. */
export const context = (ports: Implementations): Context.Context<Ports> =>
  Context.make(EventStore.EventStore, ports.eventStore).pipe(
    Context.add(Contacts.Contacts, ports.contacts),
    Context.add(Projects.Projects, ports.projects),
    Context.add(Suppressions.Suppressions, ports.suppressions),
    Context.add(SegmentStore.SegmentStore, ports.segmentStore),
    Context.add(Membership.MembershipStore, ports.membershipStore),
    Context.add(WebhookEndpoints.WebhookEndpoints, ports.webhookEndpoints),
    Context.add(WebhookOutbox.WebhookOutbox, ports.webhookOutbox)
  )
