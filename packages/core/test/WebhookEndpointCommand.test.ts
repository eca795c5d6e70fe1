import { describe, expect, it } from "@effect/vitest"
import * as WebhookEndpointCommand from "@tracklog/core/WebhookEndpointCommand"
import * as Either from "effect/Either"

const endpointId = "0190a000-0000-7000-8000-0000000000a1"
const issuesOf = <A>(decoded: Either.Either<A, WebhookEndpointCommand.InvalidWebhookEndpoint>) =>
  Either.match(decoded, { onLeft: (e) => e.issues.map((i) => `${i.field}:${i.code}`), onRight: () => [] })
const createIssues = (body: unknown) => issuesOf(WebhookEndpointCommand.decodeCreate(body))
const updateIssues = (body: unknown) => issuesOf(WebhookEndpointCommand.decodeUpdate(endpointId, body))
const urlIssues = (url: unknown) => WebhookEndpointCommand.checkUrl(url).map((i) => i.code)

describe("WebhookEndpointCommand.decodeCreate (webhooks §12: POST /webhooks)", () => {
  it("a valid body is a create command; description defaults to none; unknown fields are ignored", () => {
    expect(
      WebhookEndpointCommand.decodeCreate({ url: "https://a.example/h", events: ["purchase"], enabled: false, x: 1 })
    ).toEqual(
      Either.right({ _tag: "CreateEndpoint", url: "https://a.example/h", events: ["purchase"], description: null })
    )
    expect(
      WebhookEndpointCommand.decodeCreate({ url: "http://a.example", events: ["*"], description: "orders" })
    ).toEqual(Either.right({ _tag: "CreateEndpoint", url: "http://a.example", events: ["*"], description: "orders" }))
  })

  it("every broken rule is one issue, with its path", () => {
    expect(createIssues({})).toEqual(["url:required", "events:required"])
    expect(createIssues({ url: 5, events: ["ok", "a*b"], description: 3 })).toEqual([
      "url:invalid_type",
      "events[1]:invalid_pattern",
      "description:invalid_type"
    ])
    expect(createIssues([])).toEqual(["body:invalid_type"])
    expect(createIssues(null)).toEqual(["body:invalid_type"])
  })

  it("a description is at most 512 storable characters", () => {
    const body = { url: "https://a.example", events: ["*"] }
    expect(createIssues({ ...body, description: "d".repeat(512) })).toEqual([])
    expect(createIssues({ ...body, description: "d".repeat(513) })).toEqual(["description:too_long"])
    expect(createIssues({ ...body, description: "a\u0000" })).toEqual(["description:invalid_string"])
    expect(createIssues({ ...body, description: null })).toEqual([])
  })
})

describe("WebhookEndpointCommand.checkUrl: syntax only (webhooks §12)", () => {
  it("absolute http and https URLs with a host are valid, IP literals too (the address check is elsewhere)", () => {
    for (
      const url of [
        "https://hooks.example.com/tracklog?x=1",
        "http://example.com",
        "https://example.com:8443/a#b",
        "http://127.0.0.1:8080/",
        "http://[::1]/"
      ]
    ) {
      expect(urlIssues(url), url).toEqual([])
    }
  })

  it("another scheme is not allowed", () => {
    for (const url of ["ftp://example.com/", "file:///etc/passwd", "javascript:alert(1)", "ws://example.com/"]) {
      expect(urlIssues(url), url).toEqual(["url_not_allowed"])
    }
  })

  it("a relative URL, no host, credentials, spaces or controls are invalid", () => {
    for (
      const url of [
        "/hooks",
        "example.com/hooks",
        "https://",
        "https://user@example.com/",
        "https://user:pw@example.com/",
        " https://example.com/",
        "https://example.com/ ",
        "https://exa\tmple.com/",
        "https://example.com/\n",
        "https://exa mple.com/"
      ]
    ) {
      expect(urlIssues(url), JSON.stringify(url)).toEqual(["invalid_url"])
    }
  })

  it("at most 2048 characters, storable text, a string", () => {
    const base = "https://example.com/"
    expect(urlIssues(base + "a".repeat(2048 - base.length))).toEqual([])
    expect(urlIssues(base + "a".repeat(2049 - base.length))).toEqual(["too_long"])
    expect(urlIssues(base + "\ud800")).toEqual(["invalid_string"])
    expect(urlIssues(["https://example.com"])).toEqual(["invalid_type"])
    expect(urlIssues(undefined)).toEqual(["required"])
  })
})

describe("WebhookEndpointCommand.decodeUpdate (webhooks §12: PATCH /webhooks/:id)", () => {
  it("takes any of url, events, enabled, description; only those present", () => {
    expect(WebhookEndpointCommand.decodeUpdate(endpointId, { enabled: false })).toEqual(
      Either.right({ _tag: "UpdateEndpoint", endpointId, enabled: false })
    )
    expect(
      WebhookEndpointCommand.decodeUpdate(endpointId, { url: "https://b.example", events: ["x"], description: null })
    ).toEqual(
      Either.right({ _tag: "UpdateEndpoint", endpointId, url: "https://b.example", events: ["x"], description: null })
    )
  })

  it("an empty body or unknown fields only is refused, as a contact update's", () => {
    expect(updateIssues({})).toEqual(["body:required"])
    expect(updateIssues({ secret: "whsec_x" })).toEqual(["body:required"])
    expect(updateIssues("x")).toEqual(["body:invalid_type"])
  })

  it("each present field is checked", () => {
    expect(updateIssues({ url: "mailto:a@b.co", events: [], enabled: "yes", description: 1 })).toEqual([
      "url:url_not_allowed",
      "events:too_short",
      "enabled:invalid_type",
      "description:invalid_type"
    ])
    expect(updateIssues({ events: null })).toEqual(["events:invalid_type"])
  })
})
