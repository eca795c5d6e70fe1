/**
 * Which key each endpoint wants is stated once, in `Api` (behaviour §1.1), and the handlers take it
 * from there: public or secret on the track route, secret on the reads, none on health.
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
      health: "none"
    })
  })
})
