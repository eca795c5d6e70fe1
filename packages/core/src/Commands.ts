/**
 * The commands over a store's ports, composed in one place: the command pipeline
 * (`CommandHandler`) and the `Track` service on it. The other contact commands (`EraseContact`,
 * `ContactUpdate`) are handlings the pipeline runs as they are; they need no layer of their own.
 */
import * as Layer from "effect/Layer"
import * as CommandHandler from "./CommandHandler.js"
import type * as Contacts from "./Contacts.js"
import type * as EventStore from "./EventStore.js"
import type * as Ids from "./Ids.js"
import type * as Suppressions from "./Suppressions.js"
import * as Track from "./Track.js"

/** What the commands provide. */
export type Services = CommandHandler.CommandHandler | Track.Track

/** What they need: a store's ports and ids. */
export type Requirements = EventStore.EventStore | Contacts.Contacts | Suppressions.Suppressions | Ids.Ids

/** The commands, with the handler's options (cache budget, idempotency TTL). */
export const layerWith = (options: CommandHandler.Options): Layer.Layer<Services, never, Requirements> =>
  Track.layer.pipe(Layer.provideMerge(CommandHandler.layerWith(options)))

/** The commands with default options. */
export const layer: Layer.Layer<Services, never, Requirements> = layerWith({})
