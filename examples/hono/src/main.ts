/**
 * Runs the Hono app on Node, configured like the tracklog server: PORT, HOST, TRACKLOG_STORE,
 * DATABASE_URL, TRACKLOG_DATA_DIR, TRACKLOG_PROJECT_KEYS, TRACKLOG_BODY_LIMIT.
 */
import { serve } from "@hono/node-server"
import * as ServerConfig from "@tracklog/http/ServerConfig"
import * as WebHandler from "@tracklog/http/WebHandler"
import * as Effect from "effect/Effect"
import * as App from "./App.js"

const config = await Effect.runPromise(ServerConfig.ServerConfig)
// Built before the first request: the store is up (or start-up fails) before we listen.
const tracklog = await WebHandler.fromEnv()
if (tracklog.created !== undefined) {
  process.stdout.write(
    `\nCreated project ${tracklog.created.projectId}. Its keys (shown once, store them now):\n` +
      `  public key: ${tracklog.created.publicKey}\n  secret key: ${tracklog.created.secretKey}\n\n`
  )
}
const app = App.make(tracklog.handler)
const host = config.host._tag === "Some" ? { hostname: config.host.value } : {}
const server = serve({ fetch: app.fetch, port: config.port, ...host }, (info) => {
  process.stdout.write(
    JSON.stringify({
      level: "info",
      msg: "listening",
      url: `http://localhost:${info.port}`,
      store: config.store._tag
    }) + "\n"
  )
})

const stop = () => server.close(() => void tracklog.dispose().then(() => process.exit(0)))
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
