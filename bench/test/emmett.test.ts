/**
 * The Emmett baseline does the same work as tracklog's track, so the benchmark compares like
 * with like: the same answers to the conformance rows it can answer (auth, validation, success
 * envelope, one contact per email), the same events decided for each command as our own
 * TrackDecider, and its inline projection equal to our fold of those events.
 */
import * as Contact from "@tracklog/core/Contact"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as TrackDecider from "@tracklog/core/TrackDecider"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { createRequire } from "node:module"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
// @ts-expect-error: a plain .mjs baseline, no declarations
import * as Emmett from "../baselines/emmett-http.mjs"

const pg = createRequire(import.meta.url)("pg")
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

describe("the Emmett baseline", () => {
  const scope = Effect.runSync(Scope.make())
  let server: { url: string; eventStore: any; close: () => Promise<void> }
  let db: TestDatabase.Database
  beforeAll(async () => {
    db = await Effect.runPromise(Scope.extend(TestDatabase.server, scope))
    server = await Emmett.start(db.url)
  })
  afterAll(async () => {
    await server?.close()
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  const track = async (body: unknown, key: string | null = "pk_bench") => {
    const response = await fetch(`${server.url}/v1/track`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(key === null ? {} : { authorization: `Bearer ${key}` }) },
      body: JSON.stringify(body)
    })
    return { status: response.status, body: await response.json() as any }
  }

  it("answers 401 without a key or with a wrong one, and 422 for an invalid body, writing nothing", async () => {
    expect((await track({ email: "a@example.com", event: "e" }, null)).status).toBe(401)
    expect((await track({ email: "a@example.com", event: "e" }, "pk_other")).status).toBe(401)
    expect((await track({ email: "not-an-email", event: "e" })).body).toMatchObject({
      success: false,
      error: { code: "VALIDATION_ERROR" }
    })
    expect((await track({ email: "a@example.com" })).status).toBe(422)
    const stream = await server.eventStore.readStream(Emmett.streamId("a@example.com"))
    expect(stream.events).toEqual([])
  })

  it("decides the same events as TrackDecider for each command, and projects the same contact", async () => {
    const bodies = [
      {
        email: "Same@Example.com",
        event: "signup",
        data: { plan: "free", seats: 1, once: { value: 1, persistent: false } }
      },
      { email: "same@example.com", event: "upgrade", data: { plan: "pro", seats: 1 } },
      {
        email: " same@example.com ",
        event: "leave",
        subscribed: false,
        data: { seats: null, kept: { value: [1, 2], persistent: true } }
      },
      { email: "same@example.com", event: "again", subscribed: false, data: { plan: "pro" } },
      { email: "same@example.com", event: "back", subscribed: true, preserveExistingSubscription: true }
    ]
    let state: Contact.State = null
    const contactIds = new Set<string>()
    let version = 0
    for (const body of bodies) {
      const answer = await track(body)
      expect(answer.status).toBe(200)
      expect(answer.body.data.contact).toMatch(uuid)
      expect(answer.body.data.event).toMatch(uuid)
      contactIds.add(answer.body.data.contact)
      const command = Either.getOrThrow(TrackCommand.decode(body))
      const ours = TrackDecider.decide(command, state, {
        projectId: "bench",
        contactId: answer.body.data.contact,
        now: new Date()
      })
      const stream = await server.eventStore.readStream(Emmett.streamId("same@example.com"))
      const theirs = stream.events.slice(version)
      version = stream.events.length
      expect(theirs.map((e: any) => e.type)).toEqual(ours.map((e) => e._tag))
      const tracked = theirs[theirs.length - 1]
      expect(tracked.data).toMatchObject({
        eventId: answer.body.data.event,
        name: command.event,
        data: command.data ?? {}
      })
      state = Contact.fold(ours, state)
    }
    expect(contactIds.size).toBe(1)
    const client = new pg.Client(db.url)
    await client.connect()
    try {
      const { rows } = await client.query("SELECT data FROM contacts WHERE _id = $1", [
        Emmett.streamId("same@example.com")
      ])
      expect(rows[0].data).toMatchObject({
        contactId: state!.id,
        email: state!.email,
        subscribed: state!.subscribed,
        data: state!.data
      })
      expect(state).toMatchObject({ subscribed: false, data: { plan: "pro", kept: [1, 2] } })
    } finally {
      await client.end()
    }
  })
})
