import { describe, expect, it } from "vitest"
import * as Router from "../src/internal/router.js"

const route = (name: string, method: string, path: string) => ({
  name,
  method,
  segments: path.split("/").slice(1),
  value: name
})

describe("Router.matcher", () => {
  it("finds a route without params by its exact path, and one with params by its segments", () => {
    const match = Router.matcher([route("track", "POST", "/v1/track"), route("contact", "GET", "/v1/contacts/:id")])
    expect(match("POST", "/v1/track")).toEqual({ _tag: "Found", value: "track", params: {} })
    expect(match("GET", "/v1/contacts/a%40b")).toEqual({ _tag: "Found", value: "contact", params: { id: "a@b" } })
    expect(match("GET", "/v1/track")).toEqual({ _tag: "MethodNotAllowed", allow: ["POST"] })
    expect(match("POST", "/v1/tracks")).toEqual({ _tag: "NotFound" })
  })

  it("lets an earlier route with params win over a later exact one, as in definition order", () => {
    const match = Router.matcher([
      route("byId", "GET", "/v1/contacts/:id"),
      route("stream", "GET", "/v1/contacts/stream")
    ])
    expect(match("GET", "/v1/contacts/stream")).toEqual({ _tag: "Found", value: "byId", params: { id: "stream" } })
    const ordered = Router.matcher([
      route("stream", "GET", "/v1/contacts/stream"),
      route("byId", "GET", "/v1/contacts/:id")
    ])
    expect(ordered("GET", "/v1/contacts/stream")).toEqual({ _tag: "Found", value: "stream", params: {} })
  })
})
