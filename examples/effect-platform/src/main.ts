/**
 * Serves the app with NodeHttpServer, configured like the tracklog server: PORT, HOST,
 * TRACKLOG_STORE, DATABASE_URL, TRACKLOG_DATA_DIR, TRACKLOG_PROJECT_KEYS, TRACKLOG_BODY_LIMIT.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Bootstrap from "@tracklog/http/Bootstrap"
import * as ServerConfig from "@tracklog/http/ServerConfig"
import * as StoreLayer from "@tracklog/http/StoreLayer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"
import * as App from "./App.js"

const main = Layer.unwrapEffect(Effect.map(ServerConfig.ServerConfig, (config) => {
  const host = config.host._tag === "Some" ? { host: config.host.value } : {}
  const projects = Layer.effectDiscard(
    Effect.flatMap(Bootstrap.run(config.keys), (created) =>
      created === undefined
        ? Effect.void
        : Effect.log(
          `Created project ${created.projectId}: public key ${created.publicKey}, secret key ${created.secretKey} (shown once)`
        ))
  )
  return HttpLayerRouter.serve(App.routes({ bodyLimit: config.bodyLimit }), { disableLogger: true }).pipe(
    Layer.provide(projects),
    Layer.provide(NodeHttpServer.layer(createServer, { port: config.port, ...host })),
    Layer.provide(StoreLayer.layer(config.store))
  )
}))

Layer.launch(main).pipe(NodeRuntime.runMain)
