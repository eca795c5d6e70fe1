/**
 * `pnpm tracklog segments rebuild [<id>]` on PostgreSQL (`MembershipStore.rebuild`, behaviour
 * §11.3): one segment's membership forgotten, or all of it and the processor's checkpoint. A
 * database of their own per backend: a rebuild of everything touches every row.
 */
import { expect, layer } from "@effect/vitest"
import * as Contact from "@tracklog/core/Contact"
import * as Ids from "@tracklog/core/Ids"
import * as EventStore from "@tracklog/core/EventStore"
import * as Membership from "@tracklog/core/Membership"
import * as NewContact from "@tracklog/core/testing/NewContact"
import * as Processor from "@tracklog/core/Processor"
import * as SegmentStore from "@tracklog/core/SegmentStore"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { create, segmentOf, snapshotOf, writeOf } from "./segmentFixtures.js"

// Two segments, both built; two contacts in both, each with a deadline per segment.
const given = Effect.gen(function*() {
  const ids = yield* Ids.Ids
  const store = yield* EventStore.EventStore
  const membership = yield* Membership.MembershipStore
  const projectId = yield* ids.next
  const a = segmentOf(projectId, yield* ids.next, "a")
  const b = segmentOf(projectId, yield* ids.next, "b", { createdAt: new Date(a.createdAt.getTime() + 1) })
  yield* create(a)
  yield* create(b)
  const contacts: Array<Contact.Contact> = []
  for (const email of ["x@x.io", "y@x.io"]) {
    const first = yield* NewContact.firstAppend(projectId, email)
    yield* store.append(first.append)
    contacts.push(Contact.fold(first.events)!)
  }
  yield* membership.write(writeOf({
    snapshots: contacts.map((contact) =>
      snapshotOf(contact, { segments: { [a.id]: 1, [b.id]: 2 }, deadlines: { [a.id]: 100, [b.id]: 200 }, due: 100 })
    ),
    joined: contacts.flatMap((contact) => [
      { segmentId: a.id, contactId: contact.id, at: 1 },
      { segmentId: b.id, contactId: contact.id, at: 2 }
    ]),
    progress: [a, b].map((s) => ({ segmentId: s.id, revision: 1, buildCursor: "~", built: true }))
  }))
  return { projectId, a, b, contacts }
})

for (const backend of TestDatabase.backends) {
  layer(Layer.merge(TestDatabase.layer(backend.database), Ids.layer), { excludeTestServices: true })(
    `membership rebuild: ${backend.name}`,
    (it) => {
      it.effect("of one segment: its members and built fields go, and each snapshot forgets it; the rest stays", () =>
        Effect.gen(function*() {
          const membership = yield* Membership.MembershipStore
          const segments = yield* SegmentStore.SegmentStore
          const { a, b, contacts, projectId } = yield* given
          yield* membership.rebuild(a.id)
          expect(yield* membership.count(a.id)).toBe(0)
          expect(yield* membership.count(b.id)).toBe(2)
          expect(yield* segments.get(projectId, a.id)).toEqual(Option.some(a))
          expect(yield* segments.get(projectId, b.id)).toEqual(
            Option.some({ ...b, builtRevision: 1, buildCursor: "~" })
          )
          const snapshots = yield* membership.snapshots(contacts.map((c) => c.id))
          for (const contact of contacts) {
            expect(snapshots.get(contact.id)).toEqual(
              snapshotOf(contact, { segments: { [b.id]: 2 }, deadlines: { [b.id]: 200 }, due: 200 })
            )
          }
          // Due now by the remaining deadline only.
          expect((yield* membership.due(150, 10)).filter((s) => s.contact.projectId === projectId)).toEqual([])
        }))

      it.effect("of everything: snapshots and members go, every segment is unbuilt, the processor starts over", () =>
        Effect.gen(function*() {
          const membership = yield* Membership.MembershipStore
          const segments = yield* SegmentStore.SegmentStore
          const processors = yield* Processor.ProcessorStore
          const { a, b, contacts, projectId } = yield* given
          const from = Option.getOrThrow(yield* processors.claim(Membership.ProcessorName, "me", Duration.seconds(30)))
          const to = { transactionId: 7n, position: 9n }
          yield* processors.commit(Membership.ProcessorName, "me", from, to, Effect.void)
          yield* membership.rebuild(undefined)
          expect((yield* membership.snapshots(contacts.map((c) => c.id))).size).toBe(0)
          expect(yield* membership.count(a.id)).toBe(0)
          expect(yield* membership.count(b.id)).toBe(0)
          expect(yield* segments.list(projectId)).toEqual([a, b])
          const status = Option.getOrThrow(yield* processors.status(Membership.ProcessorName))
          expect(status.checkpoint).toEqual(EventStore.start)
          // The lease stays with its holder, whose next commit from its old checkpoint fails.
          expect(status.owner).toEqual(Option.some("me"))
          const stale = yield* Effect.flip(processors.commit(Membership.ProcessorName, "me", to, to, Effect.void))
          expect(stale._tag).toBe("CheckpointConflict")
        }))
    }
  )
}
