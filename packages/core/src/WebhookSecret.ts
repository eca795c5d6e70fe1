/**
 * A webhook endpoint's signing secret, as Standard Webhooks 1.0 writes it: `whsec_` and the base64
 * of 24–64 random bytes (the HMAC key). Kept in full, unlike API keys, because signing needs it;
 * shown once, when it is made.
 */
import * as Effect from "effect/Effect"

/** The prefix every secret has. */
export const Prefix = "whsec_"
/** Fewest key bytes Standard Webhooks accepts. */
export const MinBytes = 24
/** Most key bytes Standard Webhooks accepts. */
export const MaxBytes = 64
/** Key bytes of a new secret: SHA-256's block-sized key strength, well inside the range. */
export const DefaultBytes = 32

const Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// Standard base64 with padding, what receivers' libraries decode; written here because core has no
// runtime built-ins (no Buffer) and `btoa` takes text, not bytes.
const base64 = (bytes: Uint8Array): string => {
  let out = ""
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!
    const b = bytes[i + 1]
    const c = bytes[i + 2]
    out += Alphabet[a >> 2]! + Alphabet[((a & 3) << 4) | ((b ?? 0) >> 4)]!
    out += b === undefined ? "=" : Alphabet[((b & 15) << 2) | ((c ?? 0) >> 6)]!
    out += c === undefined ? "=" : Alphabet[c & 63]!
  }
  return out
}

/** The secret of these key bytes (24–64 of them; a `RangeError` otherwise). */
export const fromBytes = (bytes: Uint8Array): string => {
  if (bytes.length < MinBytes || bytes.length > MaxBytes) {
    throw new RangeError(`a webhook secret has ${MinBytes}–${MaxBytes} bytes, not ${bytes.length}`)
  }
  return Prefix + base64(bytes)
}

/** A new secret of `DefaultBytes` random bytes (Web Crypto). */
export const generate: Effect.Effect<string> = Effect.sync(() =>
  fromBytes(crypto.getRandomValues(new Uint8Array(DefaultBytes)))
)

const Shape = /^whsec_(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** True for `whsec_` and well-formed base64 of 24–64 bytes. */
export const isValid = (secret: string): boolean => {
  if (!Shape.test(secret)) return false
  const text = secret.slice(Prefix.length)
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0
  const bytes = (text.length / 4) * 3 - padding
  return bytes >= MinBytes && bytes <= MaxBytes
}
