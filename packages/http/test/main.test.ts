/**
 * The server as an operator runs it: the bundled entry point in its own process, configured by
 * the environment, on each store; restarts keep the data; SIGTERM shuts down cleanly.
 */
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { request } from "./TestServer.js"

const packageDir = fileURLToPath(new URL("..", import.meta.url))
const entry = join(packageDir, "dist", "main.js")

interface Process {
  readonly child: ChildProcess
  readonly base: string
  readonly output: () => string
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

const startProcess = (env: Record<string, string>) =>
  new Promise<Process>((resolve, reject) => {
    const child = spawn(process.execPath, [entry], {
      cwd: packageDir,
      env: { PATH: process.env["PATH"] ?? "", PORT: "0", HOST: "127.0.0.1", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)))
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /"msg":"listening","url":"http:\/\/[^:]+:(\d+)"/.exec(output)
      if (match !== null) {
        clearTimeout(timer)
        child.stdout!.off("data", onData)
        child.stdout!.on("data", (c: Buffer) => (output += c.toString()))
        resolve({
          child,
          base: `http://127.0.0.1:${match[1]}`,
          output: () => output,
          stop: (signal = "SIGTERM") => {
            child.kill(signal)
            return exited
          }
        })
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", (c: Buffer) => (output += c.toString()))
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}:\n${output}`))
    })
  })

const track = (base: string, key: string, email: string) =>
  request(base, "POST", "/v1/track", { key, body: { email, event: "signup", data: { plan: "pro" } } })

beforeAll(() => {
  execFileSync(process.execPath, ["build.mjs"], { cwd: packageDir })
}, 120_000)

describe("pnpm start", () => {
  it("TRACKLOG_STORE=memory with TRACKLOG_PROJECT_KEYS serves with exactly those keys", async () => {
    const server = await startProcess({ TRACKLOG_STORE: "memory", TRACKLOG_PROJECT_KEYS: "pk_a:sk_a, pk_b:sk_b" })
    try {
      expect((await track(server.base, "pk_a", "ada@example.com")).status).toBe(200)
      expect((await track(server.base, "sk_b", "ada@example.com")).status).toBe(200)
      expect((await track(server.base, "pk_c", "ada@example.com")).status).toBe(401)
      const a = await request(server.base, "GET", "/contacts", { key: "sk_a" })
      const b = await request(server.base, "GET", "/contacts", { key: "sk_b" })
      expect(a.body.data).toHaveLength(1)
      expect(b.body.data).toHaveLength(1)
      expect(a.body.data[0].id).not.toBe(b.body.data[0].id)
    } finally {
      expect(await server.stop()).toBe(0)
    }
    // One line per request; never a key, an email or a query string.
    const lines = server.output().split("\n").filter((l) => l.includes('"msg":"request"'))
    expect(lines).toHaveLength(5)
    for (const line of lines) {
      const entry = JSON.parse(line)
      expect(Object.keys(entry).sort()).toEqual([
        "durationMs",
        "level",
        "method",
        "msg",
        "requestId",
        "route",
        "status",
        "time"
      ])
      expect(line).not.toMatch(/pk_|sk_|@/)
    }
  })

  it("goes on serving when the reader of its log goes away (a closed stdout pipe)", async () => {
    const server = await startProcess({ TRACKLOG_STORE: "memory", TRACKLOG_PROJECT_KEYS: "pk_a:sk_a" })
    try {
      // Our end of the pipe closed: the server's next log line fails with EPIPE.
      server.child.stdout!.destroy()
      for (let i = 0; i < 5; i++) {
        expect((await track(server.base, "pk_a", `gone${i}@example.com`)).status).toBe(200)
        await new Promise((done) => setTimeout(done, 20))
      }
      const list = await request(server.base, "GET", "/contacts", { key: "sk_a" })
      expect(list.body.data).toHaveLength(5)
      expect(server.child.exitCode).toBeNull()
    } finally {
      expect(await server.stop()).toBe(0)
    }
  })

  it("a bad TRACKLOG_PROJECT_KEYS stops the start with a clear error", async () => {
    await expect(startProcess({ TRACKLOG_STORE: "memory", TRACKLOG_PROJECT_KEYS: "sk_a:pk_a" })).rejects.toThrow(
      /TRACKLOG_PROJECT_KEYS/
    )
    // A key reused with another partner would silently not work: refused instead.
    await expect(startProcess({ TRACKLOG_STORE: "memory", TRACKLOG_PROJECT_KEYS: "pk_a:sk_a,pk_a:sk_c" })).rejects
      .toThrow(/half matches/)
  })

  it("the PostgreSQL store without a DATABASE_URL (unset, empty or blank) stops the start, naming it, before connecting", async () => {
    for (
      const env of [
        { TRACKLOG_STORE: "postgres" },
        { TRACKLOG_STORE: "postgres", DATABASE_URL: "" },
        { DATABASE_URL: "  " }
      ]
    ) {
      const started = await startProcess(env).then(
        async (server) => `started: ${await server.stop()}`,
        (error: Error) => error.message
      )
      expect(started, JSON.stringify(env)).toMatch(/^server exited with 1:/)
      expect(started).toContain("DATABASE_URL")
      expect(started).not.toContain("connection")
    }
  })

  describe("on PostgreSQL (DATABASE_URL)", () => {
    const scope = Effect.runSync(Scope.make())
    let url = ""
    beforeAll(async () => {
      url = (await Effect.runPromise(Scope.extend(TestDatabase.server, scope))).url
    })
    afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

    it("serves, and a restart keeps the contacts; two processes share the database", async () => {
      const env = { DATABASE_URL: url, TRACKLOG_PROJECT_KEYS: "pk_pg:sk_pg" }
      const first = await startProcess(env)
      const second = await startProcess(env)
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => track(i % 2 ? first.base : second.base, "pk_pg", `p${i % 4}@example.com`))
      )
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200))
      expect(await first.stop()).toBe(0)
      expect(await second.stop()).toBe(0)
      const again = await startProcess(env)
      try {
        const list = await request(again.base, "GET", "/contacts", { key: "sk_pg" })
        expect(list.body.data.map((c: { email: string }) => c.email).sort()).toEqual(
          ["p0@example.com", "p1@example.com", "p2@example.com", "p3@example.com"]
        )
      } finally {
        await again.stop()
      }
    }, 120_000)
  })

  describe("with nothing configured (embedded Postgres on disk)", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "tracklog-main-"))
    afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

    it("creates a project, prints its keys once, and keeps contacts across a restart", async () => {
      const first = await startProcess({ TRACKLOG_DATA_DIR: dataDir })
      const keys = /public key: (pk_\w+)\n\s+secret key: (sk_\w+)/.exec(first.output())
      expect(keys).not.toBeNull()
      const [, publicKey, secretKey] = keys!
      const tracked = await track(first.base, publicKey!, "Restart@Example.com")
      expect(tracked.status).toBe(200)
      expect(await first.stop()).toBe(0)

      const second = await startProcess({ TRACKLOG_DATA_DIR: dataDir })
      try {
        expect(second.output()).not.toContain("public key:")
        const contact = await request(second.base, "GET", `/contacts/${tracked.body.data.contact}`, { key: secretKey! })
        expect(contact.body).toMatchObject({ email: "restart@example.com", data: { plan: "pro" } })
      } finally {
        expect(await second.stop("SIGINT")).toBe(0)
      }
    }, 120_000)
  })
})
