/**
 * behaviour §5.1 limits of the event stream: pings when idle, and a client that never reads does not
 * make the server buffer without bound (it is dropped once its socket stops taking data).
 */
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as Contacts from "@tracklog/core/Contacts"
import * as EventStore from "@tracklog/core/EventStore"
import * as LogStream from "@tracklog/core/LogStream"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Net from "node:net"
import { expect, it } from "vitest"
import * as EventStream from "../src/EventStream.js"
import { projectA, request, start } from "./TestServer.js"

it("an idle stream sends retry first, then `: ping` comments", async () => {
  const pieces = await Effect.runPromise(
    Effect.gen(function*() {
      const source = yield* LogStream.LogSource
      const contacts = yield* Contacts.Contacts
      const stream = yield* EventStream.make(source, contacts, "idle-project", { _tag: "Now" }, {
        pingInterval: "30 millis"
      })
      return Chunk.toReadonlyArray(yield* Stream.runCollect(Stream.take(stream, 3)))
    }).pipe(Effect.provide(StoreMemory.layer), Effect.timeout("5 seconds"))
  )
  expect(pieces).toEqual(["retry: 1000\n\n", ": ping\n\n", ": ping\n\n"])
})

it("a client that never reads is dropped once its socket is full, and the stream's fiber ends", async () => {
  const scope = Effect.runSync(Scope.make())
  try {
    const { running, url } = await Effect.runPromise(
      Scope.extend(start(StoreMemory.layer, { streamStallMillis: 300 }), scope)
    )
    const port = new URL(url).port
    const socket = Net.connect(Number(port), "127.0.0.1")
    await new Promise((resolve) => socket.once("connect", resolve))
    // Never read: the kernel buffers fill, then the server's writes stop draining.
    socket.pause()
    socket.write(`GET /events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${projectA.secretKey}\r\n\r\n`)
    const deadline = Date.now() + 10_000
    while (running.openStreams!() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    expect(running.openStreams!()).toBe(1)
    const big = "x".repeat(4000)
    let closed = false
    for (let i = 0; i < 4000 && !closed; i++) {
      await request(url, "POST", "/v1/track", {
        key: projectA.publicKey,
        body: { email: `slow${i % 50}@example.com`, event: "e", data: { big, i } }
      })
      if (i % 100 === 99) closed = running.openStreams!() === 0
    }
    while (running.openStreams!() > 0 && Date.now() < deadline + 20_000) await new Promise((r) => setTimeout(r, 20))
    expect(running.openStreams!()).toBe(0)
    socket.destroy()
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}, 60_000)

it("a contact.erased marker is sent with its id, contact and time only", async () => {
  const pieces = await Effect.runPromise(
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const source = yield* LogStream.LogSource
      const contacts = yield* Contacts.Contacts
      const contactId = "0190a000-0000-7000-8000-000000000001"
      const at = new Date("2026-01-02T03:04:05.678Z")
      const created = ContactEvent.ContactCreated.make({
        contactId,
        projectId: "erasing",
        email: "gone@example.com",
        subscribed: true,
        at
      })
      const contact = Contact.fold([created])!
      yield* store.append({
        streamId: contactId,
        expectedVersion: 0,
        events: [{ id: "e1", event: created }],
        projection: { _tag: "Upsert", contact }
      })
      // The marker as the erase command appends it (behaviour §7): the contact's earlier events go.
      const erased = ContactEvent.ContactErased.make({ contactId, at })
      yield* store.append({
        streamId: contactId,
        expectedVersion: 1,
        events: [{ id: "e2", event: erased }],
        projection: { _tag: "Erase", projectId: contact.projectId, suppress: false }
      })
      const stream = yield* EventStream.make(source, contacts, "erasing", {
        _tag: "After",
        checkpoint: { transactionId: 0n, position: 0n }
      })
      return Chunk.toReadonlyArray(yield* Stream.runCollect(Stream.take(stream, 2)))
    }).pipe(Effect.provide(StoreMemory.layer), Effect.timeout("5 seconds"))
  )
  const frames = pieces[1]!.split("\n\n").filter((f) => f.length > 0)
  expect(frames).toHaveLength(1)
  const [marker] = frames
  expect(marker!.split("\n").slice(1)).toEqual([
    "event: contact.erased",
    `data: {"id":"e2","contact":"0190a000-0000-7000-8000-000000000001","timestamp":"2026-01-02T03:04:05.678Z"}`
  ])
})
