/**
 * The in-memory store: the log, the inline contact projection, the projects and everything else
 * a store keeps, in one state shared by every port. For embedding, tests and benchmarks; nothing
 * survives the process.
 *
 * A thin facade: each port lives in a module of its own under `internal/`, over the one
 * `State` made here. The rules both stores apply are core's (`Idempotency`, `Backup`, `Projects`,
 * `ContactEvent`); the contract suites in `@tracklog/core/testing` hold this store to them.
 */
import * as Backup from "@tracklog/core/Backup"
import * as EventStore from "@tracklog/core/EventStore"
import * as LogStream from "@tracklog/core/LogStream"
import * as Processor from "@tracklog/core/Processor"
import * as Store from "@tracklog/core/Store"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Append from "./internal/append.js"
import * as ContactReads from "./internal/contactReads.js"
import * as ExportImport from "./internal/exportImport.js"
import * as IdempotencyRecords from "./internal/idempotencyRecords.js"
import * as LogReads from "./internal/logReads.js"
import * as LogSource from "./internal/logSource.js"
import * as ProcessorStore from "./internal/processorStore.js"
import * as ProjectKeys from "./internal/projectKeys.js"
import * as State from "./internal/state.js"
import * as Segments from "./internal/segments.js"
import * as SuppressionList from "./internal/suppressionList.js"
import * as WebhookEndpoints from "./internal/webhookEndpoints.js"
import * as WebhookOutbox from "./internal/webhookOutbox.js"

/** Builds every port of the store over one fresh state. */
export const make = Effect.sync(() => {
  const state = State.make()
  // Woken by this store's appends: its live readers need no poll (docs/decisions/0010-log-wake-up.md).
  const signal = LogStream.makeSignal()
  const appends = Append.make(state, signal)
  const records = IdempotencyRecords.make(state)
  const reads = LogReads.make(state)
  return {
    eventStore: EventStore.EventStore.of({
      append: appends.append,
      appendAll: appends.appendAll,
      findIdempotency: records.findIdempotency,
      expireIdempotency: records.expireIdempotency,
      readStream: reads.readStream,
      readAll: reads.readAll
    }),
    contacts: ContactReads.make(state),
    projects: ProjectKeys.make(state),
    suppressions: SuppressionList.make(state),
    webhookEndpoints: WebhookEndpoints.make(state),
    webhookOutbox: WebhookOutbox.make(state),
    backup: ExportImport.make(state),
    logSource: LogSource.make(state, signal),
    processors: ProcessorStore.make(state),
    segmentStore: Segments.makeSegmentStore(state),
    membershipStore: Segments.makeMembershipStore(state, signal),
    /** The raw bytes the log holds, for checking what the process still keeps after an erasure. */
    logBuffers: () => state.log.buffers()
  }
})

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
