/**
 * Reads of the memory store's log (behaviour §4): one stream, and a page of the log, or of one
 * project's part of it, after a checkpoint. `EventStore.readStream` and `readAll` are these; the
 * live reads of `LogSource` page through the same function.
 */
import type * as EventStore from "@tracklog/core/EventStore"
import * as LogStream from "@tracklog/core/LogStream"
import * as Effect from "effect/Effect"
import * as LogRecord from "./logRecord.js"
import type * as State from "./state.js"

/** The events of a stream, from version 1; none once erased but its marker. */
export const stream = (state: State.State, streamId: string): ReadonlyArray<EventStore.RecordedEvent> => {
  const events: Array<EventStore.RecordedEvent> = []
  for (const position of state.streams.get(streamId) ?? []) {
    const stored = LogRecord.at(state.log, position)
    if (!LogRecord.isErased(stored)) events.push(LogRecord.toRecorded(stored, position))
  }
  return events
}

/** The log positions after a checkpoint, of one project (from its position list) or of the whole log. */
export interface Range {
  readonly count: number
  /** The `i`th position of the range, from 0. */
  readonly at: (i: number) => number
}

/** The positions after `after`: of a project's log when `projectId` is given, else of the whole log. */
export const positionsAfter = (
  state: State.State,
  after: EventStore.Checkpoint,
  projectId: string | undefined
): Range => {
  // Transactions here commit in id order, so the position alone orders the log.
  const from = Math.max(0, Number(after.position))
  if (projectId === undefined) {
    return { count: Math.max(0, state.log.size() - from), at: (i) => from + 1 + i }
  }
  const list = state.projectLog.get(projectId) ?? []
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (list[mid]! <= from) lo = mid + 1
    else hi = mid
  }
  return { count: list.length - lo, at: (i) => list[lo + i]! }
}

/**
 * Up to `limit` events after the checkpoint, in log order. An erased event is skipped, but the
 * checkpoint moves past it (behaviour §7): a page of them is progress.
 */
export const page = (
  state: State.State,
  after: EventStore.Checkpoint,
  limit: number,
  projectId: string | undefined
): EventStore.Batch => {
  const range = positionsAfter(state, after, projectId)
  const events: Array<EventStore.RecordedEvent> = []
  let checkpoint = after
  for (let i = 0; i < Math.min(limit, range.count); i++) {
    const position = range.at(i)
    const stored = LogRecord.at(state.log, position)
    if (LogRecord.isErased(stored)) {
      checkpoint = LogRecord.checkpointOf(stored, position)
    } else {
      const recorded = LogRecord.toRecorded(stored, position)
      events.push(recorded)
      checkpoint = recorded
    }
  }
  return { events, checkpoint: checkpoint === after ? after : LogStream.checkpointOf(checkpoint) }
}

/** The log's reads of the `EventStore` port. */
export const make = (state: State.State): Pick<EventStore.EventStore["Type"], "readStream" | "readAll"> => ({
  readStream: (streamId) => Effect.sync(() => stream(state, streamId)),
  readAll: (after, limit) => Effect.sync(() => page(state, after, limit, undefined))
})
