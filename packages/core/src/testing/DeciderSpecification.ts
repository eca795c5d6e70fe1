/**
 * Given/when/then for the track decider, in the style of Emmett's `DeciderSpecification`:
 * given(past events).when(request body).then(new events) or .thenRejects(issues).
 */
import { expect } from "vitest"
import * as Either from "effect/Either"
import * as Contact from "../Contact.js"
import type * as ContactEvent from "../ContactEvent.js"
import * as TrackCommand from "../TrackCommand.js"
import * as TrackDecider from "../TrackDecider.js"

/** The fixed context the specification decides in. */
export const context: TrackDecider.Context = {
  projectId: "0190a000-0000-7000-8000-000000000001",
  contactId: "0190a000-0000-7000-8000-000000000002",
  now: new Date("2026-01-02T03:04:05.678Z")
}

/** Starts a specification from the events already in the stream. */
export const given = (events: ReadonlyArray<ContactEvent.ContactEvent>) => ({
  /** Decodes `body` as a request would be, and decides it on the folded state. */
  when: (body: unknown, ctx: TrackDecider.Context = context) => {
    const decoded = TrackCommand.decode(body)
    const decided = Either.map(decoded, (command) => TrackDecider.decide(command, Contact.fold(events), ctx))
    return {
      /** The command is valid and decides exactly these events. */
      then: (expected: ReadonlyArray<ContactEvent.ContactEvent>) => {
        if (Either.isLeft(decided)) throw new Error(`rejected: ${decided.left.message}`)
        expect(decided.right).toEqual(expected)
      },
      /** The command is rejected with exactly these field issues. */
      thenRejects: (issues: ReadonlyArray<Partial<TrackCommand.FieldIssue>>) => {
        if (Either.isRight(decided)) throw new Error(`accepted: ${JSON.stringify(decided.right)}`)
        expect(decided.left.issues).toMatchObject(issues)
        expect(decided.left.issues).toHaveLength(issues.length)
      }
    }
  }
})
