// Baseline of issue 31: the server most people would write. node:http and a `pg` pool of 20, no
// framework, one transaction per request: begin, upsert the contact by email (`INSERT … ON
// CONFLICT DO UPDATE … RETURNING id`), insert the event, commit.
import { createRequire } from "node:module"
import * as Http from "node:http"

const require = createRequire(import.meta.url)
const pg = require("pg")
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 })
const key = `Bearer ${process.env.BENCH_KEY ?? "pk_bench"}`
const project = "bench"

await pool.query(`CREATE TABLE IF NOT EXISTS naive_contacts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(), project_id text NOT NULL, email text NOT NULL,
  subscribed boolean NOT NULL DEFAULT true, data jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, email))`)
await pool.query(`CREATE TABLE IF NOT EXISTS naive_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(), contact_id uuid NOT NULL REFERENCES naive_contacts (id),
  name text NOT NULL, data jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`)

const track = async (body) => {
  const data = JSON.stringify(body.data ?? {})
  const client = await pool.connect()
  try {
    await client.query("BEGIN")
    const contact = (await client.query(
      `INSERT INTO naive_contacts (project_id, email, data) VALUES ($1, $2, $3)
       ON CONFLICT (project_id, email) DO UPDATE SET data = naive_contacts.data || EXCLUDED.data, updated_at = now()
       RETURNING id`,
      [project, body.email.trim().toLowerCase(), data]
    )).rows[0].id
    const event = (await client.query(
      "INSERT INTO naive_events (contact_id, name, data) VALUES ($1, $2, $3) RETURNING id, created_at",
      [contact, body.event, data]
    )).rows[0]
    await client.query("COMMIT")
    return { contact, event: event.id, timestamp: event.created_at.toISOString() }
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
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
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
