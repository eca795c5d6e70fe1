/**
 * API keys: `pk_…` (public, track only) and `sk_…` (secret, every route). Only their SHA-256
 * hashes are ever stored.
 */
import type * as Effect from "effect/Effect"
import * as Digest from "./internal/digest.js"

/** The two kinds of key a project has. */
export type Kind = "public" | "secret"

/** The stored form of a key: hex SHA-256. Equal hashes are compared, never keys. */
export const hash = (key: string): Effect.Effect<string> => Digest.sha256Hex(key)

/** A new random key of the given kind: 32 bytes of entropy. */
export const generate = (kind: Kind): string => {
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  return (kind === "public" ? "pk_" : "sk_") + Digest.hex(bytes)
}
