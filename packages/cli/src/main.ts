#!/usr/bin/env node
/**
 * `pnpm tracklog <command>`: exit code 0 on success, 1 when the command failed, 2 for a usage error.
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Cli from "./Cli.js"

Cli.cli(Cli.processOutput)(process.argv).pipe(
  // Help and usage errors in colour on a terminal only, and never with NO_COLOR.
  Cli.withColours,
  Effect.catchAllCause((cause) => {
    const failure = Cause.failureOption(cause)
    // @effect/cli has already printed what was wrong with the arguments.
    if (failure._tag === "Some" && ValidationError.isValidationError(failure.value)) {
      return Effect.sync(() => {
        process.exitCode = 2
      })
    }
    const message = failure._tag === "Some" && failure.value instanceof Cli.CliError
      ? failure.value.message
      : `unexpected error: ${Cause.pretty(cause)}`
    return Effect.zipRight(
      Cli.processOutput.err(`tracklog: ${message}\n`),
      Effect.sync(() => {
        process.exitCode = 1
      })
    )
  }),
  Effect.provide(NodeContext.layer),
  // stdout carries the results (an export): log lines, if any, go to stderr.
  Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))),
  Logger.withMinimumLogLevel(LogLevel.Warning),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
