/**
 * The memory store's log, read live (behaviour §5.3): the `LogSource` port over its log reads.
 */
import * as EventStore from "@tracklog/core/EventStore"
import * as LogStream from "@tracklog/core/LogStream"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as LogReads from "./logReads.js"
import * as LogRecord from "./logRecord.js"
import type * as State from "./state.js"

/** The `LogSource` of a memory store; `signal` is notified by its appends. */
export const make = (state: State.State, signal: LogStream.Signal): LogStream.LogSource["Type"] =>
  LogStream.LogSource.of({
    // One log per store made: nothing of it outlives the process, so no cursor made before this
    // store was (by another process, or another store an export came from) can be one of its.
    identity: { epoch: LogStream.newEpoch(), legacyCursors: false },
    read: (after, limit, projectId) => Effect.sync(() => LogReads.page(state, after, limit, projectId)),
    head: (projectId) =>
      Effect.sync(() => {
        const list = projectId === undefined ? undefined : state.projectLog.get(projectId) ?? []
        const position = list === undefined ? state.log.size() : list[list.length - 1] ?? 0
        return position === 0 ? EventStore.start : LogRecord.checkpointOf(LogRecord.at(state.log, position), position)
      }),
    lag: (after, projectId) =>
      Effect.sync(() => {
        const range = LogReads.positionsAfter(state, after, projectId)
        let oldestAt = Option.none<Date>()
        for (let i = 0; i < range.count && Option.isNone(oldestAt); i++) {
          const stored = LogRecord.at(state.log, range.at(i))
          if (!LogRecord.isErased(stored)) oldestAt = Option.some(LogRecord.toRecorded(stored, range.at(i)).event.at)
        }
        return { events: range.count, oldestAt }
      }),
    signal,
    pollInterval: LogStream.DefaultPollInterval
  })
