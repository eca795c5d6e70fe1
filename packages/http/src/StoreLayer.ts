/**
 * The store the configuration names, with the `Track` service over it. Composition happens
 * here, once, at the edge.
 */
import type * as CommandHandler from "@tracklog/core/CommandHandler"
import * as Commands from "@tracklog/core/Commands"
import * as Ids from "@tracklog/core/Ids"
import * as SegmentProcessor from "@tracklog/core/SegmentProcessor"
import * as Segments from "@tracklog/core/Segments"
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
      return StorePostgres.layer({ url: store.url, preparedStatements: store.prepare })
    case "embedded":
      // PGlite serves one connection at a time: a pool of one.
      return Layer.unwrapScoped(
        Effect.map(
          EmbeddedPostgres.make({ dataDir: store.dataDir }),
          ({ url }) => StorePostgres.layer({ url, maxConnections: 1 })
        )
      )
  }
}

/**
 * The commands (`Commands.layer`), `Segments`, the segment processor (behaviour §11.3, where the
 * store has a live log) and `Ids` over a store's ports.
 */
export const services = <A, E, R>(store: Layer.Layer<A, E, R>, handler: CommandHandler.Options = {}) =>
  Layer.mergeAll(Commands.layerWith(handler), Segments.layer, SegmentProcessor.layerWhereLive()).pipe(
    Layer.provideMerge(store),
    Layer.provideMerge(Ids.layer)
  )

/** Store ports, the commands and `Ids` for the configured store; `handler` tunes the command handler. */
export const layer = (store: ServerConfig.Store, handler: CommandHandler.Options = {}) =>
  services(storeOf(store), handler)

/** As `layer`, with every store operation timed into the metrics (`TRACKLOG_METRICS`). */
export const instrumented = (store: ServerConfig.Store, handler: CommandHandler.Options = {}) =>
  services(Metrics.instrumentStore(storeOf(store)), handler)

/** The store ports alone, without the command services: for tools such as the CLI. */
export const storeLayer = (store: ServerConfig.Store) => storeOf(store)
