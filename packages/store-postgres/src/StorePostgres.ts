/**
 * The PostgreSQL store: the log, the inline contact projection and the projects, over
 * `@effect/sql-pg`. Many processes may share one database; correctness rests on the database's
 * constraints, never on a single process. Each port is an internal module (`internal/*.ts`); this
 * module puts them together.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Backup from "@tracklog/core/Backup"
import * as EventStore from "@tracklog/core/EventStore"
import * as LogStream from "@tracklog/core/LogStream"
import * as Membership from "@tracklog/core/Membership"
import * as Processor from "@tracklog/core/Processor"
import * as SegmentStore from "@tracklog/core/SegmentStore"
import * as Store from "@tracklog/core/Store"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Reactivity from "@effect/experimental/Reactivity"
import * as Pg from "pg"
import * as Append from "./internal/append.js"
import * as BackupSql from "./internal/backup.js"
import * as ContactsSql from "./internal/contacts.js"
import * as Database from "./internal/database.js"
import * as DirectQuery from "./internal/directQuery.js"
import * as Erase from "./internal/erase.js"
import * as IdempotencySql from "./internal/idempotency.js"
import * as LiveLog from "./internal/liveLog.js"
import * as Log from "./internal/log.js"
import * as MembershipStoreSql from "./internal/membershipStore.js"
import * as ProcessorStore from "./internal/processorStore.js"
import * as ProjectsSql from "./internal/projects.js"
import * as SegmentStoreSql from "./internal/segmentStore.js"
import * as SuppressionsSql from "./internal/suppressions.js"
import * as WebhookEndpointsSql from "./internal/webhookEndpoints.js"
import * as WebhookOutboxSql from "./internal/webhookOutbox.js"
import * as Migrations from "./Migrations.js"

/** How the store reaches its database. */
export interface Config extends Options {
  readonly url: string
  /** Pool size; 1 for the embedded Postgres, which serves one connection at a time. */
  readonly maxConnections?: number | undefined
}

/** Tuning of the store. */
export interface Options {
  /** Longest a store operation may take before it answers `StoreUnavailable` (default 5 s). */
  readonly timeout?: Duration.DurationInput | undefined
  /** Most appends in one group commit (default 256). */
  readonly maxBatch?: number | undefined
  /** Group commits in flight at once (default 2). */
  readonly maxInFlight?: number | undefined
  /** How often an idle live reader reads again, for other processes' appends (default 200 ms). */
  readonly pollInterval?: Duration.DurationInput | undefined
  /**
   * Whether the track path's statements are prepared once per connection (default true). Turn
   * it off behind a pooler that does not keep a session's prepared statements (PgBouncer in
   * transaction mode before 1.21).
   */
  readonly preparedStatements?: boolean | undefined
}

/** Builds the ports over a `SqlClient` whose database has been migrated. */
export const make = (options: Options = {}) =>
  Effect.gen(function*() {
    const db = yield* Database.make(options)
    // Notified by every commit to the log, so this process's live readers wake at once.
    const signal = LogStream.makeSignal()
    const suppressions = SuppressionsSql.make(db)
    const idempotency = IdempotencySql.make(db)
    const log = Log.make(db)
    const { append, appendAll } = Append.make({
      db,
      signal,
      erase: Erase.make({
        db,
        withoutContact: idempotency.withoutContact,
        suppressWithin: suppressions.suppressWithin,
        withoutWebhooks: WebhookOutboxSql.eraseContact(db)
      }),
      newContactHash: suppressions.newContactHash,
      newContactHasher: suppressions.newContactHasher,
      insertRecord: idempotency.insert
    })
    const eventStore = EventStore.EventStore.of({
      append,
      appendAll,
      findIdempotency: idempotency.find,
      expireIdempotency: idempotency.expire,
      readStream: log.readStream,
      readAll: log.readAll
    })
    // Read once: the migrations have run before the store is made.
    const identity = yield* Effect.orDie(LiveLog.readIdentity(db.sql))
    return {
      eventStore,
      contacts: ContactsSql.make(db),
      projects: ProjectsSql.make(db),
      suppressions: suppressions.port,
      webhookEndpoints: WebhookEndpointsSql.make(db),
      webhookOutbox: WebhookOutboxSql.make(db),
      logSource: LiveLog.makeLogSource({
        sql: db.sql,
        guard: db.guard,
        identity,
        signal,
        pollInterval: options.pollInterval
      }),
      processors: ProcessorStore.make({ ...db, signal }),
      backup: BackupSql.make(db.sql, log.readAll),
      // Not in `Store.Implementations` yet: the segment ports (behaviour §11).
      segmentStore: SegmentStoreSql.make(db),
      membershipStore: MembershipStoreSql.make(db, signal)
    }
  })

/** The ports over the `SqlClient` in context; runs the migrations first. */
export const layerFromClient = (
  options: Options = {}
): Layer.Layer<
  | Store.Ports
  | LogStream.LogSource
  | Processor.ProcessorStore
  | Backup.Backup
  | SegmentStore.SegmentStore
  | Membership.MembershipStore,
  SqlError.SqlError | import("@effect/sql/Migrator").MigrationError,
  SqlClient.SqlClient
> =>
  Layer.effectContext(Effect.gen(function*() {
    yield* Migrations.run
    const ports = yield* make(options)
    return Store.context(ports).pipe(
      Context.add(LogStream.LogSource, ports.logSource),
      Context.add(Processor.ProcessorStore, ports.processors),
      Context.add(Backup.Backup, ports.backup),
      Context.add(SegmentStore.SegmentStore, ports.segmentStore),
      Context.add(Membership.MembershipStore, ports.membershipStore)
    )
  }))

/**
 * A `pg` pool for the store, made here so the store can send its batched statements to it
 * directly (`DirectQuery`), under the `@effect/sql-pg` client every other statement uses.
 */
export const layerClient = (config: Config) =>
  Layer.scopedContext(Effect.gen(function*() {
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const pool = new Pg.Pool({
          connectionString: config.url,
          max: config.maxConnections ?? 10,
          application_name: "tracklog",
          // PGlite's one session keeps what closed connections prepared: dropped as one opens.
          ...(config.preparedStatements === false ? {} : { onConnect: DirectQuery.dropStale })
        })
        // A connection that fails while idle is dropped by the pool; its next user reconnects.
        pool.on("error", () => {})
        return pool
      }),
      (pool) => Effect.promise(() => pool.end())
    )
    const client = yield* PgClient.fromPool({ acquire: Effect.succeed(pool), applicationName: "tracklog" })
    return Context.make(PgClient.PgClient, client).pipe(
      Context.add(SqlClient.SqlClient, client),
      Context.add(DirectQuery.Pool, pool)
    )
  })).pipe(Layer.provide(Reactivity.layer))

/** The store on a database URL: pool, migrations, ports. */
export const layer = (config: Config) => layerFromClient(config).pipe(Layer.provideMerge(layerClient(config)))
