/**
 * Hex text of bytes, and SHA-256 of text as hex: what key hashes, request fingerprints and
 * suppression hashes are stored as.
 */
import * as Effect from "effect/Effect"

/** Lowercase hex of the bytes. */
export const hex = (bytes: Uint8Array): string => {
  let s = ""
  for (const b of bytes) s += b.toString(16).padStart(2, "0")
  return s
}

/** Hex SHA-256 of the UTF-8 text (Web Crypto). */
export const sha256Hex = (text: string): Effect.Effect<string> =>
  Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))).pipe(
    Effect.map((digest) => hex(new Uint8Array(digest)))
  )
