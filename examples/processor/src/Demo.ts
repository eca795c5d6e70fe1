/** A few purchases tracked through the core, so the embedded demo has something to add up. */
import * as Ids from "@tracklog/core/Ids"
import * as Commands from "@tracklog/core/Commands"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"

export const purchases = Effect.gen(function*() {
  const track = yield* Track.Track
  for (
    const [email, amount] of [["ada@example.com", 30], ["ada@example.com", 12.5], ["bob@example.com", 99]] as const
  ) {
    const command = TrackCommand.decode({ email, event: "purchase", data: { amount } })
    if (Either.isRight(command)) yield* track.track("demo-project", command.right)
  }
}).pipe(Effect.provide(Commands.layer.pipe(Layer.provideMerge(Ids.layer))))
