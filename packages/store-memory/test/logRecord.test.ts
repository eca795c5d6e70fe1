import { describe, expect, it } from "@effect/vitest"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as LogRecord from "../src/internal/logRecord.js"
import * as TextLog from "../src/internal/textLog.js"

const at = new Date("2026-01-02T03:04:05.678Z")
const events: ReadonlyArray<ContactEvent.ContactEvent> = [
  ContactEvent.ContactCreated.make({ contactId: "c1", projectId: "p1", email: "a@example.com", subscribed: true, at }),
  ContactEvent.EventTracked.make({ name: "purchase", data: { plan: "pro", seats: [1, 2], nested: { x: null } }, at }),
  ContactEvent.ContactErased.make({ contactId: "c1", at })
]

const fields = (i: number, event: ContactEvent.ContactEvent) => ({
  id: `e${i}`,
  streamId: "c1",
  projectId: "p1",
  version: i + 1,
  transactionId: 7,
  event
})

describe("LogRecord", () => {
  it("an event's text reads back as the recorded event at its position", () => {
    const log = TextLog.make()
    events.forEach((event, i) => log.append(LogRecord.encode(fields(i, event))))
    events.forEach((event, i) => {
      const stored = LogRecord.at(log, i + 1)
      expect(LogRecord.isErased(stored)).toBe(false)
      if (LogRecord.isErased(stored)) return
      expect(LogRecord.toRecorded(stored, i + 1)).toEqual({
        id: `e${i}`,
        streamId: "c1",
        projectId: "p1",
        version: i + 1,
        transactionId: 7n,
        position: BigInt(i + 1),
        event
      })
      expect(LogRecord.checkpointOf(stored, i + 1)).toEqual({ transactionId: 7n, position: BigInt(i + 1) })
    })
  })

  it("an event that cannot be encoded throws before any text is made", () => {
    const bad = ContactEvent.EventTracked.make({ name: "bad", data: { n: 1n } as never, at })
    expect(() => LogRecord.encode(fields(0, bad))).toThrow()
  })

  it("a tombstone fits in the place of the smallest event's text and keeps only its transaction", () => {
    const log = TextLog.make()
    const smallest = ContactEvent.ContactErased.make({ contactId: "", at })
    const text = LogRecord.encode({ ...fields(0, smallest), id: "", streamId: "", projectId: "" })
    log.append(text)
    // A transaction id as large as the log can number.
    const tombstone = LogRecord.tombstone(Number.MAX_SAFE_INTEGER)
    expect(tombstone.length).toBeLessThanOrEqual(text.length)
    log.overwrite(0, tombstone)
    const stored = LogRecord.at(log, 1)
    expect(stored).toEqual({ erased: Number.MAX_SAFE_INTEGER })
    expect(LogRecord.isErased(stored)).toBe(true)
    // A reader moves its checkpoint past an erased event as past any other.
    expect(LogRecord.checkpointOf(stored, 1)).toEqual({ transactionId: BigInt(Number.MAX_SAFE_INTEGER), position: 1n })
  })
})
