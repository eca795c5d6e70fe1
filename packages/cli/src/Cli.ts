/**
 * `tracklog`: key management, export/import (behaviour §9) and segment rebuilds (behaviour §11.3)
 * on the server's store, configured by
 * the same environment variables as the server (`ServerConfig.StoreConfig`, `StoreLayer`).
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ApiKey from "@tracklog/core/ApiKey"
import * as Backup from "@tracklog/core/Backup"
import * as Ids from "@tracklog/core/Ids"
import * as Membership from "@tracklog/core/Membership"
import * as Projects from "@tracklog/core/Projects"
import * as Segment from "@tracklog/core/Segment"
import * as SegmentStore from "@tracklog/core/SegmentStore"
import * as ServerConfig from "@tracklog/http/ServerConfig"
import * as StoreLayer from "@tracklog/http/StoreLayer"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Readline from "node:readline"

/** A failure the CLI explains in one line and exits non-zero for. */
export class CliError extends Schema.TaggedError<CliError>()("CliError", {
  message: Schema.String
}) {}

/** Where the CLI writes: stdout for results, stderr for notes (replaceable in tests). */
export interface Output {
  readonly out: (text: string) => Effect.Effect<void>
  readonly err: (text: string) => Effect.Effect<void>
}

// Writes with backpressure: an export of a large store never buffers all of it.
const write = (stream: NodeJS.WritableStream) => (text: string) =>
  Effect.async<void>((resume) => {
    if (stream.write(text)) resume(Effect.void)
    else stream.once("drain", () => resume(Effect.void))
  })

/** The process's stdout and stderr. */
export const processOutput: Output = { out: write(process.stdout), err: write(process.stderr) }

/**
 * Whether text for a stream may carry ANSI colours: only on a terminal, and not when `NO_COLOR` is
 * set to anything (https://no-color.org).
 */
export const colours = (stream: { readonly isTTY?: boolean | undefined }, env: NodeJS.ProcessEnv = process.env) =>
  stream.isTTY === true && (env["NO_COLOR"] ?? "") === ""

// CSI sequences (colours and styles): @effect/cli writes them whatever the stream is.
const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, "g")
const plain = (args: ReadonlyArray<unknown>) => args.map((a) => typeof a === "string" ? a.replace(ansi, "") : a)

/** Runs `effect` with @effect/cli's help and usage errors in colour only where `colours` allows. */
export const withColours = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Console.consoleWith((console) =>
    Effect.withConsole(effect, {
      ...console,
      log: colours(process.stdout) ? console.log : (...args) => console.log(...plain(args)),
      error: colours(process.stderr) ? console.error : (...args) => console.error(...plain(args))
    })
  )

// An argument of the wrong form is a usage error (exit 2), refused before the store is opened.
const checked = (name: string, valid: (text: string) => boolean, message: (text: string) => string) =>
  Args.text({ name }).pipe(
    Args.mapEffect((text) => valid(text) ? Effect.succeed(text) : Effect.fail(HelpDoc.p(message(text))))
  )

const Uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const projectIdArg = checked(
  "project id",
  (text) => Uuid.test(text),
  (text) => `A project id is a UUID, as \`tracklog projects list\` shows it; got "${text}".`
).pipe(Args.map((id) => id.toLowerCase()), Args.withDescription("The project's id (a UUID)."))

// The key itself is never echoed: a mistyped key may still be most of a secret.
const segmentIdArg = checked(
  "segment id",
  (text) => Uuid.test(text),
  (text) => `A segment id is a UUID, as GET /segments shows it; got "${text}".`
).pipe(
  Args.map((id) => id.toLowerCase()),
  Args.withDescription("The segment's id (a UUID); without it, every segment."),
  Args.optional
)

const keyArg = checked(
  "key",
  (text) => text.startsWith("pk_") || text.startsWith("sk_"),
  () => "A key starts with pk_ (public) or sk_ (secret)."
).pipe(Args.withDescription("The key to revoke, pk_… or sk_…."))

// The store the environment names, opened only when a command runs (never for --help).
const withStore = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(
    Effect.mapError(ServerConfig.StoreConfig, (error) => new CliError({ message: `configuration: ${error}` })),
    (store) => Effect.provide(effect, Layer.merge(StoreLayer.storeLayer(store), Ids.layer))
  )

const storeError = (error: unknown): CliError => {
  if (error instanceof CliError) return error
  const e = error as { _tag?: string; message?: string; reason?: string; projectId?: string }
  switch (e._tag) {
    case "EmbeddedPostgresError":
      return new CliError({
        message: `${e.reason ?? e.message}\nThe embedded store allows one process at a time: stop the server first, ` +
          `or run the server on PostgreSQL (DATABASE_URL) to manage keys while it runs.`
      })
    case "StoreUnavailable":
      return new CliError({ message: `the store is unavailable: ${e.reason ?? e.message}` })
    case "ProjectNotFound":
      return new CliError({ message: `no project with id ${e.projectId}` })
    case "KeyNotFound":
      return new CliError({ message: "no project has this key (already revoked, or mistyped)" })
    case "StoreNotEmpty":
    case "InvalidExport":
    case "ProjectKeysConflict":
      return new CliError({ message: e.message ?? String(e._tag) })
    case "SqlError":
    case "MigrationError":
      return new CliError({ message: `database error: ${e.message}` })
    default:
      return new CliError({ message: e.message ?? String(error) })
  }
}

const run = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.mapError(withStore(effect), storeError)

const newKeys = Effect.gen(function*() {
  const publicKey = ApiKey.generate("public")
  const secretKey = ApiKey.generate("secret")
  return {
    publicKey,
    secretKey,
    publicKeyHash: yield* ApiKey.hash(publicKey),
    secretKeyHash: yield* ApiKey.hash(secretKey)
  }
})

const printKeys = (output: Output, title: string, keys: { readonly publicKey: string; readonly secretKey: string }) =>
  output.out(
    `${title}\n  public key: ${keys.publicKey}\n  secret key: ${keys.secretKey}\n(shown once: only their hashes are stored)\n`
  )

/** The command tree, writing to `output`. */
export const command = (output: Output) => {
  const projectsCreate = Command.make("create", {}, () =>
    run(Effect.gen(function*() {
      const projects = yield* Projects.Projects
      const projectId = yield* (yield* Ids.Ids).next
      const keys = yield* newKeys
      yield* projects.ensure({ projectId, publicKeyHash: keys.publicKeyHash, secretKeyHash: keys.secretKeyHash })
      yield* printKeys(output, `Created project ${projectId}.`, keys)
    }))).pipe(Command.withDescription("Create a project and print its new public and secret keys, once."))

  const projectsList = Command.make("list", {}, () =>
    run(Effect.gen(function*() {
      const listed = yield* (yield* Projects.Projects).list
      if (listed.length === 0) return yield* output.err("No projects.\n")
      yield* output.out(
        listed.map((p) =>
          `${p.projectId}  created ${
            p.createdAt?.toISOString() ?? "-"
          }  public keys ${p.publicKeys}  secret keys ${p.secretKeys}\n`
        ).join("")
      )
    }))).pipe(
      Command.withDescription("List projects: id, creation time, and how many keys of each kind (never the keys).")
    )

  const projects = Command.make("projects").pipe(
    Command.withDescription("Manage projects."),
    Command.withSubcommands([projectsCreate, projectsList])
  )

  const rotate = Command.make(
    "rotate",
    { projectId: projectIdArg },
    ({ projectId }) =>
      run(Effect.gen(function*() {
        const keys = yield* newKeys
        yield* (yield* Projects.Projects).rotate({
          projectId,
          publicKeyHash: keys.publicKeyHash,
          secretKeyHash: keys.secretKeyHash
        })
        yield* printKeys(output, `Rotated the keys of project ${projectId}; its old keys no longer work.`, keys)
      }))
  ).pipe(
    Command.withDescription(
      "Replace both keys of a project by a new pair, printed once. The old pair stops working at once."
    )
  )

  const revoke = Command.make("revoke", { key: keyArg }, ({ key }) =>
    run(Effect.gen(function*() {
      const grant = yield* (yield* Projects.Projects).revoke(yield* ApiKey.hash(key))
      yield* output.out(`Revoked the ${grant.kind} key of project ${grant.projectId}.\n`)
    }))).pipe(Command.withDescription("Revoke one key (pk_… or sk_…): it stops working at once."))

  const keys = Command.make("keys").pipe(
    Command.withDescription("Rotate or revoke keys."),
    Command.withSubcommands([rotate, revoke])
  )

  const exportCommand = Command.make("export", {}, () =>
    run(Effect.gen(function*() {
      const backup = yield* Backup.Backup
      let count = 0
      yield* Stream.runForEachChunk(backup.export, (chunk) => {
        let text = ""
        for (const item of chunk) text += JSON.stringify(item) + "\n"
        count += chunk.length
        return output.out(text)
      })
      yield* output.err(`Exported ${count} items.\n`)
    }))).pipe(Command.withDescription(
      "Write the whole store as NDJSON to stdout: projects, key hashes, the log (ids, versions, times, projects), suppressions. " +
        "Idempotency records are not exported."
    ))

  const importCommand = Command.make("import", { file: Args.text({ name: "file" }) }, ({ file }) =>
    // The file is checked before the store is opened: a typo creates no data directory.
    Effect.suspend(() =>
      Fs.existsSync(file) ? Effect.void : Effect.fail(new CliError({ message: `no such file: ${file}` }))
    ).pipe(Effect.zipRight(run(Effect.gen(function*() {
      const backup = yield* Backup.Backup
      const summary = yield* backup.import(lines(file))
      yield* output.out(
        `Imported ${summary.projects} projects, ${summary.keys} keys, ${summary.events} events, ` +
          `${summary.contacts} contacts, ${summary.rows} other rows.\n`
      )
    }))))).pipe(Command.withDescription(
      "Load an export (NDJSON) into an EMPTY store, in log order, and rebuild the contacts by folding the log. Refuses a store that holds anything."
    ))

  const rebuild = Command.make("rebuild", { segmentId: segmentIdArg }, ({ segmentId }) =>
    run(Effect.gen(function*() {
      const membership = yield* Effect.serviceOption(Membership.MembershipStore)
      const definitions = yield* Effect.serviceOption(SegmentStore.SegmentStore)
      if (Option.isNone(membership) || Option.isNone(definitions)) {
        return yield* new CliError({ message: "this store keeps no segments" })
      }
      const id = Option.getOrUndefined(segmentId)
      if (id !== undefined) {
        const all = yield* definitions.value.all
        if (!all.some((segment) => segment.id === id && !Segment.isDeleted(segment))) {
          return yield* new CliError({ message: `no segment with id ${id}` })
        }
      }
      yield* membership.value.rebuild(id)
      yield* output.out(
        `${id === undefined ? "Every segment" : `Segment ${id}`} is rebuilding from the log: ` +
          "the segment processor evaluates every contact again (status building, then live); no transition is recorded twice.\n"
      )
    }))).pipe(Command.withDescription(
      "Recompute segment membership from the log: one segment, or every segment (and every contact's snapshot). " +
        "The members come out the same and no entry or exit is recorded twice."
    ))

  const segments = Command.make("segments").pipe(
    Command.withDescription("Operate segments."),
    Command.withSubcommands([rebuild])
  )

  return Command.make("tracklog").pipe(
    Command.withDescription(
      "Operate a tracklog store: the same store configuration as the server (TRACKLOG_STORE, DATABASE_URL, TRACKLOG_DATA_DIR). " +
        "Exit code 0 on success, 1 when the command failed, 2 on a usage error (an unknown command or option, a missing " +
        "or malformed argument). Colours only on a terminal; NO_COLOR turns them off."
    ),
    Command.withSubcommands([projects, keys, exportCommand, importCommand, segments])
  )
}

// The file's lines as export items; a line that is not one fails the import, naming the line.
const lines = (file: string): Stream.Stream<Backup.Item, Backup.InvalidExport | CliError> =>
  Stream.suspend(() => {
    let line = 0
    return Stream.fromAsyncIterable<string, CliError>(
      Readline.createInterface({ input: Fs.createReadStream(file), crlfDelay: Infinity }),
      (cause) =>
        new CliError({ message: `cannot read ${file}: ${cause instanceof Error ? cause.message : String(cause)}` })
    ).pipe(
      Stream.filterMap((text) => {
        line++
        return text.trim().length === 0 ? Option.none() : Option.some([text, line] as const)
      }),
      Stream.mapEffect(([text, n]) => Backup.parseLine(text, n))
    )
  })

/** Runs the CLI on argv (as `process.argv`). */
export const cli = (output: Output) => Command.run(command(output), { name: "tracklog", version: "0.1.0" })
