/**
 * Webhook endpoints (`WebhookEndpoints`, behaviour §12) on PostgreSQL: one row per endpoint, its
 * state as JSON, written by compare-and-set of its version. Deleting one deletes its messages
 * (`ON DELETE CASCADE`).
 */
import type * as WebhookEndpoint from "@tracklog/core/WebhookEndpoint"
import * as WebhookEndpoints from "@tracklog/core/WebhookEndpoints"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Database from "./database.js"

interface StoredState extends Omit<WebhookEndpoint.WebhookEndpoint, "createdAt" | "updatedAt" | "previous"> {
  readonly createdAt: string
  readonly updatedAt: string
  readonly previous: { readonly secret: string; readonly until: string } | null
}

const encode = (endpoint: WebhookEndpoint.WebhookEndpoint): string =>
  JSON.stringify(
    {
      ...endpoint,
      createdAt: endpoint.createdAt.toISOString(),
      updatedAt: endpoint.updatedAt.toISOString(),
      previous: endpoint.previous === null
        ? null
        : { secret: endpoint.previous.secret, until: endpoint.previous.until.toISOString() }
    } satisfies StoredState
  )

// `pg` hands `json` columns over parsed.
const decode = (row: { state: StoredState }): WebhookEndpoint.WebhookEndpoint => ({
  ...row.state,
  createdAt: new Date(row.state.createdAt),
  updatedAt: new Date(row.state.updatedAt),
  previous: row.state.previous === null
    ? null
    : { secret: row.state.previous.secret, until: new Date(row.state.previous.until) }
})

/** The `WebhookEndpoints` of a Postgres store. */
export const make = (db: Database.Database): WebhookEndpoints.WebhookEndpoints["Type"] => {
  const { guard, sql } = db
  return WebhookEndpoints.WebhookEndpoints.of({
    get: (projectId, endpointId) =>
      guard(sql<{ state: StoredState }>`
        SELECT state FROM webhook_endpoints WHERE id = ${endpointId} AND project_id = ${projectId}`).pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), decode))
      ),
    list: (projectId) =>
      guard(sql<{ state: StoredState }>`
        SELECT state FROM webhook_endpoints WHERE project_id = ${projectId} ORDER BY created_at, id`).pipe(
        Effect.map((rows) => rows.map(decode))
      ),
    enabled: guard(sql<{ state: StoredState }>`SELECT state FROM webhook_endpoints WHERE enabled`).pipe(
      Effect.map((rows) => rows.map(decode))
    ),
    save: (projectId, endpointId, expectedVersion, next) =>
      Effect.gen(function*() {
        const rows = next === null
          ? yield* guard(sql`
              DELETE FROM webhook_endpoints
              WHERE id = ${endpointId} AND project_id = ${projectId} AND version = ${expectedVersion}
              RETURNING id`)
          : expectedVersion === 0
          ? yield* guard(sql`
              INSERT INTO webhook_endpoints (id, project_id, state, enabled, version, created_at)
              VALUES (${endpointId}, ${projectId}, ${encode(next)}::json, ${next.enabled}, ${next.version},
                ${next.createdAt.toISOString()}::timestamptz)
              ON CONFLICT (id) DO NOTHING RETURNING id`)
          : yield* guard(sql`
              UPDATE webhook_endpoints SET state = ${encode(next)}::json, enabled = ${next.enabled},
                version = ${next.version}
              WHERE id = ${endpointId} AND project_id = ${projectId} AND version = ${expectedVersion}
              RETURNING id`)
        if (rows.length === 0) return yield* new WebhookEndpoints.EndpointConflict({ endpointId })
      })
  })
}
