/**
 * The store the configuration names, with the `Track` service over it. Composition happens
 * here, once, at the edge.
 */
import * as Ids from "@tracklog/core/Ids"
import * as Track from "@tracklog/core/Track"
import * as EmbeddedPostgres from "@tracklog/store-postgres/EmbeddedPostgres"
import * as StorePostgres from "@tracklog/store-postgres/StorePostgres"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metrics from "./Metrics.js"
import type * as ServerConfig from "./ServerConfig.js"

const storeOf = (store: ServerConfig.Store) => {
  switch (store._tag) {
    case "memory":
      return StoreMemory.layer
    case "postgres":
      return StorePostgres.layer({ url: store.url })
    case "embedded":
      // PGlite serves one connection at a time: a pool of one.
      return Layer.unwrapScoped(
        Effect.map(EmbeddedPostgres.make({ dataDir: store.dataDir }), ({ url }) =>
          StorePostgres.layer({ url, maxConnections: 1 }))
      )
  }
}

/** Store ports, `Track` and `Ids` for the configured store. */
export const layer = (store: ServerConfig.Store) =>
  Track.layer.pipe(Layer.provideMerge(storeOf(store)), Layer.provideMerge(Ids.layer))

/** As `layer`, with every store operation timed into the metrics (`TRACKLOG_METRICS`). */
export const instrumented = (store: ServerConfig.Store) =>
  Track.layer.pipe(Layer.provideMerge(Metrics.instrumentStore(storeOf(store))), Layer.provideMerge(Ids.layer))

/** The store ports alone, without `Track`: for tools such as the CLI. */
export const storeLayer = (store: ServerConfig.Store) => storeOf(store)
