// Bulk-loads contacts straight into a tracklog database (the store is not what is measured while
// filling it): contact n gets the email seed<n>@example.com, a stream of ContactCreated and one
// EventTracked, encoded as the store encodes them, so any reader of the log decodes them.
import { createRequire } from "node:module"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { pg, root } from "./common.mjs"

/**
 * Statements that add contacts `from`..`to` (inclusive) to `projectId`, with emails
 * `<prefix><n>@example.com` and `tracked` EventTracked events each.
 */
export const seedStatements = (projectId, from, to, { prefix = "seed", tracked = 1 } = {}) => {
  const range = `generate_series(${from}, ${to}) g`
  const p = projectId.replaceAll("'", "''")
  const version = 1 + tracked
  return [
    `INSERT INTO contacts (id, project_id, email, subscribed, data, created_at, updated_at, version)
     SELECT 'seed-' || g, '${p}', '${prefix}' || g || '@example.com', true, '{"plan":"free"}'::json, now(), now(), ${version} FROM ${range}`,
    `INSERT INTO streams (stream_id, version) SELECT 'seed-' || g, ${version} FROM ${range}`,
    `INSERT INTO events (stream_id, project_id, version, id, type, data, created_at)
     SELECT 'seed-' || g, '${p}', 1, 'seed-' || g || '-1', 'ContactCreated',
       json_build_object('_tag', 'ContactCreated', 'contactId', 'seed-' || g, 'projectId', '${p}',
         'email', '${prefix}' || g || '@example.com', 'subscribed', true, 'at', now()), now()
     FROM ${range}`,
    `INSERT INTO events (stream_id, project_id, version, id, type, data, created_at)
     SELECT 'seed-' || g, '${p}', v, 'seed-' || g || '-' || v, 'EventTracked',
       json_build_object('_tag', 'EventTracked', 'name', 'signup', 'data', '{"plan":"free"}'::json, 'at', now()), now()
     FROM ${range}, generate_series(2, ${version}) v`
  ]
}

const projectQuery = "SELECT project_id FROM api_keys ORDER BY project_id LIMIT 1"

/** Seeds a database on the PostgreSQL server; returns the project's id. */
export const seedServer = async (url, from, to, options) => {
  const client = new pg.Client(url)
  await client.connect()
  try {
    const projectId = (await client.query(projectQuery)).rows[0].project_id
    for (const statement of seedStatements(projectId, from, to, options)) await client.query(statement)
    return projectId
  } finally {
    await client.end()
  }
}

/** Seeds an embedded store's data directory (no server may hold it meanwhile). */
export const seedEmbedded = async (dataDir, from, to) => {
  const require = createRequire(join(root, "packages/store-postgres/package.json"))
  const { PGlite } = await import(pathToFileURL(require.resolve("@electric-sql/pglite")).href)
  const db = await PGlite.create({ dataDir })
  try {
    const projectId = (await db.query(projectQuery)).rows[0].project_id
    for (const statement of seedStatements(projectId, from, to)) await db.exec(statement)
    return projectId
  } finally {
    await db.close()
  }
}
