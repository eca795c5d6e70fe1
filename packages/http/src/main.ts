/**
 * The server's entry point: configuration from the environment, the store it names, migrations,
 * projects, then `POST /v1/track` and the read API until SIGINT/SIGTERM.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Webhooks from "@tracklog/webhooks/Webhooks"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as V8 from "node:v8"
import * as Bootstrap from "./Bootstrap.js"
import * as RequestLog from "./RequestLog.js"
import * as Server from "./Server.js"
import * as ServerConfig from "./ServerConfig.js"
import * as StoreLayer from "./StoreLayer.js"
import * as V8Flags from "./internal/v8Flags.js"

const program = Effect.gen(function*() {
  const config = yield* ServerConfig.ServerConfig
  // Before the store's layer is built: PGlite's module compiles there (decision 0019, 0027).
  for (const flag of V8Flags.forStore(config.store._tag)) V8.setFlagsFromString(flag)
  const webhookOptions: Webhooks.Options = { allowPrivate: config.webhookAllowPrivate, delays: config.webhookRetry }
  return yield* Effect.gen(function*() {
    const created = yield* Bootstrap.run(config.keys)
    // The webhook dispatcher and sender (behaviour §12), for as long as the server runs.
    yield* Webhooks.start(webhookOptions)
    const running = yield* Server.make({
      port: config.port,
      host: config.host._tag === "Some" ? config.host.value : undefined,
      bodyLimit: config.bodyLimit,
      batchBodyLimit: config.batchBodyLimit,
      requestLog: config.requestLog,
      metrics: config.metrics,
      rateLimit: config.rateLimit._tag === "Some" ? config.rateLimit.value : undefined
    })
    if (created !== undefined) {
      // The one time a key is ever printed: nothing else could tell the operator what it is.
      process.stdout.write(
        `\nCreated project ${created.projectId}. Its keys (shown once, store them now):\n` +
          `  public key: ${created.publicKey}\n  secret key: ${created.secretKey}\n\n`
      )
    }
    const log = yield* RequestLog.make({ requests: config.requestLog })
    log.info("listening", { url: running.url, store: config.store._tag })
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.provideService(Webhooks.Settings, webhookOptions),
    Effect.provide((config.metrics ? StoreLayer.instrumented : StoreLayer.layer)(config.store, {
      idempotencyTtlSeconds: config.idempotencyTtl,
      cacheBytes: config.contactCacheBytes
    }))
  )
})

program.pipe(
  Effect.provide(Logger.json),
  // Nothing reads the runtime's fiber metrics (`/metrics` leaves them out). Recording them costs each
  // request's fiber ~0.7 µs, close to what running a small fiber costs: a tagged histogram looks its
  // key up afresh each time. The flag holds for what the server and the store run themselves too:
  // they run on the runtime that built them, never on Effect's default one.
  Effect.provide(RuntimeFlags.disableRuntimeMetrics),
  NodeRuntime.runMain({ disablePrettyLogger: true })
)
