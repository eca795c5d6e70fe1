/**
 * Segment definitions on PostgreSQL (`SegmentStore`, behaviour §11): decisions on the current
 * rows, one at a time per project, across pools; on the server and on the embedded Postgres.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Backup from "@tracklog/core/Backup"
import * as Ids from "@tracklog/core/Ids"
import * as Membership from "@tracklog/core/Membership"
import * as SegmentStore from "@tracklog/core/SegmentStore"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as StorePostgres from "../src/StorePostgres.js"
import { create, segmentOf, writeOf } from "./segmentFixtures.js"

for (const backend of TestDatabase.backends) {
  layer(Layer.merge(TestDatabase.layer(backend.database), Ids.layer), { excludeTestServices: true })(
    `segment store: ${backend.name}`,
    (it) => {
      describe("update", () => {
        it.effect("writes what the decision puts; list, get and all read it back as written", () =>
          Effect.gen(function*() {
            const store = yield* SegmentStore.SegmentStore
            const projectId = yield* (yield* Ids.Ids).next
            const vip = segmentOf(projectId, `${projectId}-vip`, "vip")
            const later = segmentOf(projectId, `${projectId}-later`, "later", {
              createdAt: new Date(vip.createdAt.getTime() + 1),
              deletedAt: new Date(vip.createdAt.getTime() + 2)
            })
            expect(yield* create(vip)).toBe(vip.id)
            expect(yield* create(later)).toBe(later.id)
            expect(yield* store.list(projectId)).toEqual([vip, later])
            expect(yield* store.get(projectId, later.id)).toEqual(Option.some(later))
            expect(yield* store.get("another project", later.id)).toEqual(Option.none())
            const all = yield* store.all
            expect(all.filter((s) => s.projectId === projectId)).toEqual([vip, later])
          }))

        it.effect("a decision sees the current segments; a Left writes nothing", () =>
          Effect.gen(function*() {
            const store = yield* SegmentStore.SegmentStore
            const projectId = yield* (yield* Ids.Ids).next
            const vip = segmentOf(projectId, `${projectId}-vip`, "vip")
            yield* create(vip)
            expect(yield* Effect.either(create(segmentOf(projectId, `${projectId}-other`, "vip")))).toEqual(
              Either.left("taken")
            )
            const seen = yield* store.update(projectId, (current) => Either.right({ put: [], answer: current }))
            expect(seen).toEqual([vip])
            const renamed = { ...vip, name: "Very important" }
            yield* store.update(projectId, () => Either.right({ put: [renamed], answer: undefined }))
            expect(yield* store.list(projectId)).toEqual([renamed])
          }))

        it.effect("two pools creating one slug at once: exactly one wins", () =>
          Effect.gen(function*() {
            const db = yield* TestDatabase.CurrentDatabase
            const pools = yield* Effect.all(
              [0, 1].map(() => Layer.build(StorePostgres.layer({ url: db.url, maxConnections: db.maxConnections }))),
              { concurrency: 2 }
            )
            const projectId = yield* (yield* Ids.Ids).next
            const outcomes = yield* Effect.forEach(
              Array.from({ length: 10 }, (_, i) => i),
              (i) =>
                Effect.either(create(segmentOf(projectId, `${projectId}-${i}`, "same"))).pipe(
                  Effect.provide(pools[i % 2]!)
                ),
              { concurrency: "unbounded" }
            )
            expect(outcomes.filter(Either.isRight)).toHaveLength(1)
            expect(outcomes.filter(Either.isLeft).map((o) => o.left)).toEqual(Array(9).fill("taken"))
            const store = yield* SegmentStore.SegmentStore
            expect((yield* store.list(projectId)).map((s) => s.slug)).toEqual(["same"])
          }).pipe(Effect.scoped), { timeout: 60_000 })

        it.effect("a decision that keeps the revision keeps the processor's built fields; a new revision takes its own", () =>
          Effect.gen(function*() {
            const store = yield* SegmentStore.SegmentStore
            const membership = yield* Membership.MembershipStore
            const projectId = yield* (yield* Ids.Ids).next
            const vip = segmentOf(projectId, `${projectId}-vip`, "vip")
            yield* create(vip)
            // The decision read the segment before the processor moved its pass on.
            const read = (yield* store.get(projectId, vip.id)).pipe(Option.getOrThrow)
            yield* membership.write(writeOf({
              progress: [{ segmentId: vip.id, revision: 1, buildCursor: "m", built: true }]
            }))
            yield* store.update(projectId, () => Either.right({ put: [{ ...read, name: "Renamed" }], answer: 0 }))
            expect(yield* store.get(projectId, vip.id)).toEqual(
              Option.some({ ...vip, name: "Renamed", builtRevision: 1, buildCursor: "m" })
            )
            const edited = { ...read, revision: 2, builtRevision: 1, buildCursor: "" }
            yield* store.update(projectId, () => Either.right({ put: [edited], answer: 0 }))
            expect(yield* store.get(projectId, vip.id)).toEqual(Option.some(edited))
          }))

        it.effect("a deleted segment frees its slug, kept with its deletion time", () =>
          Effect.gen(function*() {
            const store = yield* SegmentStore.SegmentStore
            const projectId = yield* (yield* Ids.Ids).next
            const vip = segmentOf(projectId, `${projectId}-vip`, "vip")
            yield* create(vip)
            const deleted = { ...vip, deletedAt: new Date() }
            yield* store.update(projectId, () => Either.right({ put: [deleted], answer: 0 }))
            const again = segmentOf(projectId, `${projectId}-vip2`, "vip", {
              createdAt: new Date(vip.createdAt.getTime() + 1)
            })
            expect(yield* create(again)).toBe(again.id)
            expect(yield* store.list(projectId)).toEqual([deleted, again])
          }))
      })

      it.effect(
        "export then import carries the definitions, not how far their membership was built",
        () =>
          Effect.gen(function*() {
            const membership = yield* Membership.MembershipStore
            const projectId = yield* (yield* Ids.Ids).next
            const vip = segmentOf(projectId, `${projectId}-vip`, "vip", { revision: 3 })
            const gone = segmentOf(projectId, `${projectId}-gone`, "gone", {
              createdAt: new Date(vip.createdAt.getTime() + 1),
              deletedAt: new Date()
            })
            yield* create(vip)
            yield* create(gone)
            yield* membership.write(writeOf({
              progress: [{ segmentId: vip.id, revision: 3, buildCursor: "~", built: true }]
            }))
            const items = yield* Stream.runCollect((yield* Backup.Backup).export)
            const target = yield* Layer.build(TestDatabase.layer(backend.database))
            yield* Effect.flatMap(Backup.Backup, (backup) => backup.import(Stream.fromChunk(items))).pipe(
              Effect.provide(target)
            )
            const imported = yield* Effect.flatMap(SegmentStore.SegmentStore, (s) => s.list(projectId)).pipe(
              Effect.provide(target)
            )
            expect(imported).toEqual([vip, gone])
          }).pipe(Effect.scoped),
        { timeout: 60_000 }
      )
    }
  )
}
