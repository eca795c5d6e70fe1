/**
 * A Hono app of its own that mounts tracklog's web handler: its own route first, then every
 * other request handed to tracklog (the track route, the read API, /openapi.json, /docs).
 */
import type * as WebHandler from "@tracklog/http/WebHandler"
import { Hono } from "hono"

/** The app, given tracklog's handler. */
export const make = (tracklog: WebHandler.Handler) => {
  const app = new Hono()
  app.get("/hello", (c) => c.json({ hello: "from the host app" }))
  // `c.req.raw` is the standard Request: tracklog answers it whole, envelope and headers included.
  app.all("*", (c) => tracklog(c.req.raw))
  return app
}
