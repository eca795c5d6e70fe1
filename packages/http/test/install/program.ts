// A program an embedder writes after `npm i @tracklog/core @tracklog/store-memory @tracklog/http`:
// the core's Track service in code, and the web handler, over the in-memory store.
import * as Contacts from "@tracklog/core/Contacts"
import * as Ids from "@tracklog/core/Ids"
import * as Commands from "@tracklog/core/Commands"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as WebHandler from "@tracklog/http/WebHandler"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as StorePostgres from "@tracklog/store-postgres/StorePostgres"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

const inCode = Effect.gen(function*() {
  const track = yield* Track.Track
  const contacts = yield* Contacts.Contacts
  const command = TrackCommand.decode({ email: " Ada@Example.com ", event: "signup" })
  if (Either.isLeft(command)) return yield* Effect.die("rejected")
  yield* track.track("project", command.right)
  const contact = yield* contacts.findByEmail("project", "ada@example.com")
  return Option.getOrThrow(contact).email
}).pipe(Effect.provide(Commands.layer.pipe(Layer.provideMerge(StoreMemory.layer), Layer.provideMerge(Ids.layer))))

const email = await Effect.runPromise(inCode)

const web = await WebHandler.fromLayer(StoreMemory.layer, {
  keys: [{ publicKey: "pk_app", secretKey: "sk_app" }],
  requestLog: false
})
const answer = await web.handler(
  new Request("http://app.local/v1/track", {
    method: "POST",
    headers: { authorization: "Bearer pk_app", "content-type": "application/json" },
    body: JSON.stringify({ email: "grace@example.com", event: "signup" })
  })
)
const body = (await answer.json()) as { success: boolean }
await web.dispose()

// Internal modules are not part of the API: the exports map refuses them.
const internal = "@tracklog/core/internal/keyedLock"
const blocked = await import(internal).then(() => "exported", (e: { code?: string }) => e.code)

console.log(JSON.stringify({
  email,
  status: answer.status,
  success: body.success,
  blocked,
  postgresLayer: typeof StorePostgres.layer
}))
