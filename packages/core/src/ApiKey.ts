/**
 * API keys: `pk_…` (public, track only) and `sk_…` (secret, every route). Only their SHA-256
 * hashes are ever stored.
 */
import * as Effect from "effect/Effect"

/** The two kinds of key a project has. */
export type Kind = "public" | "secret"

const hex = (bytes: Uint8Array): string => {
  let s = ""
  for (const b of bytes) s += b.toString(16).padStart(2, "0")
  return s
}

/** The stored form of a key: hex SHA-256. Equal hashes are compared, never keys. */
export const hash = (key: string): Effect.Effect<string> =>
  Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode(key))).pipe(
    Effect.map((digest) => hex(new Uint8Array(digest)))
  )

/** A new random key of the given kind: 32 bytes of entropy. */
export const generate = (kind: Kind): string => {
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  return (kind === "public" ? "pk_" : "sk_") + hex(bytes)
}
