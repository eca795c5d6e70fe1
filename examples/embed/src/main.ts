/**
 * Embedding tracklog: the core's `Track` service over the in-memory store, in a plain program.
 * Run: pnpm --filter @tracklog/example-embed start
 */
import * as Contacts from "@tracklog/core/Contacts"
import * as Ids from "@tracklog/core/Ids"
import * as Commands from "@tracklog/core/Commands"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

// Composition happens once, here at the edge: the handler over a store, with ids.
const MainLayer = Commands.layer.pipe(Layer.provideMerge(StoreMemory.layer), Layer.provideMerge(Ids.layer))

const program = Effect.gen(function*() {
  const track = yield* Track.Track
  const contacts = yield* Contacts.Contacts
  const projectId = "example-project"

  // Requests are validated by decoding them, exactly as the HTTP server does.
  const bodies: Array<unknown> = [
    { email: " Ada@Example.com ", event: "signup", data: { plan: "free", firstName: "Ada" } },
    {
      email: "ada@example.com",
      event: "purchase",
      data: { plan: "pro", orderId: { value: "o-42", persistent: false } }
    },
    { email: "ada@example.com", event: "newsletter-optout", subscribed: false, data: { firstName: null } },
    { email: "not-an-email", event: "email.sent" }
  ]
  for (const body of bodies) {
    const decoded = TrackCommand.decode(body)
    if (Either.isLeft(decoded)) {
      console.log("rejected:", JSON.stringify(decoded.left.issues))
      continue
    }
    const result = yield* track.track(projectId, decoded.right)
    console.log("tracked:", JSON.stringify(result))
  }

  const contact = Option.getOrThrow(yield* contacts.findByEmail(projectId, "ada@example.com"))
  console.log("contact:", JSON.stringify(contact, null, 2))
  const timeline = yield* contacts.timeline(projectId, contact.id, { limit: 10 })
  console.log("events:", timeline.data.map((e) => e.name).join(", "))
})

Effect.runPromise(Effect.provide(program, MainLayer))
