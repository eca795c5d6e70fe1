/**
 * The CLI as an operator runs it (a child process, `tsx` on the sources, as `pnpm tracklog`
 * does), against the stores a server uses: keys managed while a server runs on PostgreSQL take
 * effect on its next request; an embedded store of 10k contacts moves to PostgreSQL by export
 * and import with every contact reading the same; the embedded store refuses a second process.
 */
import * as ApiKey from "@tracklog/core/ApiKey"
import * as Contact from "@tracklog/core/Contact"
import * as Contacts from "@tracklog/core/Contacts"
import * as EventStore from "@tracklog/core/EventStore"
import * as Ids from "@tracklog/core/Ids"
import * as Projects from "@tracklog/core/Projects"
import * as Track from "@tracklog/core/Track"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import type * as ServerConfig from "@tracklog/http/ServerConfig"
import * as StoreLayer from "@tracklog/http/StoreLayer"
import * as EmbeddedPostgres from "@tracklog/store-postgres/EmbeddedPostgres"
import * as StorePostgres from "@tracklog/store-postgres/StorePostgres"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { projectA, request, start } from "../../http/test/TestServer.js"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../..")
const tsx = Path.join(root, "node_modules", ".bin", "tsx")

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

// The store comes from `env` alone, never from the environment the tests run in.
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) =>
    !["TRACKLOG_STORE", "DATABASE_URL", "TRACKLOG_DATA_DIR", "TRACKLOG_PROJECT_KEYS"].includes(k)
  )
)

const tracklog = (args: ReadonlyArray<string>, env: Record<string, string>, stdoutFile?: string) =>
  new Promise<Run>((resolve) => {
    const child = execFile(tsx, ["--conditions=@tracklog/source", "packages/cli/src/main.ts", ...args], {
      cwd: root,
      env: { ...cleanEnv, ...env },
      maxBuffer: 1 << 30,
      encoding: "utf8"
    }, (error, stdout, stderr) => {
      if (stdoutFile !== undefined) Fs.writeFileSync(stdoutFile, stdout)
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr })
    })
    child.stdin?.end()
  })

const keysIn = (text: string) => {
  const publicKey = /public key: (pk_\w+)/.exec(text)?.[1]
  const secretKey = /secret key: (sk_\w+)/.exec(text)?.[1]
  expect(publicKey).toBeDefined()
  expect(secretKey).toBeDefined()
  return { publicKey: publicKey!, secretKey: secretKey! }
}

const scope = Effect.runSync(Scope.make())
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
const inScope = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => Effect.runPromise(Scope.extend(effect, scope))

const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tracklog-cli-"))
afterAll(() => Fs.rmSync(tmp, { recursive: true, force: true }))

const track = (base: string, key: string, email: string) =>
  request(base, "POST", "/v1/track", { key, body: { email, event: "e" } })

describe("tracklog CLI", () => {
  it("--help works for every command, and a wrong command is a usage error (exit 2)", async () => {
    for (const args of [["--help"], ["keys", "rotate", "--help"], ["import", "--help"]]) {
      const run = await tracklog(args, { TRACKLOG_STORE: "memory" })
      expect(run.code, args.join(" ")).toBe(0)
      expect(run.stdout).toContain("USAGE")
    }
    expect((await tracklog(["nope"], { TRACKLOG_STORE: "memory" })).code).toBe(2)
    const missing = await tracklog(["import", Path.join(tmp, "missing.ndjson")], { TRACKLOG_STORE: "memory" })
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain("no such file")
  }, 120_000)

  it("writes no colour codes into a pipe, nor with NO_COLOR; keeps them on a terminal", async () => {
    const ansi = /\u001b\[/
    const help = await tracklog(["--help"], { TRACKLOG_STORE: "memory" })
    expect(help.code).toBe(0)
    expect(help.stdout).toContain("USAGE")
    expect(help.stdout).not.toMatch(ansi)
    const usage = await tracklog(["keys", "rotate"], { TRACKLOG_STORE: "memory" })
    expect(usage.code).toBe(2)
    expect(usage.stdout + usage.stderr).not.toMatch(ansi)
    // On a terminal (a pseudo-terminal from util-linux's `script`): colour, unless NO_COLOR is set.
    const onTerminal = (env: Record<string, string>) =>
      new Promise<string>((resolve, reject) => {
        const command = `${tsx} --conditions=@tracklog/source packages/cli/src/main.ts --help`
        execFile("script", ["-qec", command, "/dev/null"], {
          cwd: root,
          env: { ...cleanEnv, TRACKLOG_STORE: "memory", ...env },
          encoding: "utf8"
        }, (error, stdout) => {
          if (error !== null) reject(new Error(`script (util-linux) is needed for this test: ${error.message}`))
          else resolve(stdout)
        })
      })
    const coloured = await onTerminal({})
    expect(coloured).toContain("USAGE")
    expect(coloured).toMatch(ansi)
    const plain = await onTerminal({ NO_COLOR: "1" })
    expect(plain).toContain("USAGE")
    expect(plain).not.toMatch(ansi)
  }, 120_000)

  it("a malformed argument is a usage error (exit 2) that says what is wrong, before the store is opened", async () => {
    // No store could be opened with this configuration: the argument is refused first.
    const env = { TRACKLOG_STORE: "postgres", DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" }
    const rotate = await tracklog(["keys", "rotate", "not-a-uuid"], env)
    expect(rotate.code).toBe(2)
    expect(rotate.stderr).toContain("not-a-uuid")
    expect(rotate.stderr).toMatch(/UUID/)
    const revoke = await tracklog(["keys", "revoke", "nope"], env)
    expect(revoke.code).toBe(2)
    expect(revoke.stderr).toContain("pk_")
  }, 120_000)

  it("the PostgreSQL store without a DATABASE_URL (unset or empty) fails at once, naming it (exit 1)", async () => {
    for (const env of [{ TRACKLOG_STORE: "postgres" }, { TRACKLOG_STORE: "postgres", DATABASE_URL: "" }]) {
      const run = await tracklog(["projects", "list"], env)
      expect(run.code, JSON.stringify(env)).toBe(1)
      expect(run.stderr).toContain("DATABASE_URL")
      expect(run.stderr).not.toContain("connection")
    }
  }, 120_000)

  it("on a running server: created keys work; a rotated or revoked key gets 401 on the next request", async () => {
    const db = await inScope(TestDatabase.server)
    const env = { DATABASE_URL: db.url }
    const { url } = await inScope(start(StorePostgres.layer({ url: db.url, maxConnections: db.maxConnections })))

    const created = await tracklog(["projects", "create"], env)
    expect(created.code, created.stderr).toBe(0)
    const first = keysIn(created.stdout)
    const projectId = /Created project (\S+)\./.exec(created.stdout)![1]!
    expect((await track(url, first.publicKey, "a@example.com")).status).toBe(200)
    expect((await request(url, "GET", "/contacts", { key: first.secretKey })).status).toBe(200)

    const listed = await tracklog(["projects", "list"], env)
    expect(listed.stdout).toContain(projectId)
    expect(listed.stdout).not.toContain(first.publicKey)

    const rotated = await tracklog(["keys", "rotate", projectId], env)
    expect(rotated.code, rotated.stderr).toBe(0)
    const second = keysIn(rotated.stdout)
    expect((await track(url, first.publicKey, "b@example.com")).status).toBe(401)
    expect((await request(url, "GET", "/contacts", { key: first.secretKey })).status).toBe(401)
    expect((await track(url, second.publicKey, "b@example.com")).status).toBe(200)
    // The project kept its contacts: the new secret key reads what the old keys wrote.
    const contacts = await request(url, "GET", "/contacts", { key: second.secretKey })
    expect(contacts.body.data.map((c: { email: string }) => c.email).sort()).toEqual(["a@example.com", "b@example.com"])

    // The server has seen this key: the track route takes it on trust and its write checks it
    // (decision 0024), so every answer below must still come from the key, not from the cache.
    const contactOf = (email: string) => contacts.body.data.find((c: { email: string }) => c.email === email)
    const suppressed = await request(url, "DELETE", `/contacts/${contactOf("a@example.com").id}?suppress=true`, {
      key: second.secretKey
    })
    expect(suppressed.status).toBe(204)
    const eventsOfB = async () => {
      const b = contactOf("b@example.com")
      return (await request(url, "GET", `/contacts/${b.id}/events`, { key: second.secretKey })).body.data.length
    }
    const eventsBefore = await eventsOfB()
    const revoked = await tracklog(["keys", "revoke", second.publicKey], env)
    expect(revoked.code, revoked.stderr).toBe(0)
    const answers = [
      await track(url, second.publicKey, "c@example.com"),
      await track(url, second.publicKey, "b@example.com"),
      await track(url, second.publicKey, "a@example.com"),
      await request(url, "POST", "/v1/track", { key: second.publicKey, body: { email: "not an email", event: "e" } }),
      await request(url, "POST", "/v1/track", {
        key: second.publicKey,
        body: { email: "d@example.com", event: "e" },
        headers: { "idempotency-key": "after-revoke" }
      })
    ]
    expect(answers.map((a) => [a.status, a.body.error?.code])).toEqual(answers.map(() => [401, "INVALID_API_KEY"]))
    expect(
      (await request(url, "GET", "/contacts", { key: second.secretKey })).body.data.map((c: { email: string }) =>
        c.email
      )
    ).toEqual(["b@example.com"])
    expect(await eventsOfB()).toBe(eventsBefore)

    const again = await tracklog(["keys", "revoke", second.publicKey], env)
    expect(again.code).toBe(1)
    expect(again.stderr).toContain("no project has this key")
    // A well-formed id that names no project: the command failed (1), not its usage (2).
    const unknown = await tracklog(["keys", "rotate", "0190c0de-0000-7000-8000-000000000000"], env)
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain("no project with id")
  }, 240_000)

  it("refuses an embedded data directory another process holds, saying so", async () => {
    const dataDir = Path.join(tmp, "held")
    await inScope(Effect.orDie(EmbeddedPostgres.make({ dataDir })))
    const run = await tracklog(["projects", "list"], { TRACKLOG_STORE: "embedded", TRACKLOG_DATA_DIR: dataDir })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("in use by")
    expect(run.stderr).toContain("stop the server first")
  }, 120_000)

  it(
    "moves 10k contacts from the embedded store to PostgreSQL: every contact reads the same, replay equals the projection",
    async () => {
      const dataDir = Path.join(tmp, "source")
      const store: ServerConfig.Store = { _tag: "embedded", dataDir }
      const Contacts_ = 10_000
      // The source: 10k contacts with data, flips and several events each, written through Track.
      await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(StoreLayer.layer(store))
        yield* Effect.gen(function*() {
          const ids = yield* Ids.Ids
          const projectId = yield* (yield* Projects.Projects).ensure({
            projectId: yield* ids.next,
            publicKeyHash: yield* ApiKey.hash(projectA.publicKey),
            secretKeyHash: yield* ApiKey.hash(projectA.secretKey)
          })
          const tracker = yield* Track.Track
          yield* Effect.forEach(Array.from({ length: Contacts_ }, (_, i) => i), (i) =>
            Effect.gen(function*() {
              const email = `contact${i}@example.com`
              for (let k = 0; k < 1 + (i % 3); k++) {
                const command = TrackCommand.decode({
                  email,
                  event: `event-${k}`,
                  ...(k === 1 ? { subscribed: i % 2 === 0 } : {}),
                  data: { i, k, plan: k === 2 ? null : `p${i % 5}`, nested: { z: 1, a: [i] } }
                })
                if (command._tag === "Left") throw command.left
                yield* Effect.orDie(tracker.track(projectId, command.right))
              }
            }), { concurrency: 32, discard: true })
        }).pipe(Effect.provide(context))
      })))

      const file = Path.join(tmp, "export.ndjson")
      const exported = await tracklog(["export"], { TRACKLOG_STORE: "embedded", TRACKLOG_DATA_DIR: dataDir }, file)
      expect(exported.code, exported.stderr).toBe(0)
      const lines = Fs.readFileSync(file, "utf8").trim().split("\n")
      const events = lines.filter((l) => JSON.parse(l).type === "event").length
      expect(events).toBeGreaterThan(Contacts_ * 2)

      const db = await inScope(TestDatabase.server)
      const imported = await tracklog(["import", file], { DATABASE_URL: db.url })
      expect(imported.code, imported.stderr).toBe(0)
      expect(imported.stdout).toContain(`${events} events, ${Contacts_} contacts`)

      const source = await inScope(start(StoreLayer.storeLayer(store)))
      const target = await inScope(start(StorePostgres.layer({ url: db.url, maxConnections: db.maxConnections })))
      const all = async (base: string) => {
        const contacts: Array<{ id: string }> = []
        let cursor: string | undefined
        do {
          const page = await request(
            base,
            "GET",
            `/contacts?limit=100${cursor === undefined ? "" : `&cursor=${cursor}`}`,
            { key: projectA.secretKey }
          )
          expect(page.status).toBe(200)
          contacts.push(...page.body.data)
          cursor = page.body.cursor
        } while (cursor !== undefined)
        return contacts
      }
      const listed = await all(source.url)
      expect(listed).toHaveLength(Contacts_)
      expect(await all(target.url)).toEqual(listed)
      const ids = listed.map((c) => c.id)
      for (let i = 0; i < ids.length; i += 32) {
        await Promise.all(
          ids.slice(i, i + 32).map(async (id) => {
            for (const path of [`/contacts/${id}`, `/contacts/${id}/events?limit=1000`]) {
              const [a, b] = await Promise.all([
                request(source.url, "GET", path, { key: projectA.secretKey }),
                request(target.url, "GET", path, { key: projectA.secretKey })
              ])
              expect(a.status).toBe(200)
              expect(b.body).toEqual(a.body)
            }
          })
        )
      }

      // Replay on the imported store: every stream folds to its stored contact.
      await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(StorePostgres.layer({ url: db.url, maxConnections: db.maxConnections }))
        yield* Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const contacts = yield* Contacts.Contacts
          const streams = new Map<string, Array<EventStore.RecordedEvent>>()
          let at = EventStore.start
          while (true) {
            const batch = yield* store.readAll(at, 5000)
            if (batch.events.length === 0) break
            for (const e of batch.events) streams.set(e.streamId, [...(streams.get(e.streamId) ?? []), e])
            at = batch.checkpoint
          }
          expect(streams.size).toBe(Contacts_)
          for (const [id, events] of streams) {
            const stored = yield* contacts.findById(events[0]!.projectId, id)
            expect(stored._tag).toBe("Some")
            expect(Contact.fold(events.map((e) => e.event))).toEqual(stored._tag === "Some" ? stored.value : null)
          }
        }).pipe(Effect.provide(context))
      })))
    },
    1_800_000
  )
})
