/**
 * The webhook dispatcher with no endpoint (behaviour §12): it has nothing to queue, so it does not
 * read the log, and its checkpoint still follows the log's head; the first endpoint created gets
 * what is tracked after it.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Commands from "@tracklog/core/Commands"
import * as Ids from "@tracklog/core/Ids"
import * as LogStream from "@tracklog/core/LogStream"
import * as Processor from "@tracklog/core/Processor"
import * as Track from "@tracklog/core/Track"
import * as WebhookDispatcher from "@tracklog/core/WebhookDispatcher"
import * as WebhookEndpoints from "@tracklog/core/WebhookEndpoints"
import * as WebhookOutbox from "@tracklog/core/WebhookOutbox"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

const services = Commands.layer.pipe(Layer.provideMerge(StoreMemory.layer), Layer.provideMerge(Ids.layer))

const until = <A, R>(effect: Effect.Effect<A, unknown, R>, done: (a: A) => boolean) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 10_000
    for (;;) {
      const a = yield* Effect.orDie(effect)
      if (done(a)) return a
      if (Date.now() > deadline) return yield* Effect.die(new Error("condition not met within 10 s"))
      yield* Effect.sleep("10 millis")
    }
  })

describe("WebhookDispatcher with no endpoint", () => {
  it.live("reads nothing of the log and keeps its checkpoint at the head; an endpoint created then gets what follows", () =>
    Effect.gen(function*() {
      const track = yield* Track.Track
      const source = yield* LogStream.LogSource
      const outbox = yield* WebhookOutbox.WebhookOutbox
      let reads = 0
      const counted = LogStream.LogSource.of({
        ...source,
        read: (...args) => Effect.suspend(() => (reads++, source.read(...args)))
      })
      const dispatcher = yield* WebhookDispatcher.make
      expect(yield* dispatcher.wanted!).toBe(false)
      yield* track.track("p", { email: "early@example.com", event: "early" })
      const running = yield* Effect.fork(
        Processor.run(dispatcher).pipe(Effect.provideService(LogStream.LogSource, counted))
      )
      yield* until(Processor.lag(WebhookDispatcher.Name), (lag) => lag.events === 0)
      yield* track.track("p", { email: "early@example.com", event: "passed" })
      yield* until(Processor.lag(WebhookDispatcher.Name), (lag) => lag.events === 0)
      expect(reads).toBe(0)
      const endpoint = yield* WebhookEndpoints.execute("p", {
        _tag: "CreateEndpoint",
        url: "https://example.com/hooks",
        events: ["*"],
        description: null
      })
      expect(yield* dispatcher.wanted!).toBe(true)
      yield* track.track("p", { email: "early@example.com", event: "late" })
      const messages = yield* until(
        Effect.map(outbox.list("p", endpoint!.id, { limit: 10 }), (page) => page.data),
        (data) => data.length >= 1
      )
      expect(messages.map((m) => m.type)).toEqual(["late"])
      expect(JSON.parse(messages[0]!.payload)).toMatchObject({ data: { email: "early@example.com", name: "late" } })
      expect(reads).toBeGreaterThan(0)
      yield* Fiber.interrupt(running)
      expect(Option.isSome(yield* (yield* Processor.ProcessorStore).status(WebhookDispatcher.Name))).toBe(true)
    }).pipe(Effect.provide(services)))
})
