/**
 * Webhooks as a background service (webhooks, §12): the dispatcher (`WebhookDispatcher`, a durable
 * processor on the log) and the sender (`WebhookSender`) run together for a scope, the dispatcher
 * handing what it queues to the sender beside it (decision 0051), on any store
 * that can be read live. `Settings` are what the HTTP routes need too: whether private targets
 * are allowed, and how names resolve (`SsrfGuard`).
 */
import * as EventStore from "@tracklog/core/EventStore"
import type * as Ids from "@tracklog/core/Ids"
import * as LogStream from "@tracklog/core/LogStream"
import * as Processor from "@tracklog/core/Processor"
import * as WebhookDispatcher from "@tracklog/core/WebhookDispatcher"
import type * as WebhookEndpoints from "@tracklog/core/WebhookEndpoints"
import * as WebhookOutbox from "@tracklog/core/WebhookOutbox"
import * as WebhookSchedule from "@tracklog/core/WebhookSchedule"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as SsrfGuard from "./SsrfGuard.js"
import * as WebhookMetrics from "./WebhookMetrics.js"
import * as WebhookSender from "./WebhookSender.js"

/** How webhooks are sent, and which targets are allowed. */
export interface Options extends SsrfGuard.Options {
  /** The waits between attempts (default: behaviour §12's, `TRACKLOG_WEBHOOK_RETRY`). */
  readonly delays?: WebhookSchedule.Delays | undefined
  /** Longest wait for an answer's status (default 15 s). */
  readonly timeout?: Duration.Duration | undefined
  /** How often an idle sender asks for due work (default 200 ms). */
  readonly pollInterval?: Duration.Duration | undefined
  /** How often the queue's depth is read for the metrics (default 5 s). */
  readonly depthInterval?: Duration.Duration | undefined
  /** The dispatcher's lease (default 5 s: a standby process takes over after it). */
  readonly leaseTtl?: Duration.Duration | undefined
}

/** The webhook settings in use: the HTTP routes check a new URL with them. */
export class Settings extends Context.Tag("@tracklog/webhooks/Webhooks/Settings")<Settings, Options>() {}

/** The settings of a server that sets nothing: private targets refused, the system's resolver. */
export const defaults: Options = { allowPrivate: false }

/** The settings in context, else `defaults`. */
export const settings: Effect.Effect<Options> = Effect.map(
  Effect.serviceOption(Settings),
  Option.getOrElse(() => defaults)
)

// The outbox with what the dispatcher queues counted into the metrics.
const counted = (outbox: WebhookOutbox.WebhookOutbox["Type"]): WebhookOutbox.WebhookOutbox["Type"] => ({
  ...outbox,
  enqueue: (messages, lease) =>
    Effect.tap(outbox.enqueue(messages, lease), ({ queued }) => Effect.sync(() => WebhookMetrics.enqueued(queued)))
})

/** The services the dispatcher and the sender run on. */
export type Services =
  | WebhookEndpoints.WebhookEndpoints
  | WebhookOutbox.WebhookOutbox
  | EventStore.EventStore
  | Ids.Ids
  | LogStream.LogSource
  | Processor.ProcessorStore

/**
 * Runs the dispatcher, the sender and the queue's gauges until interrupted (or until the
 * dispatcher stops on a batch it cannot handle: `ProcessorFailed`).
 */
export const run = (
  options: Options = defaults
): Effect.Effect<never, Processor.ProcessorFailed, Services | Scope.Scope> =>
  Effect.gen(function*() {
    WebhookMetrics.touch()
    const outbox = counted(yield* WebhookOutbox.WebhookOutbox)
    const timeout = options.timeout ?? WebhookSchedule.Timeout
    const sender = yield* WebhookSender.make({
      ...options,
      timeout,
      delays: options.delays ?? WebhookSchedule.DefaultDelays,
      pollInterval: options.pollInterval
    })
    const dispatcher = yield* WebhookDispatcher.make.pipe(
      Effect.provideService(WebhookOutbox.WebhookOutbox, outbox),
      Effect.provideService(WebhookDispatcher.Handoff, sender.handoff)
    )
    const depth = outbox.depth.pipe(
      Effect.flatMap(({ oldestPendingAt, pending }) =>
        Effect.map(Effect.clockWith((clock) => clock.currentTimeMillis), (now) =>
          WebhookMetrics.queue(
            pending,
            oldestPendingAt === null ? 0 : Math.max(0, now - oldestPendingAt.getTime()) / 1000
          ))
      ),
      Effect.ignore,
      Effect.zipRight(Effect.sleep(options.depthInterval ?? Duration.seconds(5))),
      Effect.forever
    )
    // None of them ends but by failing; the first failure (the dispatcher's) stops the others.
    yield* Effect.all([
      // A page holds its events whole, and an event may carry hundreds of KB: bounded by bytes too.
      Processor.run({
        ...dispatcher,
        leaseTtl: options.leaseTtl,
        batchSize: 500,
        maxBytes: EventStore.PageBytes
      }),
      sender.run,
      depth
    ], { concurrency: "unbounded", discard: true })
    return yield* Effect.never
  })

/**
 * Starts `run` for the scope when the store in context can be read live (it provides
 * `LogStream.LogSource` and `Processor.ProcessorStore`; every store of this repository does); does
 * nothing otherwise. A dispatcher that stops is logged, and the sender with it.
 */
export const start = (
  options: Options = defaults
): Effect.Effect<
  void,
  never,
  Exclude<Services, LogStream.LogSource | Processor.ProcessorStore> | Scope.Scope
> =>
  Effect.gen(function*() {
    const source = yield* Effect.serviceOption(LogStream.LogSource)
    const processors = yield* Effect.serviceOption(Processor.ProcessorStore)
    if (Option.isNone(source) || Option.isNone(processors)) return
    yield* run(options).pipe(
      Effect.provideService(LogStream.LogSource, source.value),
      Effect.provideService(Processor.ProcessorStore, processors.value),
      Effect.catchAll((e) => Effect.logError(`webhooks stopped: ${e.message}`)),
      Effect.forkScoped
    )
  })

/** `start` as a layer, with `Settings` for the routes. */
export const layer = (
  options: Options = defaults
): Layer.Layer<Settings, never, Exclude<Services, LogStream.LogSource | Processor.ProcessorStore>> =>
  Layer.scopedContext(Effect.as(start(options), Context.make(Settings, options)))
