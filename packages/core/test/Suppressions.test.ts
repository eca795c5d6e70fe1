import { describe, expect, it } from "@effect/vitest"
import * as Suppressions from "@tracklog/core/Suppressions"
import * as Effect from "effect/Effect"
import { createHmac } from "node:crypto"

describe("Suppressions.emailHash", () => {
  it.effect("is HMAC-SHA-256, hex (RFC 4231 test case 2)", () =>
    Effect.gen(function*() {
      expect(yield* Suppressions.emailHash("Jefe", "what do ya want for nothing?")).toBe(
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
      )
    }))

  it.effect("is keyed: another secret gives another hash, and never the email itself", () =>
    Effect.gen(function*() {
      const a = Suppressions.newSecret()
      const b = Suppressions.newSecret()
      expect(a).toMatch(/^[0-9a-f]{64}$/)
      expect(a).not.toBe(b)
      const email = "ada@example.com"
      const hash = yield* Suppressions.emailHash(a, email)
      expect(hash).toBe(createHmac("sha256", a).update(email).digest("hex"))
      expect(yield* Suppressions.emailHash(b, email)).not.toBe(hash)
      expect(yield* Suppressions.emailHash(a, email)).toBe(hash)
    }))
})
