/**
 * The Effect-platform example over real HTTP: tracklog's conformance suite through the
 * HttpLayerRouter app served by NodeHttpServer, and the app's own HttpApi endpoint next to it.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Bootstrap from "@tracklog/http/Bootstrap"
import * as StoreLayer from "@tracklog/http/StoreLayer"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"
import { expect, it } from "vitest"
import { conformance } from "../../../packages/http/test/conformance.js"
import { projectA, projectB } from "../../../packages/http/test/TestServer.js"
import * as App from "../src/App.js"

const startApp: Parameters<typeof conformance>[2] = (store, options) =>
  Effect.gen(function*() {
    const ports = StoreLayer.services(store)
    const projects = Layer.effectDiscard(Bootstrap.run([projectA, projectB]))
    const server = HttpLayerRouter.serve(App.routes(options), { disableLogger: true, disableListenLog: true }).pipe(
      Layer.provide(projects),
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
      Layer.provide(ports)
    )
    const context = yield* Layer.build(server)
    const address = Effect.runSync(Effect.provide(HttpServer.HttpServer, context)).address
    if (address._tag !== "TcpAddress") return yield* Effect.die("not a TCP address")
    return { url: `http://127.0.0.1:${address.port}` }
  })

conformance("Effect-platform example over HTTP, memory store", () => StoreMemory.layer, startApp)

it("the app's own HttpApi endpoint answers next to tracklog's", async () => {
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const { url } = yield* startApp!(StoreMemory.layer, { bodyLimit: 1024 })
    const hello = yield* Effect.promise(() => fetch(`${url}/hello`).then((r) => r.json()))
    expect(hello).toEqual({ hello: "from the host app" })
    const tracked = yield* Effect.promise(() =>
      fetch(`${url}/v1/track`, {
        method: "POST",
        headers: { authorization: `Bearer ${projectA.publicKey}`, "content-type": "application/json" },
        body: JSON.stringify({ email: "effect@example.com", event: "signup" })
      })
    )
    expect(tracked.status).toBe(200)
  })))
})
