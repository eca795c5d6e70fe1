/**
 * A processor that keeps revenue per contact from `purchase` events (`data.amount`, a number) in
 * its own table, exactly once: its writes go through the store's `SqlClient`, so they commit in
 * the same transaction as the processor's checkpoint. An erased contact's rows are deleted.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as EventStore from "@tracklog/core/EventStore"
import * as Processor from "@tracklog/core/Processor"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** The processor's name: its checkpoint and lease are kept under it. */
export const name = "example.revenue"

/** Its own table, created if absent. */
export const migrate = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql`CREATE TABLE IF NOT EXISTS revenue (
    contact_id text PRIMARY KEY,
    project_id text NOT NULL,
    total numeric NOT NULL,
    purchases integer NOT NULL
  )`)

/** Applies a batch of events to the table. */
export const handle = (events: ReadonlyArray<EventStore.RecordedEvent>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (const recorded of events) {
      const event = recorded.event
      if (event._tag === "ContactErased") {
        yield* sql`DELETE FROM revenue WHERE contact_id = ${event.contactId}`
      } else if (
        event._tag === "EventTracked" && event.name === "purchase" && typeof event.data["amount"] === "number"
      ) {
        yield* sql`
          INSERT INTO revenue (contact_id, project_id, total, purchases)
          VALUES (${recorded.streamId}, ${recorded.projectId}, ${event.data["amount"]}, 1)
          ON CONFLICT (contact_id) DO UPDATE SET total = revenue.total + EXCLUDED.total, purchases = revenue.purchases + 1`
      }
    }
  })

/** The processor, run until it fails. `batchDelay` slows each batch down, for the crash test. */
export const run = (
  options: { readonly batchDelay?: Duration.DurationInput | undefined; readonly onActive?: (active: boolean) => void } =
    {}
) =>
  Processor.run({
    name,
    batchSize: 50,
    leaseTtl: Duration.seconds(3),
    onActive: options.onActive,
    handle: (events) =>
      options.batchDelay === undefined
        ? handle(events)
        : Effect.zipLeft(handle(events), Effect.sleep(options.batchDelay))
  })

/** Revenue per contact, as stored. */
export const totals = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) =>
    sql<{ contact_id: string; total: string; purchases: number }>`
    SELECT contact_id, total::text, purchases FROM revenue ORDER BY contact_id`
)
