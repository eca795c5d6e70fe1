/**
 * Which key each endpoint wants (behaviour §1.1) and which body limit applies are stated once, in
 * `Api`, and the pipeline takes them from there: public or secret on the track routes, secret on
 * the reads, none on health; the batch route's larger body limit, no body where there is no payload.
 */
import { describe, expect, it } from "vitest"
import * as Api from "../src/Api.js"

describe("Api.keyRequirements", () => {
  it("reads each endpoint's key from its group, none outside Authorization", () => {
    expect(Api.keyRequirements()).toEqual({
      track: "any",
      trackBatch: "any",
      getContact: "secret",
      listContacts: "secret",
      contactEvents: "secret",
      eraseContact: "secret",
      updateContact: "secret",
      liftSuppression: "secret",
      eventsStream: "secret",
      listSegments: "secret",
      createSegment: "secret",
      getSegment: "secret",
      updateSegment: "secret",
      deleteSegment: "secret",
      segmentContacts: "secret",
      contactSegments: "secret",
      queryContacts: "secret",
      createWebhook: "secret",
      listWebhooks: "secret",
      getWebhook: "secret",
      updateWebhook: "secret",
      deleteWebhook: "secret",
      rotateWebhookSecret: "secret",
      webhookDeliveries: "secret",
      retryWebhookDelivery: "secret",
      health: "none"
    })
  })

  it("reads each endpoint's body from its payload and its BodyLimit annotation", () => {
    const bodies = Object.fromEntries(Object.entries(Api.requirements()).map(([name, r]) => [name, r.body]))
    expect(bodies).toEqual({
      track: "default",
      trackBatch: "batch",
      getContact: "none",
      listContacts: "none",
      contactEvents: "none",
      eraseContact: "none",
      updateContact: "default",
      liftSuppression: "none",
      eventsStream: "none",
      listSegments: "none",
      createSegment: "default",
      getSegment: "none",
      updateSegment: "default",
      deleteSegment: "none",
      segmentContacts: "none",
      contactSegments: "none",
      queryContacts: "default",
      createWebhook: "default",
      listWebhooks: "none",
      getWebhook: "none",
      updateWebhook: "default",
      deleteWebhook: "none",
      rotateWebhookSecret: "none",
      webhookDeliveries: "none",
      retryWebhookDelivery: "none",
      health: "none"
    })
  })
})
