// Baseline: the hand-written node:http + pg server doing the same work in one transaction per
// request: find-or-create the contact, merge its data, insert the event.
import { createRequire } from "node:module"
import { randomUUID } from "node:crypto"
import * as Http from "node:http"

const require = createRequire(import.meta.url)
const pg = require("pg")
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.BENCH_POOL ?? 10) })
const key = `Bearer ${process.env.BENCH_KEY ?? "pk_bench"}`
const project = "bench"

await pool.query(`CREATE TABLE IF NOT EXISTS bench_contacts (
  id uuid PRIMARY KEY, project_id text NOT NULL, email text NOT NULL, subscribed boolean NOT NULL DEFAULT true,
  data jsonb NOT NULL DEFAULT '{}', created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, email))`)
await pool.query(`CREATE TABLE IF NOT EXISTS bench_events (
  id uuid PRIMARY KEY, contact_id uuid NOT NULL REFERENCES bench_contacts (id), name text NOT NULL, data jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now())`)

const track = async (body) => {
  const email = body.email.trim().toLowerCase()
  const client = await pool.connect()
  try {
    await client.query("BEGIN")
    let row = (await client.query("SELECT id FROM bench_contacts WHERE project_id = $1 AND email = $2 FOR UPDATE", [
      project,
      email
    ])).rows[0]
    if (row === undefined) {
      row = (await client.query(
        "INSERT INTO bench_contacts (id, project_id, email) VALUES ($1, $2, $3) ON CONFLICT (project_id, email) DO NOTHING RETURNING id",
        [randomUUID(), project, email]
      )).rows[0]
      if (row === undefined) {
        row = (await client.query("SELECT id FROM bench_contacts WHERE project_id = $1 AND email = $2 FOR UPDATE", [
          project,
          email
        ])).rows[0]
      }
    }
    await client.query("UPDATE bench_contacts SET data = data || $2::jsonb, updated_at = now() WHERE id = $1", [
      row.id,
      JSON.stringify(body.data ?? {})
    ])
    const event = randomUUID()
    const at = (await client.query(
      "INSERT INTO bench_events (id, contact_id, name, data) VALUES ($1, $2, $3, $4) RETURNING created_at",
      [event, row.id, body.event, JSON.stringify(body.data ?? {})]
    )).rows[0].created_at
    await client.query("COMMIT")
    return { contact: row.id, event, timestamp: at.toISOString() }
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {})
    throw e
  } finally {
    client.release()
  }
}

const server = Http.createServer((req, res) => {
  const chunks = []
  req.on("data", (c) => chunks.push(c))
  req.on("end", () => {
    let body
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
    } catch {
      res.writeHead(400)
      return res.end()
    }
    if (req.headers.authorization !== key || typeof body?.email !== "string" || typeof body?.event !== "string") {
      res.writeHead(422)
      return res.end()
    }
    track(body).then((data) => {
      const text = JSON.stringify({ success: true, data })
      res.writeHead(200, {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(text)
      })
      res.end(text)
    }, () => {
      res.writeHead(500)
      res.end()
    })
  })
})
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  console.log(JSON.stringify({ msg: "listening", url: `http://127.0.0.1:${server.address().port}` }))
})
process.on("SIGTERM", () => server.close(() => pool.end().then(() => process.exit(0))))
