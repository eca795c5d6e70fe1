/**
 * Webhooks survive kill -9 (behaviour §12, issue 30): the bundled server in its own process on
 * PostgreSQL, killed with SIGKILL while it delivers; another process on the same database then
 * delivers every matching event at least once — a message that was in flight goes again after its
 * lease, with the same webhook-id.
 */
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, expect, it } from "vitest"
import { request } from "./TestServer.js"
import * as Receiver from "./webhookReceiver.js"

const packageDir = fileURLToPath(new URL("..", import.meta.url))
const entry = join(packageDir, "dist", "main.js")

const startProcess = (env: Record<string, string>) =>
  new Promise<{ readonly child: ChildProcess; readonly base: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [entry], {
      cwd: packageDir,
      env: { PATH: process.env["PATH"] ?? "", PORT: "0", HOST: "127.0.0.1", TRACKLOG_LOG: "off", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30_000)
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      const match = /"msg":"listening","url":"http:\/\/[^:]+:(\d+)"/.exec(output)
      if (match !== null) {
        clearTimeout(timer)
        resolve({ child, base: `http://127.0.0.1:${match[1]}` })
      }
    })
    child.stderr!.on("data", (c: Buffer) => (output += c.toString()))
  })

const scope = Effect.runSync(Scope.make())
const children: Array<ChildProcess> = []
let receiver: Receiver.Receiver
beforeAll(async () => {
  execFileSync(process.execPath, ["build.mjs"], { cwd: packageDir })
  receiver = await Receiver.start()
}, 120_000)
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL")
  await receiver.close()
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

it(
  "kill -9 during deliveries: after a restart every matching event is delivered, repeats only with the same webhook-id",
  async () => {
    const db = await Effect.runPromise(Scope.extend(TestDatabase.server, scope))
    const env = {
      DATABASE_URL: db.url,
      TRACKLOG_PROJECT_KEYS: "pk_kill:sk_kill",
      TRACKLOG_WEBHOOK_ALLOW_PRIVATE: "on",
      TRACKLOG_WEBHOOK_RETRY: "1s,1s,1s,1s,1s"
    }
    // Slow enough that the kill lands with attempts in flight.
    receiver.respond = () => ({ status: 204, delayMs: 30 })
    const first = await startProcess(env)
    children.push(first.child)
    const made = await request(first.base, "POST", "/webhooks", {
      key: "sk_kill",
      body: { url: `${receiver.url}/hook`, events: ["*"] }
    })
    expect(made.status, made.text).toBe(201)
    const contacts = 20
    const perContact = 5
    for (let i = 0; i < perContact; i++) {
      await Promise.all(Array.from({ length: contacts }, (_, c) =>
        request(first.base, "POST", "/v1/track", {
          key: "pk_kill",
          body: { email: `kill-${c}@example.com`, event: `step-${i}` }
        }).then((answer) => expect(answer.status).toBe(200))))
    }
    // contact.created and the tracked events of each contact.
    const expected = contacts * (perContact + 1)
    await Receiver.until(() => receiver.received.length >= 15, 20_000, "first deliveries")
    first.child.kill("SIGKILL")
    const atKill = receiver.received.length
    expect(atKill).toBeLessThan(expected)

    const second = await startProcess(env)
    children.push(second.child)
    const distinct = () => new Set(receiver.received.map((r) => r.headers["webhook-id"])).size
    // A message leased by the killed process goes again once its lease (60 s) has run out.
    await Receiver.until(() => distinct() >= expected, 100_000, `${expected} distinct deliveries`)
    expect(distinct()).toBe(expected)
    // Per contact, in log order: the steps each contact's deliveries carry never go backwards.
    const byContact = new Map<string, Array<string>>()
    for (const r of receiver.received) {
      const body = JSON.parse(r.body)
      const list = byContact.get(body.data.contact) ?? []
      if (!list.includes(r.headers["webhook-id"]!)) list.push(r.headers["webhook-id"]!)
      byContact.set(body.data.contact, list)
    }
    expect(byContact.size).toBe(contacts)
    for (const [contact, ids] of byContact) {
      const types = ids.map((id) =>
        JSON.parse(receiver.received.find((r) => r.headers["webhook-id"] === id)!.body).type
      )
      expect(types, contact).toEqual(["contact.created", ...Array.from({ length: perContact }, (_, i) => `step-${i}`)])
    }
    second.child.kill("SIGTERM")
  },
  180_000
)
