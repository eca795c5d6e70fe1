/**
 * The official Plunk Node client, pointed at our `/v1/`, tracks events as it would against Plunk.
 */
import * as PlunkModule from "@plunk/node"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { afterAll, beforeAll, expect, it } from "vitest"
import { projectA, request, start } from "./TestServer.js"

const scope = Effect.runSync(Scope.make())
let base = ""
beforeAll(async () => {
  base = (await Effect.runPromise(Scope.extend(start(StoreMemory.layer), scope))).url
})
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

// The package is CommonJS with `exports.default`; how that arrives depends on the loader.
type PlunkClass = new(key: string, options?: { baseUrl?: string }) => {
  readonly events: {
    readonly track: (event: { email: string; event: string; data?: object; subscribed?: boolean }) => Promise<unknown>
  }
}
const unwrap = (m: unknown): PlunkClass =>
  typeof m === "function" ? (m as PlunkClass) : unwrap((m as { default: unknown }).default)
const PlunkClient = unwrap(PlunkModule)

it("@plunk/node events.track works against our server with a public key", async () => {
  const plunk = new PlunkClient(projectA.publicKey, { baseUrl: `${base}/v1/` })
  const result = await plunk.events.track({
    email: "Client@Example.com",
    event: "signed-up",
    data: { plan: "pro", orderId: { value: "o-1", persistent: false } }
  }) as unknown as { success: boolean; data: { contact: string; event: string; timestamp: string } }
  expect(result.success).toBe(true)
  const contact = await request(base, "GET", `/contacts/${result.data.contact}`, { key: projectA.secretKey })
  expect(contact.body).toMatchObject({ email: "client@example.com", subscribed: true, data: { plan: "pro" } })
})

it("@plunk/node surfaces our 401 as its TokenError and our 422 as an error", async () => {
  const wrong = new PlunkClient("pk_wrong", { baseUrl: `${base}/v1/` })
  const error = await wrong.events.track({ email: "a@b.co", event: "e" }).catch((e: unknown) => e)
  expect((error as Error).constructor.name).toBe("TokenError")
  const plunk = new PlunkClient(projectA.publicKey, { baseUrl: `${base}/v1/` })
  await expect(plunk.events.track({ email: "a@b.co", event: "email.sent" })).rejects.toThrow()
})
