import { describe, expect, it } from "@effect/vitest"
import * as WebhookSecret from "@tracklog/core/WebhookSecret"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"

describe("WebhookSecret: whsec_ and the base64 of the key (Standard Webhooks 1.0)", () => {
  it("fromBytes writes standard base64 with padding, as Buffer does", () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 24, maxLength: 64 }), (bytes) => {
      expect(WebhookSecret.fromBytes(bytes)).toBe("whsec_" + Buffer.from(bytes).toString("base64"))
    }))
  })

  it("a key outside 24–64 bytes is refused", () => {
    expect(() => WebhookSecret.fromBytes(new Uint8Array(23))).toThrow(RangeError)
    expect(() => WebhookSecret.fromBytes(new Uint8Array(65))).toThrow(RangeError)
  })

  it.effect("generate makes valid, different secrets of 32 bytes", () =>
    Effect.gen(function*() {
      const a = yield* WebhookSecret.generate
      const b = yield* WebhookSecret.generate
      expect(a).not.toBe(b)
      expect(WebhookSecret.isValid(a)).toBe(true)
      expect(Buffer.from(a.slice("whsec_".length), "base64")).toHaveLength(32)
    }))

  it("isValid holds for every secret fromBytes makes", () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 24, maxLength: 64 }), (bytes) => {
      expect(WebhookSecret.isValid(WebhookSecret.fromBytes(bytes))).toBe(true)
    }))
  })

  it("isValid refuses a missing prefix, bad base64, and keys too short or too long", () => {
    const ok = WebhookSecret.fromBytes(new Uint8Array(24).fill(7))
    expect(WebhookSecret.isValid(ok)).toBe(true)
    for (
      const bad of [
        ok.slice("whsec_".length),
        "WHSEC_" + ok.slice(6),
        ok + "=",
        ok.slice(0, -1),
        ok.replace("B", "-"),
        "whsec_" + Buffer.alloc(23).toString("base64"),
        "whsec_" + Buffer.alloc(65).toString("base64"),
        "whsec_"
      ]
    ) {
      expect(WebhookSecret.isValid(bad), bad).toBe(false)
    }
    expect(WebhookSecret.isValid("whsec_" + Buffer.alloc(64).toString("base64"))).toBe(true)
  })
})
