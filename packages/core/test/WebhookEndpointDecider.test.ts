import { describe, expect, it } from "@effect/vitest"
import * as DeciderSpecification from "@tracklog/core/testing/DeciderSpecification"
import * as WebhookEndpoint from "@tracklog/core/WebhookEndpoint"
import type * as WebhookEndpointCommand from "@tracklog/core/WebhookEndpointCommand"
import * as WebhookEndpointDecider from "@tracklog/core/WebhookEndpointDecider"
import * as WebhookSecret from "@tracklog/core/WebhookSecret"
import * as Schema from "effect/Schema"

const projectId = "0190a000-0000-7000-8000-000000000001"
const endpointId = "0190a000-0000-7000-8000-0000000000a1"
const earlier = new Date("2025-12-31T00:00:00.000Z")
const now = new Date("2026-01-02T03:04:05.678Z")
const secret = WebhookSecret.fromBytes(new Uint8Array(32).fill(1))
const newSecret = WebhookSecret.fromBytes(new Uint8Array(32).fill(2))
const context: WebhookEndpointDecider.Context = { projectId, now, newId: endpointId, newSecret }
const spec = DeciderSpecification.for(WebhookEndpointDecider.decider, context)

const created = WebhookEndpoint.WebhookEndpointCreated.make({
  endpointId,
  projectId,
  url: "https://hooks.example.com/tracklog",
  events: ["purchase", "segment.vip.*"],
  description: null,
  enabled: true,
  secret,
  at: earlier
})
const update = (fields: Omit<WebhookEndpointCommand.UpdateEndpoint, "_tag" | "endpointId">) =>
  ({ _tag: "UpdateEndpoint", endpointId, ...fields }) as const
const refusedWith = (tag: WebhookEndpointDecider.Refusal["_tag"]) => (refusal: WebhookEndpointDecider.Refusal) =>
  refusal._tag === tag

describe("WebhookEndpointDecider.decide: create (webhooks §12)", () => {
  const create = {
    _tag: "CreateEndpoint",
    url: "https://hooks.example.com/tracklog",
    events: ["purchase", "segment.vip.*"],
    description: null
  } as const

  it("a new endpoint is enabled, with the context's id and secret", () =>
    spec.given([]).when(create).then([
      WebhookEndpoint.WebhookEndpointCreated.make({
        endpointId,
        projectId,
        url: create.url,
        events: create.events,
        description: null,
        enabled: true,
        secret: newSecret,
        at: now
      })
    ]))

  it("its state is the endpoint as created, with no previous secret", () =>
    spec.given([]).when({ ...create, description: "orders" }).thenState({
      id: endpointId,
      projectId,
      url: create.url,
      events: create.events,
      description: "orders",
      enabled: true,
      secret: newSecret,
      previous: null,
      createdAt: now,
      updatedAt: now,
      version: 1
    }))

  it("fields that break a rule are refused with their issues", () =>
    spec.given([]).when({ ...create, url: "ftp://example.com", events: [] }).thenRefuses((refusal) =>
      refusal._tag === "InvalidWebhookEndpoint" &&
      refusal.issues.map((i) => `${i.field}:${i.code}`).join() === "url:url_not_allowed,events:too_short"
    ))

  it("an id that already names an endpoint is refused, never overwritten", () =>
    spec.given([created]).when(create).thenRefuses(refusedWith("WebhookEndpointExists")))
})

describe("WebhookEndpointDecider.decide: update (webhooks §12)", () => {
  it("records only the fields that change", () =>
    spec.given([created]).when(update({ url: created.url, events: ["*"], enabled: true })).then([
      WebhookEndpoint.WebhookEndpointUpdated.make({ events: ["*"], at: now })
    ]))

  it("records nothing when nothing changes", () =>
    spec.given([created]).when(update({ url: created.url, events: [...created.events], description: null })).then(
      []
    ))

  it("a reordered pattern list is a change", () =>
    spec.given([created]).when(update({ events: ["segment.vip.*", "purchase"] })).then([
      WebhookEndpoint.WebhookEndpointUpdated.make({ events: ["segment.vip.*", "purchase"], at: now })
    ]))

  it("sets and removes the description", () => {
    spec.given([created]).when(update({ description: "orders" })).then([
      WebhookEndpoint.WebhookEndpointUpdated.make({ description: "orders", at: now })
    ])
    const described = WebhookEndpoint.WebhookEndpointUpdated.make({ description: "orders", at: earlier })
    spec.given([created, described]).when(update({ description: null })).thenState({
      ...WebhookEndpoint.fold([created, described])!,
      description: null,
      updatedAt: now,
      version: 3
    })
  })

  it("enabled: true enables an endpoint a 410 disabled", () => {
    const disabled = WebhookEndpoint.WebhookEndpointDisabled.make({ reason: "gone", at: earlier })
    spec.given([created, disabled]).when(update({ enabled: true })).then([
      WebhookEndpoint.WebhookEndpointUpdated.make({ enabled: true, at: now })
    ])
  })

  it("fields that break a rule are refused", () =>
    spec.given([created]).when(update({ url: "https://user:pw@example.com/" })).thenRefuses(
      refusedWith("InvalidWebhookEndpoint")
    ))
})

describe("WebhookEndpointDecider.decide: rotate secret (webhooks §12)", () => {
  it("the new secret signs; the old one still signs for 24 h", () =>
    spec.given([created]).when({ _tag: "RotateSecret", endpointId }).then([
      WebhookEndpoint.WebhookSecretRotated.make({
        secret: newSecret,
        previousSecret: secret,
        previousUntil: new Date(now.getTime() + 24 * 3600_000),
        at: now
      })
    ]))

  it("signingSecrets: both while the old one signs, the new one alone from its 24th hour", () => {
    const rotated = WebhookEndpoint.WebhookSecretRotated.make({
      secret: newSecret,
      previousSecret: secret,
      previousUntil: new Date(now.getTime() + 24 * 3600_000),
      at: now
    })
    const endpoint = WebhookEndpoint.fold([created, rotated])!
    expect(WebhookEndpoint.signingSecrets(endpoint, now)).toEqual([newSecret, secret])
    expect(WebhookEndpoint.signingSecrets(endpoint, new Date(now.getTime() + 24 * 3600_000 - 1))).toEqual([
      newSecret,
      secret
    ])
    expect(WebhookEndpoint.signingSecrets(endpoint, new Date(now.getTime() + 24 * 3600_000))).toEqual([newSecret])
    expect(WebhookEndpoint.signingSecrets(WebhookEndpoint.fold([created])!, now)).toEqual([secret])
  })

  it("a second rotation keeps only the secret it replaces: at most two sign", () => {
    const third = WebhookSecret.fromBytes(new Uint8Array(32).fill(3))
    const first = WebhookEndpoint.WebhookSecretRotated.make({
      secret: newSecret,
      previousSecret: secret,
      previousUntil: new Date(earlier.getTime() + 24 * 3600_000),
      at: earlier
    })
    spec.given([created, first]).when({ _tag: "RotateSecret", endpointId }, { ...context, newSecret: third })
      .then([
        WebhookEndpoint.WebhookSecretRotated.make({
          secret: third,
          previousSecret: newSecret,
          previousUntil: new Date(now.getTime() + 24 * 3600_000),
          at: now
        })
      ])
  })
})

describe("WebhookEndpointDecider.decide: delete and disable (webhooks §12)", () => {
  it("delete records the deletion; nothing of the endpoint remains", () => {
    spec.given([created]).when({ _tag: "DeleteEndpoint", endpointId }).then([
      WebhookEndpoint.WebhookEndpointDeleted.make({ at: now })
    ])
    spec.given([created]).when({ _tag: "DeleteEndpoint", endpointId }).thenState(null)
  })

  it("a 410 disables an enabled endpoint, once", () => {
    spec.given([created]).when({ _tag: "DisableEndpoint", endpointId }).then([
      WebhookEndpoint.WebhookEndpointDisabled.make({ reason: "gone", at: now })
    ])
    const disabled = WebhookEndpoint.WebhookEndpointDisabled.make({ reason: "gone", at: earlier })
    spec.given([created, disabled]).when({ _tag: "DisableEndpoint", endpointId }).then([])
    spec.given([created, WebhookEndpoint.WebhookEndpointUpdated.make({ enabled: false, at: earlier })])
      .when({ _tag: "DisableEndpoint", endpointId }).then([])
  })
})

describe("WebhookEndpointDecider.decide: not found (webhooks §12)", () => {
  const commands: ReadonlyArray<WebhookEndpointCommand.Command> = [
    update({ enabled: false }),
    { _tag: "RotateSecret", endpointId },
    { _tag: "DeleteEndpoint", endpointId },
    { _tag: "DisableEndpoint", endpointId }
  ]
  const deleted = WebhookEndpoint.WebhookEndpointDeleted.make({ at: earlier })

  it("no endpoint, a deleted one, another id, or another project's → WebhookEndpointNotFound", () => {
    for (const command of commands) {
      spec.given([]).when(command).thenRefuses(refusedWith("WebhookEndpointNotFound"))
      spec.given([created, deleted]).when(command).thenRefuses(refusedWith("WebhookEndpointNotFound"))
      spec.given([created]).when({ ...command, endpointId: "other" } as WebhookEndpointCommand.Command).thenRefuses(
        refusedWith("WebhookEndpointNotFound")
      )
      spec.given([created]).when(command, { ...context, projectId: "another project" }).thenRefuses(
        refusedWith("WebhookEndpointNotFound")
      )
    }
  })
})

describe("WebhookEndpoint events", () => {
  it("decode∘encode is the identity for every event", () => {
    const events: ReadonlyArray<WebhookEndpoint.Event> = [
      created,
      WebhookEndpoint.WebhookEndpointUpdated.make({ url: "http://a.example/", description: null, at: now }),
      WebhookEndpoint.WebhookSecretRotated.make({
        secret: newSecret,
        previousSecret: secret,
        previousUntil: now,
        at: now
      }),
      WebhookEndpoint.WebhookEndpointDisabled.make({ reason: "gone", at: now }),
      WebhookEndpoint.WebhookEndpointDeleted.make({ at: now })
    ]
    for (const event of events) {
      const encoded = JSON.parse(JSON.stringify(Schema.encodeSync(WebhookEndpoint.Event)(event)))
      expect(Schema.decodeUnknownSync(WebhookEndpoint.Event)(encoded)).toEqual(event)
    }
  })
})
