/**
 * Per-key rate limits (behaviour §9): a token bucket per API key, in this process only. Several
 * server processes each keep their own buckets, so N processes allow up to N times the rate.
 *
 * Buckets are keyed by the key's SHA-256, never the key. Unknown keys count too (the limit is
 * checked before the key is looked up, so a flood of guesses is throttled like any caller), and
 * memory stays bounded: a bucket that has refilled is idle and dropped, and past `maxBuckets`
 * the least recently used bucket goes first (that key starts again with a full burst).
 */
import * as Either from "effect/Either"

/** Requests per second and the burst a bucket holds. */
export interface Limit {
  readonly perSecond: number
  readonly burst: number
}

/** Parses `TRACKLOG_RATE_LIMIT`: `<requests per second>[:<burst>]`; the burst defaults to the rate. */
export const parse = (text: string): Either.Either<Limit, string> => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?::\s*(\d+)\s*)?$/.exec(text)
  const perSecond = match === null ? NaN : Number(match[1])
  const burst = match?.[2] === undefined ? Math.max(1, Math.ceil(perSecond)) : Number(match[2])
  if (!(perSecond > 0) || !Number.isFinite(perSecond) || !(burst >= 1) || !Number.isSafeInteger(burst)) {
    return Either.left("expected <requests per second>[:<burst>], both positive, e.g. 100 or 100:200")
  }
  return Either.right({ perSecond, burst })
}

/** The answer for one request: go on, or wait `retryAfterSeconds`. */
export type Decision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number }

interface Bucket {
  tokens: number
  at: number
}

/** A limiter. `buckets()` says how many it holds now. */
export interface RateLimiter {
  readonly take: (keyHash: string) => Decision
  readonly buckets: () => number
}

const allowed: Decision = { allowed: true }

/** A limiter over a clock in milliseconds (injected for tests). */
export const make = (
  limit: Limit,
  options: { readonly maxBuckets?: number; readonly now?: () => number } = {}
): RateLimiter => {
  const now = options.now ?? (() => performance.now())
  const maxBuckets = options.maxBuckets ?? 10_000
  // Insertion order is recency order: a touched bucket is moved to the end.
  const buckets = new Map<string, Bucket>()
  const refillMillis = (limit.burst / limit.perSecond) * 1000
  let lastSweep = now()

  // Drops every bucket that has refilled: it behaves exactly like a missing one.
  const sweep = (t: number) => {
    lastSweep = t
    for (const [hash, bucket] of buckets) if (t - bucket.at >= refillMillis) buckets.delete(hash)
  }

  const take = (keyHash: string): Decision => {
    const t = now()
    let bucket = buckets.get(keyHash)
    if (bucket === undefined) {
      if (buckets.size >= maxBuckets) {
        if (t - lastSweep >= Math.min(refillMillis, 1000)) sweep(t)
        // Still full: the least recently used goes.
        if (buckets.size >= maxBuckets) buckets.delete(buckets.keys().next().value!)
      }
      bucket = { tokens: limit.burst, at: t }
    } else {
      buckets.delete(keyHash)
      bucket.tokens = Math.min(limit.burst, bucket.tokens + ((t - bucket.at) / 1000) * limit.perSecond)
      bucket.at = t
    }
    buckets.set(keyHash, bucket)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return allowed
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / limit.perSecond)) }
  }

  return { take, buckets: () => buckets.size }
}
