/**
 * Pages bounded by bytes (`EventStore.readAll` and `LogStream.LogSource.read` with `maxBytes`), as
 * the segment processor and the webhook dispatcher read the log: each page stops before the event
 * that would take its payloads past the bound, never before its first, and the pages together are
 * the log, in order, with no gap. Every write records its events' sizes; an event written before
 * the sizes were (migration 0010) counts at its stored size.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as LogStream from "@tracklog/core/LogStream"
import { createContact, readAllFrom, tracked } from "@tracklog/core/testing/StoreContract"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const project = "page-bytes"
// Payloads of ~1 KB to ~24 KB, so a 30 000-byte page holds one to a few dozen of them.
const sizes = [1, 24, 3, 3, 3, 12, 12, 1, 1, 1, 1, 20, 2, 8]

const seed = Effect.forEach(
  sizes,
  (kb, i) => createContact(project, `bytes${i}@example.com`, [tracked("sized", { blob: "x".repeat(kb * 1024) })]),
  {
    discard: true
  }
)

// The payload sizes the store recorded, by event id.
const recordedBytes = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ id: string; bytes: number | null; text_bytes: number }>`
    SELECT id, bytes, octet_length(data::text) AS text_bytes FROM events WHERE project_id = ${project}`
  return rows
})

// Every page read with `read` from the start until one comes back with no events.
const pages = (read: (after: EventStore.Checkpoint) => Effect.Effect<EventStore.Batch, unknown>) =>
  Effect.gen(function*() {
    const out: Array<EventStore.Batch> = []
    let at = EventStore.start
    for (;;) {
      const page = yield* read(at)
      if (page.events.length === 0) return out
      out.push(page)
      at = page.checkpoint
    }
  })

const MaxBytes = 30_000

// Each page stops where the bound says: what comes before its last event is within the bound,
// and the event after it (if a next page has it, and the page was not cut by its count) did not fit.
const checkPages = (
  paged: ReadonlyArray<ReadonlyArray<EventStore.RecordedEvent>>,
  bytes: ReadonlyMap<string, number>,
  limit: number
) => {
  for (const [k, page] of paged.entries()) {
    const total = page.reduce((sum, e) => sum + bytes.get(e.id)!, 0)
    expect(total - bytes.get(page.at(-1)!.id)!).toBeLessThan(MaxBytes)
    if (k + 1 < paged.length && page.length < limit) expect(total).toBeGreaterThanOrEqual(MaxBytes)
  }
  return paged.flat().map((e) => e.id)
}

for (const backend of TestDatabase.backends) {
  layer(Layer.merge(TestDatabase.layer(backend.database), Ids.layer), { excludeTestServices: true })(
    `pages bounded by bytes: ${backend.name}`,
    (it) => {
      it.effect("every append records its events' sizes: their JSON text", () =>
        Effect.gen(function*() {
          yield* seed
          const rows = yield* recordedBytes
          expect(rows.length).toBe(sizes.length * 2)
          for (const row of rows) expect(row.bytes).toBe(row.text_bytes)
        }))

      it.effect("readAll and LogSource.read, whole log and one project: pages within the bound, together the log", () =>
        Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const source = yield* LogStream.LogSource
          const bytes = new Map((yield* recordedBytes).map((r) => [r.id, r.bytes!]))
          const whole = (yield* readAllFrom(EventStore.start)).events.filter((e) => e.projectId === project)
          const expected = whole.map((e) => e.id)
          expect(expected.length).toBe(sizes.length * 2)

          for (
            const read of [
              (at: EventStore.Checkpoint) => store.readAll(at, 100, MaxBytes),
              (at: EventStore.Checkpoint) => source.read(at, 100, undefined, MaxBytes),
              (at: EventStore.Checkpoint) => source.read(at, 100, project, MaxBytes)
            ]
          ) {
            const paged = (yield* pages(read)).map((page) => page.events.filter((e) => e.projectId === project))
              .filter((page) => page.length > 0)
            expect(checkPages(paged, bytes, 100)).toEqual(expected)
            // 92 KB of payloads over a 30 000-byte bound: three pages at least.
            expect(paged.length).toBeGreaterThanOrEqual(3)
          }
          // A page that stopped at its bytes says so: a short page is then no sign of the log's end.
          const cuts = (yield* pages((at) => store.readAll(at, 100, MaxBytes))).map((page) => page.cut)
          expect(cuts.length).toBeGreaterThanOrEqual(3)
          expect(cuts.slice(0, -1).every((cut) => cut === true)).toBe(true)
          expect((yield* store.readAll(EventStore.start, 100)).cut).not.toBe(true)
          // A bound below any event: one event a page, never none.
          const single = yield* pages((at) => source.read(at, 100, project, 1))
          expect(single.map((page) => page.events.length)).toEqual(expected.map(() => 1))
          // No bound: one page.
          expect((yield* source.read(EventStore.start, 100, project)).events.map((e) => e.id)).toEqual(expected)
        }))

      it.effect("an event written without its size counts at its stored size", () =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const store = yield* EventStore.EventStore
          yield* sql`UPDATE events SET bytes = NULL WHERE project_id = ${project}`
          const paged = yield* pages((at) => store.readAll(at, 100, MaxBytes))
          const ids = paged.flatMap((page) => page.events).filter((e) => e.projectId === project).map((e) => e.id)
          expect(ids.length).toBe(sizes.length * 2)
          // "x" repeated compresses: stored sizes are small, so the pages are few.
          expect(paged.length).toBeLessThanOrEqual(2)
        }))
    }
  )
}
