/**
 * The API on an `@effect/platform` `HttpLayerRouter`, for Effect users: add this layer next to
 * your own (`HttpLayerRouter.addHttpApi(YourApi)`, other routes) and serve them together. Every
 * route of `Api`, the CORS preflight, `/openapi.json`, `/docs` and `/metrics` answer exactly as the server's
 * (the shared `Pipeline`); requests that no route of yours matches get our 404 envelope.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as Effect from "effect/Effect"
import * as Api from "./Api.js"
import * as Router from "./internal/router.js"
import * as Pipeline from "./Pipeline.js"
import * as WebHandler from "./WebHandler.js"

/** How the routes behave: the body limit and request deadline of the server. */
export interface Options extends Pipeline.Options {
  /** Answer every request no other route matches with the 404 envelope (default true). */
  readonly catchAll?: boolean | undefined
}

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS"

/** Adds the API's routes to the `HttpRouter`; needs the store's ports, `Track` and `Ids`. */
export const layer = (options: Options) =>
  HttpLayerRouter.use((router) =>
    Effect.gen(function*() {
      const { handler } = yield* WebHandler.make(options)
      // One request pipeline for every transport: the Effect request is handed over as a web Request.
      const app = HttpApp.fromWebHandler(handler)
      for (const route of Router.fromApi(Api.Api)) {
        const path = "/" + route.segments.join("/")
        yield* router.add(route.method as Method, path as `/${string}`, app)
      }
      // The CORS preflights of both track routes: a router without our catch-all routes them too.
      yield* router.add("OPTIONS", Pipeline.TrackPath, app)
      yield* router.add("OPTIONS", Pipeline.BatchPath, app)
      yield* router.add("GET", Pipeline.OpenApiPath, app)
      yield* router.add("GET", Pipeline.DocsPath, app)
      if (options.metrics ?? true) yield* router.add("GET", Pipeline.MetricsPath, app)
      if (options.catchAll ?? true) yield* router.add("*", "*", app)
    })
  )
