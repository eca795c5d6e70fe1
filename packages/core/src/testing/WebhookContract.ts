/**
 * The store contract of webhooks (behaviour §12): endpoints by compare-and-set, the outbox's
 * exactly-once queueing, leases, the order per contact and endpoint, attempts, pages, manual
 * retries, erasure (behaviour §7), and the dispatcher queueing each matching event once even with
 * two instances running. Run by every store package against its own Layer.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Commands from "../Commands.js"
import * as EraseContact from "../EraseContact.js"
import * as EventStore from "../EventStore.js"
import * as Ids from "../Ids.js"
import type * as LogStream from "../LogStream.js"
import * as Processor from "../Processor.js"
import type * as StorePorts from "../Store.js"
import * as WebhookDispatcher from "../WebhookDispatcher.js"
import type * as WebhookEndpoint from "../WebhookEndpoint.js"
import * as WebhookEndpoints from "../WebhookEndpoints.js"
import * as WebhookOutbox from "../WebhookOutbox.js"
import * as Track from "../Track.js"
import * as StoreContract from "./StoreContract.js"

/** What a store package provides. */
export type Store = StorePorts.Ports | LogStream.LogSource | Processor.ProcessorStore

const newProject = Effect.flatten(Effect.map(Ids.Ids, (ids) => ids.next))

const create = (projectId: string, events: ReadonlyArray<string> = ["*"], url = "https://example.com/hooks") =>
  Effect.map(
    WebhookEndpoints.execute(projectId, { _tag: "CreateEndpoint", url, events, description: null }),
    (state) => state!
  )

// A contact with one tracked event, and messages for an endpoint, as the dispatcher would queue them.
const contactWithEvents = (projectId: string, email: string, n = 1) =>
  Effect.gen(function*() {
    const { contactId } = yield* StoreContract.createContact(
      projectId,
      email,
      Array.from({ length: n }, (_, i) => StoreContract.tracked(`e${i}`))
    )
    const events = yield* (yield* EventStore.EventStore).readStream(contactId)
    return { contactId, events }
  })

const messagesFor = (
  endpoint: WebhookEndpoint.WebhookEndpoint,
  contactId: string,
  events: ReadonlyArray<EventStore.RecordedEvent>,
  at = new Date()
) =>
  Effect.gen(function*() {
    const ids = yield* Ids.Ids
    return events.map((event): WebhookOutbox.NewMessage => ({
      id: WebhookDispatcher.messageId(ids.make(at.getTime())),
      projectId: endpoint.projectId,
      endpointId: endpoint.id,
      contactId,
      eventId: event.id,
      type: "test",
      payload: JSON.stringify({ type: "test", event: event.id }),
      createdAt: at
    }))
  })

const lease = Duration.seconds(30)
const later = (ms: number) => new Date(Date.now() + ms)

// What a claim by `owner` at `now` hands out of these messages (others' tests share the queue): ids, sorted.
const claimOf = (messages: ReadonlyArray<WebhookOutbox.NewMessage>) => {
  const ours = new Set(messages.map((m) => m.id))
  return (owner: string, now: Date) =>
    Effect.flatMap(WebhookOutbox.WebhookOutbox, (outbox) =>
      Effect.map(
        outbox.claim({ owner, now, limit: 100, lease }),
        (claimed) => claimed.filter((m) => ours.has(m.id)).map((m) => m.id).sort()
      ))
}

const waitFor = <A, E, R>(effect: Effect.Effect<A, E, R>, until: (a: A) => boolean) =>
  effect.pipe(
    Effect.filterOrFail(until, () => new Error("not yet")),
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("condition not met within 10 s") })
  )

/** Runs the webhook contract against a store layer. */
export const run = <E>(name: string, store: Layer.Layer<Store, E>) =>
  layer(Commands.layer.pipe(Layer.provideMerge(Ids.layer), Layer.provideMerge(store)), {
    excludeTestServices: true
  })(`webhook contract: ${name}`, (it) => {
    describe("WebhookEndpoints", () => {
      it.effect("keeps an endpoint per project, changes it by compare-and-set, rotates and deletes it", () =>
        Effect.gen(function*() {
          const store = yield* WebhookEndpoints.WebhookEndpoints
          const projectId = yield* newProject
          const other = yield* newProject
          const made = yield* create(projectId, ["purchase", "segment.vip.*"])
          expect(made).toMatchObject({ projectId, enabled: true, events: ["purchase", "segment.vip.*"], version: 1 })
          expect(made.secret).toMatch(/^whsec_/)
          expect(Option.getOrNull(yield* store.get(projectId, made.id))).toEqual(made)
          expect(Option.isNone(yield* store.get(other, made.id))).toBe(true)
          expect((yield* store.list(projectId)).map((e) => e.id)).toEqual([made.id])
          expect(yield* store.list(other)).toEqual([])
          expect((yield* store.enabled).some((e) => e.id === made.id)).toBe(true)

          const stale = yield* Effect.flip(store.save(projectId, made.id, 0, made))
          expect(stale._tag).toBe("EndpointConflict")
          const foreign = yield* Effect.flip(store.save(other, made.id, 1, { ...made, projectId: other }))
          expect(foreign._tag).toBe("EndpointConflict")

          const off = yield* WebhookEndpoints.execute(projectId, {
            _tag: "UpdateEndpoint",
            endpointId: made.id,
            enabled: false
          })
          expect(off).toMatchObject({ enabled: false, version: 2 })
          expect((yield* store.enabled).some((e) => e.id === made.id)).toBe(false)
          const rotated = (yield* WebhookEndpoints.execute(projectId, { _tag: "RotateSecret", endpointId: made.id }))!
          expect(rotated.previous?.secret).toBe(made.secret)
          expect(rotated.secret).not.toBe(made.secret)
          expect(Option.getOrNull(yield* store.get(projectId, made.id))).toEqual(rotated)

          const refused = yield* Effect.flip(
            WebhookEndpoints.execute(other, { _tag: "DeleteEndpoint", endpointId: made.id })
          )
          expect(refused._tag).toBe("WebhookEndpointNotFound")
          yield* WebhookEndpoints.execute(projectId, { _tag: "DeleteEndpoint", endpointId: made.id })
          expect(Option.isNone(yield* store.get(projectId, made.id))).toBe(true)
        }))
    })

    describe("WebhookOutbox", () => {
      it.effect("queues a message once per endpoint and event, however often it is handed over", () =>
        Effect.gen(function*() {
          const outbox = yield* WebhookOutbox.WebhookOutbox
          const projectId = yield* newProject
          const endpoint = yield* create(projectId)
          const { contactId, events } = yield* contactWithEvents(projectId, "once@example.com", 2)
          const messages = yield* messagesFor(endpoint, contactId, events)
          expect((yield* outbox.enqueue(messages)).queued).toBe(3)
          // The same events again, with new message ids: a batch handled twice.
          expect((yield* outbox.enqueue(yield* messagesFor(endpoint, contactId, events))).queued).toBe(0)
          const page = yield* outbox.list(projectId, endpoint.id, { limit: 10 })
          expect(page.data.map((m) => m.id)).toEqual(messages.map((m) => m.id).reverse())
          expect(page.data.every((m) => m.status === "pending" && m.attempts.length === 0)).toBe(true)
        }))

      it.effect("a claim leases a message to one owner; another gets it only once the lease ran out", () =>
        Effect.gen(function*() {
          const outbox = yield* WebhookOutbox.WebhookOutbox
          const projectId = yield* newProject
          const endpoint = yield* create(projectId)
          const { contactId, events } = yield* contactWithEvents(projectId, "lease@example.com", 0)
          const [message] = yield* messagesFor(endpoint, contactId, events)
          yield* outbox.enqueue([message!])
          const mine = (m: WebhookOutbox.Message) => m.id === message!.id
          const now = later(1000)
          expect((yield* outbox.claim({ owner: "a", now, limit: 100, lease })).filter(mine)).toHaveLength(1)
          expect((yield* outbox.claim({ owner: "b", now, limit: 100, lease })).filter(mine)).toHaveLength(0)
          const after = later(Duration.toMillis(lease) + 2000)
          expect((yield* outbox.claim({ owner: "b", now: after, limit: 100, lease })).filter(mine)).toHaveLength(1)
          // `a` lost its lease: its attempt is not recorded.
          const attempt = { at: now, status: 200, durationMs: 1, error: null }
          expect(yield* outbox.settle(message!.id, "a", attempt, { _tag: "Delivered" })).toBe(false)
          expect(yield* outbox.settle(message!.id, "b", attempt, { _tag: "Delivered" })).toBe(true)
          const [stored] = (yield* outbox.list(projectId, endpoint.id, { limit: 1 })).data
          expect(stored).toMatchObject({ status: "delivered", nextAttemptAt: null, attempts: [attempt] })
        }))

      it.effect("for one contact and endpoint, a later message waits while an earlier one is pending; others do not", () =>
        Effect.gen(function*() {
          const outbox = yield* WebhookOutbox.WebhookOutbox
          const projectId = yield* newProject
          const endpoint = yield* create(projectId)
          const second = yield* create(projectId)
          const a = yield* contactWithEvents(projectId, "order-a@example.com", 1)
          const b = yield* contactWithEvents(projectId, "order-b@example.com", 0)
          const [a1, a2] = yield* messagesFor(endpoint, a.contactId, a.events)
          const [b1] = yield* messagesFor(endpoint, b.contactId, b.events)
          const [c1] = yield* messagesFor(second, a.contactId, a.events)
          yield* outbox.enqueue([a1!, a2!, b1!, c1!])
          const claim = claimOf([a1!, a2!, b1!, c1!])
          expect(yield* claim("s", later(100))).toEqual([a1!.id, b1!.id, c1!.id].sort())
          // a1 fails and is retried later: a2 still waits behind it.
          const failed = { at: new Date(), status: 500, durationMs: 1, error: "answered 500" }
          const delivered = { ...failed, status: 200, error: null }
          yield* outbox.settle(b1!.id, "s", delivered, { _tag: "Delivered" })
          yield* outbox.settle(c1!.id, "s", delivered, { _tag: "Delivered" })
          yield* outbox.settle(a1!.id, "s", failed, { _tag: "RetryAt", at: later(60_000) })
          expect(yield* claim("s", later(200))).toEqual([])
          expect(yield* claim("s", later(61_000))).toEqual([a1!.id])
          yield* outbox.settle(a1!.id, "s", delivered, { _tag: "Delivered" })
          expect(yield* claim("s", later(61_000))).toEqual([a2!.id])
        }))

      it.effect("queued under a lease, a message is leased only if a claim would hand it out then", () =>
        Effect.gen(function*() {
          const outbox = yield* WebhookOutbox.WebhookOutbox
          const projectId = yield* newProject
          const endpoint = yield* create(projectId)
          const off = yield* create(projectId)
          const excluded = yield* create(projectId)
          yield* WebhookEndpoints.execute(projectId, { _tag: "DisableEndpoint", endpointId: off.id })
          const a = yield* contactWithEvents(projectId, "lease-a@example.com", 1)
          const b = yield* contactWithEvents(projectId, "lease-b@example.com", 1)
          const c = yield* contactWithEvents(projectId, "lease-c@example.com", 0)
          const [a1, a2] = yield* messagesFor(endpoint, a.contactId, a.events)
          const [b1, b2] = yield* messagesFor(endpoint, b.contactId, b.events)
          const [c1] = yield* messagesFor(endpoint, c.contactId, c.events)
          const [offA] = yield* messagesFor(off, a.contactId, a.events)
          const [excludedA] = yield* messagesFor(excluded, a.contactId, a.events)
          // b1 is pending, unleased, before the leased call.
          expect((yield* outbox.enqueue([b1!])).leased).toEqual([])
          const until = later(Duration.toMillis(lease))
          const done = yield* outbox.enqueue([a1!, a2!, b2!, offA!, excludedA!, c1!], {
            owner: "here",
            until,
            limit: 10,
            exclude: [excluded.id]
          })
          expect(done.queued).toBe(6)
          // a2 waits behind a1 (same call), b2 behind b1 (stored), offA's endpoint is disabled.
          expect(done.leased.map((m) => m.id)).toEqual([a1!.id, c1!.id])
          expect(done.leased[0]).toMatchObject({ status: "pending", attempts: [], endpointId: endpoint.id })
          expect(done.leased[0]!.seq).toBeLessThan(done.leased[1]!.seq)
          const claim = claimOf([a1!, a2!, b1!, b2!, offA!, excludedA!, c1!])
          // Another sender gets what was not leased and is free to go: b1 and the excluded endpoint's.
          expect(yield* claim("other", later(100))).toEqual([b1!.id, excludedA!.id].sort())
          const delivered = { at: new Date(), status: 200, durationMs: 1, error: null }
          expect(yield* outbox.settle(a1!.id, "here", delivered, { _tag: "Delivered" })).toBe(true)
          expect(yield* outbox.settle(c1!.id, "other", delivered, { _tag: "Delivered" })).toBe(false)
          expect(yield* claim("other", later(200))).toEqual([a2!.id])
          for (const m of [a2, b1, excludedA]) {
            expect(yield* outbox.settle(m!.id, "other", delivered, { _tag: "Delivered" })).toBe(true)
          }
          // The lease runs out as a claimed one does: c1 goes to another sender then.
          expect(yield* claim("other", later(Duration.toMillis(lease) + 2000))).toEqual([b2!.id, c1!.id].sort())

          // At most `limit`, the first in queue order.
          const d = yield* contactWithEvents(projectId, "lease-d@example.com", 0)
          const e = yield* contactWithEvents(projectId, "lease-e@example.com", 0)
          const [d1] = yield* messagesFor(endpoint, d.contactId, d.events)
          const [e1] = yield* messagesFor(endpoint, e.contactId, e.events)
          const limited = yield* outbox.enqueue([d1!, e1!], { owner: "here", until, limit: 1 })
          expect(limited.leased.map((m) => m.id)).toEqual([d1!.id])
        }))

      it.effect("a disabled or excluded endpoint's messages are not claimed; a due retry is", () =>
        Effect.gen(function*() {
          const outbox = yield* WebhookOutbox.WebhookOutbox
          const projectId = yield* newProject
          const endpoint = yield* create(projectId)
          const { contactId, events } = yield* contactWithEvents(projectId, "off@example.com", 0)
          const [message] = yield* messagesFor(endpoint, contactId, events)
          yield* outbox.enqueue([message!])
          const mine = (claimed: ReadonlyArray<WebhookOutbox.Message>) => claimed.filter((m) => m.id === message!.id)
          yield* WebhookEndpoints.execute(projectId, { _tag: "DisableEndpoint", endpointId: endpoint.id })
          expect(mine(yield* outbox.claim({ owner: "x", now: later(10), limit: 100, lease }))).toHaveLength(0)
          yield* WebhookEndpoints.execute(projectId, { _tag: "UpdateEndpoint", endpointId: endpoint.id, enabled: true })
          const excluded = yield* outbox.claim({
            owner: "x",
            now: later(10),
            limit: 100,
            lease,
            exclude: [endpoint.id]
          })
          expect(mine(excluded)).toHaveLength(0)
          expect(mine(yield* outbox.claim({ owner: "x", now: later(10), limit: 100, lease }))).toHaveLength(1)
          yield* outbox.settle(message!.id, "x", { at: new Date(), status: null, durationMs: 3, error: "down" }, {
            _tag: "Failed"
          })
          expect(mine(yield* outbox.claim({ owner: "x", now: later(20), limit: 100, lease }))).toHaveLength(0)
          const retried = yield* outbox.retry(projectId, endpoint.id, message!.id, new Date())
          expect(Option.getOrNull(retried)).toMatchObject({ status: "pending", attempts: [{ error: "down" }] })
          expect(Option.isNone(yield* outbox.retry(projectId, endpoint.id, "msg_unknown", new Date()))).toBe(true)
          expect(mine(yield* outbox.claim({ owner: "x", now: later(30), limit: 100, lease }))).toHaveLength(1)
          expect((yield* outbox.depth).pending).toBeGreaterThanOrEqual(1)
        }))

      it.effect("lists an endpoint's messages newest first, by status, a page at a time", () =>
        Effect.gen(function*() {
          const outbox = yield* WebhookOutbox.WebhookOutbox
          const projectId = yield* newProject
          const endpoint = yield* create(projectId)
          const { contactId, events } = yield* contactWithEvents(projectId, "pages@example.com", 4)
          const messages = yield* messagesFor(endpoint, contactId, events)
          yield* outbox.enqueue(messages)
          const first = yield* outbox.list(projectId, endpoint.id, { limit: 2 })
          expect(first.hasMore).toBe(true)
          const second = yield* outbox.list(projectId, endpoint.id, { limit: 2, cursor: first.cursor })
          const third = yield* outbox.list(projectId, endpoint.id, { limit: 2, cursor: second.cursor })
          expect(third.hasMore).toBe(false)
          expect(third.cursor).toBeUndefined()
          expect([...first.data, ...second.data, ...third.data].map((m) => m.id)).toEqual(
            messages.map((m) => m.id).reverse()
          )
          expect((yield* outbox.list(projectId, endpoint.id, { limit: 10, status: "delivered" })).data).toEqual([])
          expect((yield* outbox.list(yield* newProject, endpoint.id, { limit: 10 })).data).toEqual([])
        }))

      it.effect("erasure drops the contact's messages and their payloads, and deleting an endpoint its own", () =>
        Effect.gen(function*() {
          const outbox = yield* WebhookOutbox.WebhookOutbox
          const projectId = yield* newProject
          const endpoint = yield* create(projectId)
          const erased = yield* contactWithEvents(projectId, "erase-me@example.com", 2)
          const kept = yield* contactWithEvents(projectId, "keep-me@example.com", 0)
          yield* outbox.enqueue(yield* messagesFor(endpoint, erased.contactId, erased.events))
          yield* outbox.enqueue(yield* messagesFor(endpoint, kept.contactId, kept.events))
          yield* EraseContact.erase(projectId, { contactId: erased.contactId, suppress: false })
          const left = (yield* outbox.list(projectId, endpoint.id, { limit: 100 })).data
          expect(left.map((m) => m.contactId)).toEqual([kept.contactId])
          // Queued late (the dispatcher had read the events before the erasure): dropped all the same.
          expect((yield* outbox.enqueue(yield* messagesFor(endpoint, erased.contactId, erased.events))).queued).toBe(0)
          yield* WebhookEndpoints.execute(projectId, { _tag: "DeleteEndpoint", endpointId: endpoint.id })
          expect((yield* outbox.list(projectId, endpoint.id, { limit: 100 })).data).toEqual([])
        }))
    })

    describe("WebhookDispatcher", () => {
      it.effect("two dispatchers queue each matching event once per endpoint, with its name and data", () =>
        Effect.gen(function*() {
          const outbox = yield* WebhookOutbox.WebhookOutbox
          const projectId = yield* newProject
          const all = yield* create(projectId, ["*"])
          const vip = yield* create(projectId, ["segment.vip.*", "contact.created"])
          const off = yield* create(projectId, ["*"])
          yield* WebhookEndpoints.execute(projectId, { _tag: "DisableEndpoint", endpointId: off.id })
          const { contactId } = yield* StoreContract.createContact(projectId, "dispatch@example.com", [
            StoreContract.tracked("purchase", { amount: 3 }),
            StoreContract.tracked("segment.vip.entry"),
            StoreContract.tracked("segment.other.entry")
          ])
          const dispatcher = yield* WebhookDispatcher.make
          const instance = (n: number) =>
            Processor.run({ ...dispatcher, name: `webhooks-${projectId}`, projectId, instanceId: `d${n}` })
          const fibers = [yield* Effect.fork(instance(1)), yield* Effect.fork(instance(2))]
          const listed = (endpointId: string) =>
            Effect.map(outbox.list(projectId, endpointId, { limit: 100 }), (page) => page.data)
          yield* waitFor(listed(all.id), (data) => data.length >= 4)
          yield* waitFor(listed(vip.id), (data) => data.length >= 2)
          // Time for a second instance to do something wrong, had it been let.
          yield* Effect.sleep("300 millis")
          const toAll = yield* listed(all.id)
          expect(toAll.map((m) => m.type).reverse()).toEqual([
            "contact.created",
            "purchase",
            "segment.vip.entry",
            "segment.other.entry"
          ])
          expect(toAll.every((m) => m.contactId === contactId)).toBe(true)
          expect(JSON.parse(toAll[2]!.payload)).toMatchObject({
            type: "purchase",
            data: { contact: contactId, email: "dispatch@example.com", name: "purchase", data: { amount: 3 } }
          })
          expect((yield* listed(vip.id)).map((m) => m.type).reverse()).toEqual(["contact.created", "segment.vip.entry"])
          expect(yield* listed(off.id)).toEqual([])
          yield* Effect.forEach(fibers, Fiber.interrupt)
        }))

      it.effect("an event of a contact it has not seen yet carries the email as of that event, read from the stream", () =>
        Effect.gen(function*() {
          const outbox = yield* WebhookOutbox.WebhookOutbox
          const track = yield* Track.Track
          const projectId = yield* newProject
          const name = `webhooks-late-${projectId}`
          const dispatcher = yield* WebhookDispatcher.make
          const run = Processor.run({ ...dispatcher, name, projectId })
          // Seen while nothing matched: the dispatcher kept nothing of the contact.
          yield* track.track(projectId, { email: "before@example.com", event: "early" })
          const first = yield* Effect.fork(run)
          yield* waitFor(Processor.lag(name, projectId), (lag) => lag.events === 0)
          yield* Fiber.interrupt(first)
          const hook = yield* create(projectId, ["late"])
          yield* track.track(projectId, { email: "before@example.com", event: "late", data: { n: 1 } })
          const second = yield* Effect.fork(run)
          const [message] = yield* waitFor(
            Effect.map(outbox.list(projectId, hook.id, { limit: 10 }), (page) => page.data),
            (data) => data.length === 1
          )
          expect(JSON.parse(message!.payload)).toMatchObject({
            type: "late",
            data: { email: "before@example.com", name: "late", data: { n: 1 } }
          })
          yield* Fiber.interrupt(second)
        }))
    })
  })
