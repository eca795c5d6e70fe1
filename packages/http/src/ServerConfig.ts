/**
 * The server's configuration, from the environment (the README's "Configuration" table).
 */
import * as CommandHandler from "@tracklog/core/CommandHandler"
import * as WebhookSchedule from "@tracklog/core/WebhookSchedule"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as RateLimiter from "./RateLimiter.js"

/** Which store backs the server. */
export type Store =
  | { readonly _tag: "memory" }
  /** `prepare`: whether the track path's statements are prepared per connection (TRACKLOG_PG_PREPARE). */
  | { readonly _tag: "postgres"; readonly url: string; readonly prepare: boolean }
  | { readonly _tag: "embedded"; readonly dataDir: string }

/** A `pk_…:sk_…` pair from TRACKLOG_PROJECT_KEYS. */
export interface KeyPair {
  readonly publicKey: string
  readonly secretKey: string
}

/** Parses `pk_…:sk_…[,pk_…:sk_…]`. */
export const parseKeyPairs = (text: string): Either.Either<Array<KeyPair>, string> => {
  const pairs: Array<KeyPair> = []
  for (const item of text.split(",").map((s) => s.trim()).filter((s) => s.length > 0)) {
    const [publicKey, secretKey, ...rest] = item.split(":")
    if (
      publicKey === undefined || secretKey === undefined || rest.length > 0 ||
      !/^pk_\S+$/.test(publicKey) || !/^sk_\S+$/.test(secretKey)
    ) {
      return Either.left(`expected pk_…:sk_… pairs separated by commas, got an item of ${item.length} characters`)
    }
    pairs.push({ publicKey, secretKey })
  }
  return Either.right(pairs)
}

const keyPairs = Config.string("TRACKLOG_PROJECT_KEYS").pipe(
  Config.withDefault(""),
  Config.mapOrFail((text) =>
    Either.mapLeft(parseKeyPairs(text), (message) => ConfigError.InvalidData(["TRACKLOG_PROJECT_KEYS"], message))
  )
)

const store = Config.all({
  kind: Config.option(Config.literal("postgres", "embedded", "memory")("TRACKLOG_STORE")),
  url: Config.option(Config.string("DATABASE_URL")),
  dataDir: Config.string("TRACKLOG_DATA_DIR").pipe(Config.withDefault(".tracklog")),
  // off behind a pooler that keeps no session state (PgBouncer in transaction mode before 1.21).
  prepare: Config.literal("on", "off")("TRACKLOG_PG_PREPARE").pipe(
    Config.withDefault("on"),
    Config.map((value) => value === "on")
  )
}).pipe(Config.mapOrFail(({ dataDir, kind, prepare, url }): Either.Either<Store, ConfigError.ConfigError> => {
  // Default: Postgres when a DATABASE_URL is given, else the embedded Postgres on disk.
  const chosen = Option.getOrElse(kind, () => (Option.isSome(url) ? "postgres" as const : "embedded" as const))
  switch (chosen) {
    case "memory":
      return Either.right({ _tag: "memory" })
    case "embedded":
      return Either.right({ _tag: "embedded", dataDir })
    case "postgres":
      // Said here, before connecting: the driver would take an empty URL for its defaults and fail
      // with "Failed to acquire connection", naming nothing.
      return Option.match(url, {
        onNone: () =>
          Either.left(
            ConfigError.MissingData(["DATABASE_URL"], "TRACKLOG_STORE=postgres needs DATABASE_URL, a postgres:// URL")
          ),
        onSome: (url) =>
          url.trim() === ""
            ? Either.left(
              ConfigError.MissingData(
                ["DATABASE_URL"],
                "DATABASE_URL is empty: set it to a postgres:// URL, or unset it (and TRACKLOG_STORE) for the embedded store"
              )
            )
            : Either.right({ _tag: "postgres", url, prepare })
      })
  }
}))

/** The store part alone: what tools on the same store (the CLI) read, from the same variables. */
export const StoreConfig = store

/** Everything the server reads from the environment. */
export const ServerConfig = Config.all({
  // 0 asks the OS for a free port; the "listening" log line tells which.
  port: Config.integer("PORT").pipe(
    Config.withDefault(3000),
    Config.validate({ message: "PORT must be 0–65535", validation: (n) => n >= 0 && n <= 65535 })
  ),
  host: Config.option(Config.string("HOST")),
  bodyLimit: Config.integer("TRACKLOG_BODY_LIMIT").pipe(
    Config.withDefault(1024 * 1024),
    Config.validate({ message: "TRACKLOG_BODY_LIMIT must be a positive number of bytes", validation: (n) => n > 0 })
  ),
  store,
  keys: keyPairs,
  // behaviour §8: a batch of up to 1000 tracks needs more room than one track.
  batchBodyLimit: Config.integer("TRACKLOG_BATCH_BODY_LIMIT").pipe(
    Config.withDefault(10 * 1024 * 1024),
    Config.validate({
      message: "TRACKLOG_BATCH_BODY_LIMIT must be a positive number of bytes",
      validation: (n) => n > 0
    })
  ),
  // behaviour §6: how long an Idempotency-Key and its answer are kept, at least 24 h by default.
  idempotencyTtl: Config.integer("TRACKLOG_IDEMPOTENCY_TTL").pipe(
    Config.withDefault(86_400),
    Config.validate({
      message: "TRACKLOG_IDEMPOTENCY_TTL must be a positive number of seconds",
      validation: (n) => n > 0
    })
  ),
  // The per-process cache of contacts (CommandHandler): bounded by bytes so big contacts cannot grow it without end.
  contactCacheBytes: Config.integer("TRACKLOG_CONTACT_CACHE_BYTES").pipe(
    Config.withDefault(CommandHandler.DefaultCacheBytes),
    Config.validate({ message: "TRACKLOG_CONTACT_CACHE_BYTES must be 0 or more bytes", validation: (n) => n >= 0 })
  ),
  // TRACKLOG_LOG=off silences the per-request log lines; any other value leaves them on.
  requestLog: Config.string("TRACKLOG_LOG").pipe(Config.withDefault("on"), Config.map((value) => value !== "off")),
  // `GET /metrics` and request metrics; `off` disables both (behaviour §9).
  metrics: Config.literal("on", "off")("TRACKLOG_METRICS").pipe(
    Config.withDefault("on" as const),
    Config.map((value) => value === "on")
  ),
  // behaviour §12: `on` lets webhooks go to loopback, private and link-local targets (tests, a receiver on this machine).
  webhookAllowPrivate: Config.literal("on", "off")("TRACKLOG_WEBHOOK_ALLOW_PRIVATE").pipe(
    Config.withDefault("off" as const),
    Config.map((value) => value === "on")
  ),
  // behaviour §12: the waits between a webhook message's attempts, `5s,5m,30m,2h,5h,10h,10h` by default.
  webhookRetry: Config.string("TRACKLOG_WEBHOOK_RETRY").pipe(
    Config.withDefault(WebhookSchedule.format(WebhookSchedule.DefaultDelays)),
    Config.mapOrFail((text) =>
      Either.mapLeft(
        WebhookSchedule.parse(text),
        (message) => ConfigError.InvalidData(["TRACKLOG_WEBHOOK_RETRY"], message)
      )
    )
  ),
  // `<requests per second>[:<burst>]` per key, per process; off when unset (behaviour §9).
  rateLimit: Config.option(
    Config.string("TRACKLOG_RATE_LIMIT").pipe(
      Config.mapOrFail((text) =>
        Either.mapLeft(RateLimiter.parse(text), (message) => ConfigError.InvalidData(["TRACKLOG_RATE_LIMIT"], message))
      )
    )
  )
})

export type ServerConfig = Config.Config.Success<typeof ServerConfig>
