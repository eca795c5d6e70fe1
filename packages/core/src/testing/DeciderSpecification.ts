/**
 * Given/when/then for deciders, in the style of Emmett's `DeciderSpecification`:
 * `DeciderSpecification.for(decider, context).given(past events).when(command).then(new events)`
 * for any decider, and for the track decider `given(past events).when(request body)`, which
 * decodes the body first and can `.thenRejects(issues)`.
 */
import { expect } from "vitest"
import * as Either from "effect/Either"
import * as Contact from "../Contact.js"
import type * as ContactEvent from "../ContactEvent.js"
import * as Decider from "../Decider.js"
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

/** A specification for any decider, deciding in `context` unless a `when` says otherwise. */
const forDecider = <Command, Event, State, Context, Refusal>(
  decider: Decider.Decider<Command, Event, State, Context, Refusal>,
  context: Context
) => ({
  /** Starts from the events already in the stream. */
  given: (events: ReadonlyArray<Event>) => ({
    /** Decides `command` on the fold of the given events. */
    when: (command: Command, ctx: Context = context) => {
      const decide = () => decider.decide(command, Decider.fold(decider, events), ctx)
      const accepted = () => {
        const decided = decide()
        if (Either.isLeft(decided)) throw new Error(`refused: ${JSON.stringify(decided.left)}`)
        return decided.right
      }
      return {
        /** The command decides exactly these events. */
        then: (expected: ReadonlyArray<Event>) => {
          expect(accepted()).toEqual(expected)
        },
        /** The state after the given and the decided events. */
        thenState: (expected: State) => {
          expect(Decider.fold(decider, accepted(), Decider.fold(decider, events))).toEqual(expected)
        },
        /** The decider refuses the command (with a refusal matching `expected`, when given). */
        thenRefuses: (expected?: (refusal: Refusal) => boolean) => {
          const decided = decide()
          if (Either.isRight(decided)) throw new Error(`accepted: ${JSON.stringify(decided.right)}`)
          if (expected !== undefined) expect(expected(decided.left)).toBe(true)
        }
      }
    }
  })
})

export { forDecider as for }
