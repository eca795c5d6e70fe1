import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { describe, expect, it, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as EmbeddedPostgres from "../src/EmbeddedPostgres.js"

const LOCK_FILE = "tracklog-embedded-postgres.lock"

// The client exactly as production builds it, pointed at the embedded server.
const clientLayer = (options: EmbeddedPostgres.Options) =>
  Layer.unwrapEffect(
    Effect.map(EmbeddedPostgres.EmbeddedPostgres, ({ url }) =>
      PgClient.layer({ url: Redacted.make(url), maxConnections: 1 }))
  ).pipe(Layer.provideMerge(EmbeddedPostgres.layer(options)))

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "tracklog-embedded-pg-"))

const removeDir = (dir: string) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))

// A deadlock must fail the test, not hang it.
const within = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(self, { duration: Duration.seconds(30), onTimeout: () => new Error("timed out: deadlock?") })

class Rollback {
  readonly _tag = "Rollback"
}

layer(clientLayer({}), { excludeTestServices: true, timeout: Duration.minutes(1) })(
  "in memory, through @effect/sql-pg",
  (it) => {
    it.effect("serves a url on 127.0.0.1", () =>
      Effect.gen(function*() {
        const { url } = yield* EmbeddedPostgres.EmbeddedPostgres
        expect(url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/)
        expect(Number(new URL(url).port)).toBeGreaterThan(0)
      }))

    it.effect("creates tables, inserts with RETURNING, keeps bigint and json exact", () =>
      Effect.gen(function*() {
        const sql = yield* PgClient.PgClient
        yield* sql`CREATE TABLE features (
        id bigserial PRIMARY KEY,
        doc json NOT NULL,
        tx xid8 NOT NULL DEFAULT pg_current_xact_id()
      )`
        const doc = { name: "Ada", tags: ["a", "b"], nested: { n: 1.5, ok: true, none: null } }
        const [first] = yield* sql<{ id: string; doc: unknown; tx: string }>`
        INSERT INTO features (doc) VALUES (${sql.json(doc)}) RETURNING id, doc, tx`
        expect(first!.id).toBe("1")
        expect(first!.doc).toEqual(doc)
        expect(BigInt(first!.tx)).toBeGreaterThan(0n)

        // Above 2^53: survives only if nothing on the path goes through a JS number.
        yield* sql`ALTER SEQUENCE features_id_seq RESTART WITH 9007199254740993`
        const [big] = yield* sql<{ id: string }>`INSERT INTO features (doc) VALUES (${
          JSON.stringify([1, 2])
        }) RETURNING id`
        expect(big!.id).toBe("9007199254740993")
        const [next] = yield* sql<{ value: string; type: string }>`
        SELECT nextval('features_id_seq') AS value, pg_typeof(nextval('features_id_seq'))::text AS type`
        expect(BigInt(next!.value)).toBe(9007199254740994n)
        expect(next!.type).toBe("bigint")

        const rows = yield* sql<{ doc: unknown }>`SELECT doc FROM features ORDER BY id`
        expect(rows.map((row) => row.doc)).toEqual([doc, [1, 2]])
      }))

    it.effect("supports xid8, pg_current_xact_id and pg_current_snapshot", () =>
      Effect.gen(function*() {
        const sql = yield* PgClient.PgClient
        yield* sql`CREATE TABLE log (id bigserial PRIMARY KEY, tx xid8 NOT NULL DEFAULT pg_current_xact_id())`

        const inTx = yield* sql.withTransaction(Effect.gen(function*() {
          const [a] = yield* sql<{ tx: string }>`INSERT INTO log DEFAULT VALUES RETURNING tx`
          const [b] = yield* sql<{ tx: string }>`INSERT INTO log DEFAULT VALUES RETURNING tx`
          const [now] = yield* sql<{ current: string; xmin: string; type: string }>`
          SELECT pg_current_xact_id() AS current,
                 pg_snapshot_xmin(pg_current_snapshot()) AS xmin,
                 pg_typeof(pg_current_xact_id())::text AS type`
          return { a: a!.tx, b: b!.tx, ...now! }
        }))
        // One transaction, one id; while it runs it is the oldest one, hence the snapshot's xmin.
        expect(inTx.a).toBe(inTx.b)
        expect(inTx.current).toBe(inTx.a)
        expect(inTx.xmin).toBe(inTx.a)
        expect(inTx.type).toBe("xid8")

        const [after] = yield* sql<{ xmin: string; visible: boolean; cast: string }>`
        SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin,
               ${inTx.a}::xid8 < pg_snapshot_xmin(pg_current_snapshot()) AS visible,
               (${"123"}::xid8)::text AS cast`
        expect(BigInt(after!.xmin)).toBeGreaterThan(BigInt(inTx.a))
        expect(after!.visible).toBe(true)
        expect(after!.cast).toBe("123")

        // A second transaction gets a later id.
        const [later] = yield* sql.withTransaction(sql<{ tx: string }>`INSERT INTO log DEFAULT VALUES RETURNING tx`)
        expect(BigInt(later!.tx)).toBeGreaterThan(BigInt(inTx.a))
        const [filtered] = yield* sql<{ n: string }>`SELECT count(*) AS n FROM log WHERE tx > ${inTx.a}::xid8`
        expect(filtered!.n).toBe("1")
      }))

    it.effect("commits and rolls back transactions; a failed statement does not poison the connection", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE accounts (name text PRIMARY KEY, balance bigint NOT NULL)`

        yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`INSERT INTO accounts VALUES ('a', 100)`
          yield* sql`INSERT INTO accounts VALUES ('b', 0)`
        }))

        const rolledBack = yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`UPDATE accounts SET balance = balance - 50 WHERE name = 'a'`
          yield* sql`INSERT INTO accounts VALUES ('c', 50)`
          const [inside] = yield* sql<{ n: string }>`SELECT count(*) AS n FROM accounts`
          expect(inside!.n).toBe("3")
          return yield* Effect.fail(new Rollback())
        })).pipe(Effect.either)
        expect(Either.isLeft(rolledBack) && rolledBack.left).toBeInstanceOf(Rollback)

        // A statement error inside a transaction rolls the whole transaction back.
        const failed = yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`UPDATE accounts SET balance = 1 WHERE name = 'b'`
          yield* sql`INSERT INTO accounts VALUES ('a', 1)`
        })).pipe(Effect.either)
        expect(Either.isLeft(failed) && failed.left._tag).toBe("SqlError")

        // Nested transactions are savepoints: the inner rollback keeps the outer work.
        yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`UPDATE accounts SET balance = balance + 1 WHERE name = 'b'`
          yield* sql.withTransaction(
            sql`UPDATE accounts SET balance = 999 WHERE name = 'b'`.pipe(Effect.andThen(Effect.fail(new Rollback())))
          ).pipe(Effect.ignore)
        }))

        const divide = yield* sql`SELECT 1 / 0`.pipe(Effect.either)
        expect(Either.isLeft(divide)).toBe(true)

        const rows = yield* sql<{ name: string; balance: string }>`SELECT name, balance FROM accounts ORDER BY name`
        expect(rows).toEqual([{ name: "a", balance: "100" }, { name: "b", balance: "1" }])
      }))

    it.effect("serves many concurrent queries and transactions over the one connection", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE concurrent (id bigserial PRIMARY KEY, worker int NOT NULL, tx xid8 NOT NULL DEFAULT pg_current_xact_id())`

        const selects = Array.from(
          { length: 200 },
          (_, i) => sql<{ one: number; i: number }>`SELECT 1 AS one, ${i}::int AS i`.pipe(Effect.map(([row]) => row!))
        )
        // Each transaction writes two rows and must see exactly its own two: no other transaction's
        // statements may run inside it.
        const transactions = Array.from({ length: 40 }, (_, worker) =>
          sql.withTransaction(Effect.gen(function*() {
            yield* sql`INSERT INTO concurrent (worker) VALUES (${worker})`
            yield* Effect.yieldNow()
            yield* sql`INSERT INTO concurrent (worker) VALUES (${worker})`
            const mine = yield* sql<{ worker: number }>`
            SELECT worker FROM concurrent WHERE tx = pg_current_xact_id()`
            if (worker % 4 === 3) return yield* Effect.fail(new Rollback())
            return mine.map((row) => row.worker)
          })).pipe(Effect.either))

        const [selected, committed] = yield* within(Effect.all([
          Effect.all(selects, { concurrency: "unbounded" }),
          Effect.all(transactions, { concurrency: "unbounded" })
        ], { concurrency: "unbounded" }))

        expect(selected).toEqual(Array.from({ length: 200 }, (_, i) => ({ one: 1, i })))
        committed.forEach((result, worker) => {
          if (worker % 4 === 3) expect(Either.isLeft(result)).toBe(true)
          else expect(result).toEqual(Either.right([worker, worker]))
        })
        const [counts] = yield* sql<{ rows: string; txs: string }>`
        SELECT count(*) AS rows, count(DISTINCT tx) AS txs FROM concurrent`
        expect(counts).toEqual({ rows: "60", txs: "30" })
      }))

    it.effect("accepts a client rebuilt right after the previous one closed", () =>
      Effect.gen(function*() {
        const { url } = yield* EmbeddedPostgres.EmbeddedPostgres
        for (let i = 0; i < 10; i++) {
          const rows = yield* Effect.gen(function*() {
            const sql = yield* SqlClient.SqlClient
            return yield* sql<{ i: number }>`SELECT ${i}::int AS i`
          }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })))
          expect(rows).toEqual([{ i }])
        }
      }))

    it.effect("a second client shares the one session: its statements wait for the other's transaction", () =>
      Effect.gen(function*() {
        const { url } = yield* EmbeddedPostgres.EmbeddedPostgres
        const first = yield* SqlClient.SqlClient
        const second = yield* Layer.build(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })).pipe(
          Effect.map(Context.get(SqlClient.SqlClient))
        )
        yield* first`CREATE TABLE shared (n int NOT NULL)`

        // A's transaction runs in its own fiber: inside it, @effect/sql would route the other client's
        // statements through the transaction's connection too (TransactionConnection is one global tag).
        const inTransaction = yield* Deferred.make<void>()
        const finish = yield* Deferred.make<void>()
        const writer = yield* Effect.fork(first.withTransaction(Effect.gen(function*() {
          yield* first`INSERT INTO shared VALUES (1)`
          yield* Deferred.succeed(inTransaction, undefined)
          yield* Deferred.await(finish)
        })))
        yield* Deferred.await(inTransaction)
        const reader = yield* Effect.fork(second<{ n: string }>`SELECT count(*) AS n FROM shared`)
        yield* Effect.sleep(Duration.millis(200))
        // Real Postgres would answer 0 at once; here the second connection queues behind the transaction.
        expect(reader.unsafePoll()).toBe(null)
        yield* Deferred.succeed(finish, undefined)
        yield* Fiber.join(writer)
        const seen = yield* Fiber.join(reader).pipe(within)
        expect(seen).toEqual([{ n: "1" }])

        // One backend: a session-level advisory lock does not exclude the other connection.
        const [a] = yield* first<{ locked: boolean }>`SELECT pg_try_advisory_lock(7) AS locked`
        const [b] = yield* second<{ locked: boolean }>`SELECT pg_try_advisory_lock(7) AS locked`
        expect([a!.locked, b!.locked]).toEqual([true, true])
        yield* first`SELECT pg_advisory_unlock_all()`
      }).pipe(Effect.scoped))
  }
)

describe("with a data directory", () => {
  it.live("persists across a clean close and reopen, and refuses a second open meanwhile", () => {
    const dir = tempDir()
    const dataDir = Path.join(dir, "nested", "pgdata")
    const lockPath = Path.join(dataDir, LOCK_FILE)
    return Effect.gen(function*() {
      const written = yield* Effect.gen(function*() {
        const sql = yield* PgClient.PgClient
        expect(Fs.readFileSync(lockPath, "utf8").split("\n")[0]).toBe(String(process.pid))

        const second = yield* EmbeddedPostgres.make({ dataDir }).pipe(Effect.scoped, Effect.flip)
        expect(second).toBeInstanceOf(EmbeddedPostgres.EmbeddedPostgresError)
        expect(second.message).toContain("in use by this process")
        // The refused attempt must leave the holder's lock alone.
        expect(Fs.readFileSync(lockPath, "utf8").split("\n")[0]).toBe(String(process.pid))

        yield* sql`CREATE TABLE notes (id bigserial PRIMARY KEY, body json NOT NULL, tx xid8 NOT NULL DEFAULT pg_current_xact_id())`
        yield* sql.withTransaction(Effect.all([
          sql`INSERT INTO notes (body) VALUES (${sql.json({ n: 1 })})`,
          sql`INSERT INTO notes (body) VALUES (${sql.json({ n: 2 })})`
        ]))
        yield* sql.withTransaction(
          sql`INSERT INTO notes (body) VALUES (${sql.json({ n: "lost" })})`.pipe(
            Effect.andThen(Effect.fail(new Rollback()))
          )
        ).pipe(Effect.ignore)
        return yield* sql<{ id: string; body: unknown; tx: string }>`SELECT id, body, tx FROM notes ORDER BY id`
      }).pipe(Effect.provide(clientLayer({ dataDir })))

      expect(written.map((row) => row.body)).toEqual([{ n: 1 }, { n: 2 }])
      expect(Fs.existsSync(lockPath)).toBe(false)
      // Postgres removes postmaster.pid only on a clean shutdown.
      expect(Fs.existsSync(Path.join(dataDir, "postmaster.pid"))).toBe(false)

      const reread = yield* Effect.gen(function*() {
        const sql = yield* PgClient.PgClient
        const rows = yield* sql<{ id: string; body: unknown; tx: string }>`SELECT id, body, tx FROM notes ORDER BY id`
        // Sequence and transaction counter carry on from where they were.
        const [next] = yield* sql<{ id: string; tx: string }>`
          INSERT INTO notes (body) VALUES (${sql.json({ n: 3 })}) RETURNING id, tx`
        return { rows, next: next! }
      }).pipe(Effect.provide(clientLayer({ dataDir })))

      expect(reread.rows).toEqual(written)
      expect(BigInt(reread.next.id)).toBeGreaterThan(BigInt(written.at(-1)!.id))
      expect(BigInt(reread.next.tx)).toBeGreaterThan(BigInt(written.at(-1)!.tx))
      expect(Fs.existsSync(lockPath)).toBe(false)
    }).pipe(Effect.ensuring(removeDir(dir)))
  })

  it.live("initialises a fresh directory and runs with the small memory settings (decision 0019)", () => {
    const dir = tempDir()
    const dataDir = Path.join(dir, "fresh")
    return Effect.gen(function*() {
      const shown = yield* Effect.gen(function*() {
        const sql = yield* PgClient.PgClient
        return yield* Effect.all({
          sharedBuffers: sql<{ shared_buffers: string }>`SHOW shared_buffers`,
          workMem: sql<{ work_mem: string }>`SHOW work_mem`
        })
      }).pipe(Effect.provide(clientLayer({ dataDir })))
      expect(shown.sharedBuffers[0]!.shared_buffers).toBe("16MB")
      expect(shown.workMem[0]!.work_mem).toBe("1MB")
      expect(Fs.existsSync(Path.join(dataDir, "PG_VERSION"))).toBe(true)
    }).pipe(Effect.ensuring(removeDir(dir)))
  })

  it.live("refuses a data dir locked by another live process, without starting PGlite", () => {
    const dataDir = tempDir()
    const lockPath = Path.join(dataDir, LOCK_FILE)
    // The parent process (vitest's) is alive and not us.
    const lock = `${process.ppid}\n${Os.hostname()}\n0\n`
    Fs.writeFileSync(lockPath, lock)
    return Effect.gen(function*() {
      const error = yield* EmbeddedPostgres.make({ dataDir }).pipe(Effect.scoped, Effect.flip)
      expect(error._tag).toBe("EmbeddedPostgresError")
      expect(error.reason).toContain(`in use by process ${process.ppid}`)
      expect(error.reason).toContain(lockPath)
      expect(Fs.readFileSync(lockPath, "utf8")).toBe(lock)
      expect(Fs.readdirSync(dataDir)).toEqual([LOCK_FILE])
    }).pipe(Effect.ensuring(removeDir(dataDir)))
  })

  it.live("a second process is locked out; after it is killed, committed data survives and its lock is taken over", () => {
    const dataDir = tempDir()
    const lockPath = Path.join(dataDir, LOCK_FILE)
    const packageDir = fileURLToPath(new URL("..", import.meta.url))
    const modulePath = fileURLToPath(new URL("../src/EmbeddedPostgres.ts", import.meta.url))
    const tsx = createRequire(import.meta.url).resolve("tsx")
    // Another process holding the directory: it commits one row, then dies (SIGKILL) with a
    // second transaction still open.
    const script = `
      import * as Reactivity from "@effect/experimental/Reactivity"
      import * as PgClient from "@effect/sql-pg/PgClient"
      import * as Effect from "effect/Effect"
      import * as Redacted from "effect/Redacted"
      const { make } = await import(${JSON.stringify(modulePath)})
      await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const { url } = yield* make({ dataDir: ${JSON.stringify(dataDir)} })
        const sql = yield* PgClient.make({ url: Redacted.make(url), maxConnections: 1 })
        yield* sql\`CREATE TABLE crash (note text NOT NULL)\`
        yield* sql\`INSERT INTO crash VALUES ('committed')\`
        yield* sql.withTransaction(sql\`INSERT INTO crash VALUES ('in flight')\`.pipe(
          Effect.andThen(Effect.sync(() => console.log("ready"))),
          Effect.andThen(Effect.never)
        ))
      }).pipe(Effect.provide(Reactivity.layer))))
    `
    return Effect.gen(function*() {
      const child = ChildProcess.spawn(process.execPath, ["--import", tsx, "--input-type=module", "-e", script], {
        cwd: packageDir,
        stdio: ["ignore", "pipe", "pipe"]
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
      let stderr = ""
      child.stderr.on("data", (chunk) => stderr += chunk)
      yield* Effect.async<void, Error>((resume) => {
        child.stdout.on("data", (chunk: Buffer) => {
          if (chunk.toString().includes("ready")) resume(Effect.void)
        })
        child.on("exit", (code) => resume(Effect.fail(new Error(`child exited ${code}: ${stderr}`))))
      }).pipe(within)

      const refused = yield* EmbeddedPostgres.make({ dataDir }).pipe(Effect.scoped, Effect.flip)
      expect(refused.reason).toContain(`in use by process ${child.pid}`)

      yield* Effect.async<void>((resume) => {
        child.once("exit", () => resume(Effect.void))
        child.kill("SIGKILL")
      })
      expect(Fs.readFileSync(lockPath, "utf8").split("\n")[0]).toBe(String(child.pid))
      // Postgres did not shut down: this reopen has to recover.
      expect(Fs.existsSync(Path.join(dataDir, "postmaster.pid"))).toBe(true)

      const rows = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        expect(Fs.readFileSync(lockPath, "utf8").split("\n")[0]).toBe(String(process.pid))
        return yield* sql<{ note: string }>`SELECT note FROM crash`
      }).pipe(Effect.provide(clientLayer({ dataDir })))
      expect(rows).toEqual([{ note: "committed" }])
      expect(Fs.existsSync(lockPath)).toBe(false)
      expect(Fs.existsSync(Path.join(dataDir, "postmaster.pid"))).toBe(false)
    }).pipe(Effect.scoped, Effect.ensuring(removeDir(dataDir)))
  })
})

it.live("the error names the reason", () =>
  Effect.gen(function*() {
    const file = Path.join(tempDir(), "not-a-dir")
    Fs.writeFileSync(file, "")
    const error = yield* EmbeddedPostgres.make({ dataDir: file }).pipe(Effect.scoped, Effect.flip)
    expect(error).toBeInstanceOf(EmbeddedPostgres.EmbeddedPostgresError)
    expect(error.message).toBe(error.reason)
    expect(error.reason).toContain(`Cannot create data directory ${file}`)
    yield* removeDir(Path.dirname(file))
  }))
