import { expect, it } from "@effect/vitest"
import * as Suppressions from "@tracklog/core/Suppressions"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as EmailHash from "../src/internal/emailHash.js"

it.effect.prop("the store's synchronous hash is the core's Web Crypto one", [
  FastCheck.hexaString({ minLength: 64, maxLength: 64 }),
  FastCheck.emailAddress()
], ([secret, email]) =>
  Effect.gen(function*() {
    expect(EmailHash.emailHash(secret, email)).toBe(yield* Suppressions.emailHash(secret, email))
  }), { fastCheck: { numRuns: 200 } })
