/**
 * JSON values as they arrive on the wire and as they are stored: the payload of contact data and
 * of tracked events.
 */
import type * as Arbitrary from "effect/Arbitrary"
import * as Schema from "effect/Schema"

/** Any JSON value. */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | JsonObject

/** A JSON object. Keys keep their insertion order. */
export interface JsonObject {
  readonly [key: string]: Json
}

/** True for a plain JSON object: not null, not an array. */
export const isObject = (u: unknown): u is JsonObject => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Builds an object from entries with own data properties only: `obj[k] = v` would treat a
 * `__proto__` key as the prototype, and a contact's data must keep such a key as plain data.
 */
export const fromEntries = (entries: Iterable<readonly [string, Json]>): JsonObject =>
  globalThis.Object.fromEntries(entries) as JsonObject

// Values as JSON text gives them back: `fc.jsonValue` makes -0, which JSON writes as 0, and no
// store could return it.
const jsonValueArbitrary: Arbitrary.LazyArbitrary<Json> = (fc) =>
  fc.jsonValue({ maxDepth: 3 }).map((value) =>
    JSON.parse(JSON.stringify(value))
  ) as unknown as import("effect/FastCheck").Arbitrary<Json>

/**
 * A JSON object, checked but not copied: decoding is the identity, so nothing about the input
 * (key order, `__proto__` keys) is changed on the way in.
 */
export const Object: Schema.Schema<JsonObject> = Schema.declare(isObject, {
  identifier: "JsonObject",
  description: "A JSON object",
  jsonSchema: { type: "object" },
  arbitrary: () => (fc) =>
    fc.dictionary(fc.string({ maxLength: 12 }), jsonValueArbitrary(fc), { maxKeys: 6 }).map(
      (record) => fromEntries(globalThis.Object.entries(record))
    )
})

/** Structural equality of two JSON values; key order is not significant. */
export const equals = (a: Json, b: Json): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => equals(x, b[i] as Json))
  }
  if (Array.isArray(b)) return false
  const oa = a as JsonObject
  const ob = b as JsonObject
  const ka = globalThis.Object.keys(oa)
  return ka.length === globalThis.Object.keys(ob).length &&
    ka.every((k) => globalThis.Object.hasOwn(ob, k) && equals(oa[k] as Json, ob[k] as Json))
}
