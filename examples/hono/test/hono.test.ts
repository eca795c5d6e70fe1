/**
 * The Hono example over real HTTP: tracklog's conformance suite through the mounted web handler,
 * and the app's own route next to it.
 */
import { serve } from "@hono/node-server"
import * as WebHandler from "@tracklog/http/WebHandler"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as Effect from "effect/Effect"
import type { AddressInfo } from "node:net"
import { expect, it } from "vitest"
import { conformance } from "../../../packages/http/test/conformance.js"
import { projectA, projectB } from "../../../packages/http/test/TestServer.js"
import * as App from "../src/App.js"

const startHono: Parameters<typeof conformance>[2] = (store, options) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const web = await WebHandler.fromLayer(store, { requestLog: false, ...options, keys: [projectA, projectB] })
      const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
        const s = serve({ fetch: App.make(web.handler).fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s))
      })
      return { web, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
    }),
    ({ server, web }) =>
      Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())).then(web.dispose))
  )

conformance("Hono example over HTTP, memory store", () => StoreMemory.layer, startHono)

it("the app's own route answers next to tracklog's", async () => {
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const { url } = yield* startHono!(StoreMemory.layer, { bodyLimit: 1024 })
    const hello = yield* Effect.promise(() => fetch(`${url}/hello`).then((r) => r.json()))
    expect(hello).toEqual({ hello: "from the host app" })
    const tracked = yield* Effect.promise(() =>
      fetch(`${url}/v1/track`, {
        method: "POST",
        headers: { authorization: `Bearer ${projectA.publicKey}`, "content-type": "application/json" },
        body: JSON.stringify({ email: "hono@example.com", event: "signup" })
      })
    )
    expect(tracked.status).toBe(200)
  })))
})
