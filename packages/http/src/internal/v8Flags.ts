import type * as ServerConfig from "../ServerConfig.js"

/**
 * The V8 flags the server sets on itself at start, by store, with `v8.setFlagsFromString` before
 * the code they concern runs: an operator starts it with plain `node` (or `pnpm start`), and
 * `NODE_OPTIONS` cannot carry them. V8 ignores a flag it does not know when set this way, so
 * `v8Flags.test.ts` checks each one on the command line, where it would be refused.
 */
export const forStore = (store: ServerConfig.Store["_tag"]): ReadonlyArray<string> => [
  // Allocation sites whose objects outlive a scavenge are allocated in the old generation from
  // then on, and their dead objects there kept each request's young objects alive until the next
  // full collection: ~9 KB of every track survived scavenges on PostgreSQL, ~2.4 KB without
  // this; server CPU per track ~9% lower (decision 0027).
  "--no-allocation-site-pretenuring",
  // V8 lets the heap grow to ~4× what survives a full collection before the next one: ~36 MB
  // live became ~150 MB resident on the embedded store (RSS target 300 MB), and 400 KB contacts
  // took a PostgreSQL-backed server's heap to ~330 MB between collections, so whether its RSS
  // stayed under issue 15's 400 MB after them depended on when it was read. 2× held the RSS
  // ~60 MB lower embedded and the peak at ~330 MB rather than ~500–600 MB on PostgreSQL, at no
  // measured CPU cost (decision 0019). The memory store keeps its whole log in this heap: there
  // a tighter growth would only collect a large live set more often.
  ...(store === "memory" ? [] : ["--heap-growing-percent=100"]),
  ...(store === "embedded"
    ? [
      // PGlite is a WebAssembly module, and V8 compiles all of it twice by default: a quick tier
      // for every function at once, then an optimized one for the hot ones, keeping both.
      // Optimized code only: ~75 MB less RSS from the start, the same throughput, a start ~1 s
      // longer (decision 0019). It concerns WebAssembly alone.
      "--no-liftoff"
    ]
    : [])
]
