/**
 * Ids as an injected service, so tests can make them deterministic. The default makes UUIDv7s:
 * time-ordered, so contact and event ids sort by creation.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** Makes new unique ids. */
export class Ids extends Context.Tag("@tracklog/core/Ids")<Ids, {
  /** A new id for something made at `millis` (from the `Clock`): no clock read of its own. */
  readonly make: (millis: number) => string
  readonly next: Effect.Effect<string>
}>() {}

const hexDigit = Array.from("0123456789abcdef", (c) => c.charCodeAt(0))
// Where each byte's two hex digits go in the 36 characters (dashes at 8, 13, 18 and 23).
const digitAt = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34]
const bytes = new Uint8Array(16)
const text = new Uint8Array(36).fill(0x2d)

/**
 * Formats a UUIDv7 from a millisecond timestamp and 10 random bytes. The text is made in one
 * piece: a string built by `+=` is a tree of fragments, ~490 bytes per id instead of ~65, and
 * ids are kept for as long as the log is.
 */
export const uuidv7 = (millis: number, random: Uint8Array): string => {
  let t = millis
  for (let i = 5; i >= 0; i--) {
    bytes[i] = t % 256
    t = Math.floor(t / 256)
  }
  for (let i = 0; i < 10; i++) bytes[6 + i] = random[i]!
  bytes[6] = 0x70 | (bytes[6]! & 0x0f)
  bytes[8] = 0x80 | (bytes[8]! & 0x3f)
  for (let i = 0; i < 16; i++) {
    const at = digitAt[i]!
    text[at] = hexDigit[bytes[i]! >> 4]!
    text[at + 1] = hexDigit[bytes[i]! & 15]!
  }
  return String.fromCharCode.apply(null, text as unknown as Array<number>)
}

/** True for a UUID in its canonical lowercase text form. */
export const isUuid = (s: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s)

// Random bytes are drawn in blocks: one getRandomValues call per 400 ids instead of per id.
const randomSource = () => {
  const block = new Uint8Array(4000)
  let offset = block.length
  return (): Uint8Array => {
    if (offset === block.length) {
      crypto.getRandomValues(block)
      offset = 0
    }
    const out = block.subarray(offset, offset + 10)
    offset += 10
    return out
  }
}

/** UUIDv7 ids, time from the `Clock` (so `TestClock` drives it), randomness from Web Crypto. */
export const layer: Layer.Layer<Ids> = Layer.sync(Ids, () => {
  const random = randomSource()
  return fromMake((millis) => uuidv7(millis, random()))
})

const fromMake = (make: (millis: number) => string) => ({ make, next: Effect.map(Clock.currentTimeMillis, make) })
