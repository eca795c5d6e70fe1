/**
 * An embedded PostgreSQL for machines without a Postgres server: PGlite (Postgres compiled to
 * WASM, in this process) served over TCP on 127.0.0.1 by pglite-socket, so the ordinary
 * `@effect/sql-pg` client connects to it like to any server.
 *
 * PGlite is a single backend: one session, one transaction at a time. Use the client with
 * `maxConnections: 1`. The socket server does accept more connections, but it multiplexes them
 * onto that one session: they take turns per transaction, and share session state (SET, temporary
 * tables, advisory locks, LISTEN), so they do not isolate from each other as real connections do.
 */
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"

/** Starting, locking or stopping the embedded server failed. */
export class EmbeddedPostgresError extends Schema.TaggedError<EmbeddedPostgresError>()("EmbeddedPostgresError", {
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return this.reason
  }
}

/** The running embedded server: a `postgres://` url for `PgClient` (`maxConnections: 1`). */
export class EmbeddedPostgres extends Context.Tag("@tracklog/store-postgres/EmbeddedPostgres")<
  EmbeddedPostgres,
  { readonly url: string }
>() {}

/** Options: `dataDir` persists the database there (created if missing); without it, in memory. */
export interface Options {
  readonly dataDir?: string | undefined
  /** Connections the socket server accepts at once (default 10); beyond it, it drops them. */
  readonly maxConnections?: number | undefined
}

/** Starts PGlite and its socket server for the scope; stops both, cleanly, when the scope closes. */
export const make = (options: Options): Effect.Effect<{ readonly url: string }, EmbeddedPostgresError, Scope.Scope> =>
  Effect.gen(function*() {
    // Resources go in a child scope that is closed on failure, so a failed start (say, PGlite
    // cannot open the directory) never keeps the lock or the database held until the caller's scope ends.
    const outer = yield* Effect.scope
    const scope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
    return yield* start(options).pipe(
      Scope.extend(scope),
      Effect.onExit((exit) => exit._tag === "Failure" ? Scope.close(scope, exit) : Effect.void)
    )
  })

/** The embedded server as a layer. */
export const layer = (options: Options): Layer.Layer<EmbeddedPostgres, EmbeddedPostgresError> =>
  Layer.scoped(EmbeddedPostgres, make(options))

const start = (options: Options) =>
  Effect.gen(function*() {
    const dataDir = options.dataDir === undefined ? undefined : Path.resolve(options.dataDir)
    if (dataDir !== undefined) {
      yield* Effect.try({
        try: () => Fs.mkdirSync(dataDir, { recursive: true }),
        catch: (cause) => new EmbeddedPostgresError({ reason: `Cannot create data directory ${dataDir}`, cause })
      })
      // PGlite does not guard its data directory (its postmaster.pid always says pid 42), and two
      // processes writing the same files corrupt them: this lock file is the only guard.
      yield* Effect.acquireRelease(acquireLock(dataDir), releaseLock)
    }

    // A fresh directory is initialised (initdb) in a child process: initdb grows a second WASM
    // memory and leaves ~500 MB of garbage behind, and some of it stays resident in this process.
    if (dataDir !== undefined && !Fs.existsSync(Path.join(dataDir, "PG_VERSION"))) yield* initdb(dataDir)

    const db = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          PGlite.create({
            ...(dataDir === undefined ? {} : { dataDir }),
            startParams: [...PGlite.defaultStartParams, ...settings.flatMap((setting) => ["-c", setting])]
          }),
        catch: (cause) =>
          new EmbeddedPostgresError({
            reason: `PGlite failed to start${dataDir === undefined ? "" : ` in ${dataDir}`}: ${describe(cause)}`,
            cause
          })
      }),
      // close() waits for the running query, then shuts Postgres down (checkpoint), which is what
      // makes the directory consistent for the next start.
      (db) =>
        Effect.tryPromise(() => db.close()).pipe(
          Effect.catchAll((error) => Effect.logWarning("EmbeddedPostgres: closing PGlite failed", error.cause))
        )
    )

    const server = yield* Effect.acquireRelease(
      Effect.gen(function*() {
        // Port 0: the OS picks a free port, with no window for another process to take it.
        // More than one connection even for a one-connection client: a pool that replaces its
        // connection opens the new one before the server has processed the old one's close, and
        // with a limit of 1 that new connection is refused (half of quick client rebuilds failed).
        const server = new PGLiteSocketServer({
          db,
          host: "127.0.0.1",
          port: 0,
          maxConnections: options.maxConnections ?? 10
        })
        yield* Effect.tryPromise({
          try: () => server.start(),
          catch: (cause) =>
            new EmbeddedPostgresError({ reason: `Socket server failed to start: ${describe(cause)}`, cause })
        })
        return server
      }),
      // stop() waits for connected sockets to close; a client that never lets go must not hang
      // shutdown, and PGlite's close() still waits for any query in flight.
      (server) =>
        Effect.promise(() => server.stop()).pipe(
          Effect.timeoutOption(Duration.seconds(5)),
          Effect.flatMap((done) =>
            done._tag === "None" ? Effect.logWarning("EmbeddedPostgres: socket server stop timed out") : Effect.void
          )
        )
    )

    // start() records the OS-assigned port; getServerConn() is "host:port".
    const port = Number(server.getServerConn().split(":").pop())
    if (!Number.isInteger(port) || port <= 0) {
      return yield* new EmbeddedPostgresError({ reason: `Socket server reported no port: ${server.getServerConn()}` })
    }
    return { url: `postgres://postgres@127.0.0.1:${port}/postgres` }
  })

/**
 * Memory settings (decision 0019). Postgres's defaults size caches for a server that has the
 * machine to itself; inside this process every buffer is WASM memory, which never shrinks. The
 * database files are read through the OS page cache, which stays outside this process's RSS, so
 * a small `shared_buffers` costs reads from that cache, not from disk.
 */
const settings = [
  "shared_buffers=16MB",
  "wal_buffers=1MB",
  "temp_buffers=1MB",
  "work_mem=1MB",
  "maintenance_work_mem=8MB"
]

// PGlite's CommonJS entry, resolved from here so the child loads the same copy as this process.
const pgliteEntry = () => createRequire(import.meta.url).resolve("@electric-sql/pglite")

const initdbScript = `const { PGlite } = require(process.argv[1])
PGlite.create({ dataDir: process.argv[2] }).then((db) => db.close()).then(
  () => process.exit(0),
  (error) => { console.error(error instanceof Error ? error.message : String(error)); process.exit(1) }
)`

const initdb = (dataDir: string) =>
  Effect.tryPromise({
    try: () =>
      new Promise<void>((resolve, reject) => {
        ChildProcess.execFile(
          process.execPath,
          ["-e", initdbScript, pgliteEntry(), dataDir],
          { timeout: 120_000 },
          (error, _stdout, stderr) =>
            error === null ? resolve() : reject(new Error(`${error.message} ${stderr}`.trim()))
        )
      }),
    catch: (cause) =>
      new EmbeddedPostgresError({ reason: `PGlite failed to initialise ${dataDir}: ${describe(cause)}`, cause })
  })

const describe = (cause: unknown) => cause instanceof Error ? cause.message : String(cause)

const LOCK_FILE = "tracklog-embedded-postgres.lock"

// Process start time, so a lock left by a dead process whose pid we now have (pid 1 in a
// restarted container) is told apart from one this process holds. Taken once, so a later
// wall-clock jump does not change it.
const processStart = Math.round(Date.now() - process.uptime() * 1000)

interface LockOwner {
  readonly pid: number
  readonly host: string
  readonly started: number
}

const lockContent = (owner: LockOwner) => `${owner.pid}\n${owner.host}\n${owner.started}\n`

const parseLock = (text: string): LockOwner | undefined => {
  const [pid, host, started] = text.split("\n")
  const owner = { pid: Number(pid), host: host ?? "", started: Number(started) }
  return Number.isInteger(owner.pid) && owner.pid > 0 && Number.isFinite(owner.started) ? owner : undefined
}

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

// Why the lock's owner is still alive, or undefined when the lock is stale.
const liveOwner = (owner: LockOwner): string | undefined => {
  // A pid on another machine (a shared volume) cannot be checked, so it counts as alive.
  if (owner.host !== Os.hostname()) return `process ${owner.pid} on host ${owner.host}`
  if (owner.pid === process.pid) {
    return Math.abs(owner.started - processStart) < 1_000 ? `this process (pid ${owner.pid})` : undefined
  }
  return isRunning(owner.pid) ? `process ${owner.pid}` : undefined
}

const acquireLock = (dataDir: string) =>
  Effect.try({
    try: () => {
      const lockPath = Path.join(dataDir, LOCK_FILE)
      const mine = lockContent({ pid: process.pid, host: Os.hostname(), started: processStart })
      // Written whole to a private file, then hard-linked into place: link() fails if the lock
      // exists, and a reader never sees a half-written lock.
      const tmpPath = `${lockPath}.${process.pid}.${Math.random().toString(36).slice(2)}`
      Fs.writeFileSync(tmpPath, mine, { flag: "wx" })
      try {
        for (let attempt = 0; attempt < 3; attempt++) {
          try {
            Fs.linkSync(tmpPath, lockPath)
            return { lockPath, content: mine }
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
          }
          const existing = readOrUndefined(lockPath)
          if (existing === undefined) continue
          const owner = parseLock(existing)
          const alive = owner === undefined ? "an unknown process (unreadable lock file)" : liveOwner(owner)
          if (alive !== undefined) {
            throw new EmbeddedPostgresError({
              reason: `Data directory ${dataDir} is in use by ${alive}. ` +
                `If no such process is using it, delete ${lockPath}.`
            })
          }
          // Stale: remove it only if it is still the one judged stale, then retry the link.
          if (readOrUndefined(lockPath) === existing) Fs.rmSync(lockPath, { force: true })
        }
        throw new EmbeddedPostgresError({ reason: `Could not take the lock ${lockPath}: it keeps changing` })
      } finally {
        Fs.rmSync(tmpPath, { force: true })
      }
    },
    catch: (cause) =>
      cause instanceof EmbeddedPostgresError
        ? cause
        : new EmbeddedPostgresError({ reason: `Cannot lock data directory ${dataDir}: ${describe(cause)}`, cause })
  })

const releaseLock = (lock: { readonly lockPath: string; readonly content: string }) =>
  Effect.try(() => {
    // Never remove a lock someone else has taken since (after deleting ours by hand, say).
    if (readOrUndefined(lock.lockPath) === lock.content) Fs.rmSync(lock.lockPath, { force: true })
  }).pipe(Effect.catchAll((error) => Effect.logWarning("EmbeddedPostgres: releasing the lock failed", error.cause)))

const readOrUndefined = (path: string) => {
  try {
    return Fs.readFileSync(path, "utf8")
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw error
  }
}
