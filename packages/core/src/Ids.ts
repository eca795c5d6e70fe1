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

const hex: Array<string> = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/** Formats a UUIDv7 from a millisecond timestamp and 10 random bytes. */
export const uuidv7 = (millis: number, random: Uint8Array): string => {
  const b = new Uint8Array(16)
  let t = millis
  for (let i = 5; i >= 0; i--) {
    b[i] = t % 256
    t = Math.floor(t / 256)
  }
  b.set(random.subarray(0, 10), 6)
  b[6] = 0x70 | (b[6]! & 0x0f)
  b[8] = 0x80 | (b[8]! & 0x3f)
  let s = ""
  for (let i = 0; i < 16; i++) {
    s += hex[b[i]!]
    if (i === 3 || i === 5 || i === 7 || i === 9) s += "-"
  }
  return s
}

/** True for a UUID in its canonical lowercase text form. */
export const isUuid = (s: string): boolean =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s)

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

/** Deterministic ids for tests: UUIDv7 shaped, time from the `Clock`, a counter for the rest. */
export const layerTest: Layer.Layer<Ids> = Layer.sync(Ids, () => {
  let counter = 0
  return fromMake((millis) => {
    const bytes = new Uint8Array(10)
    let n = ++counter
    for (let i = 9; i >= 2; i--) {
      bytes[i] = n % 256
      n = Math.floor(n / 256)
    }
    return uuidv7(millis, bytes)
  })
})
