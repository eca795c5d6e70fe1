/**
 * Property-testing the projection rules from the outside, as a user of @tracklog/core would:
 * the decider's given/when/then for a rule you care about, and a law over generated requests.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Contact from "@tracklog/core/Contact"
import * as ContactEvent from "@tracklog/core/ContactEvent"
import * as Arbitraries from "@tracklog/core/testing/Arbitraries"
import { context, given } from "@tracklog/core/testing/DeciderSpecification"
import * as TrackCommand from "@tracklog/core/TrackCommand"
import * as TrackDecider from "@tracklog/core/TrackDecider"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"

describe("my rules", () => {
  it("a one-shot order id never lands on the contact, but stays on the event", () =>
    given([]).when({
      email: "ada@example.com",
      event: "purchase",
      data: { orderId: { value: "o-1", persistent: false } }
    })
      .then([
        ContactEvent.ContactCreated.make({
          contactId: context.contactId,
          projectId: context.projectId,
          email: "ada@example.com",
          subscribed: true,
          at: context.now
        }),
        ContactEvent.EventTracked.make({
          name: "purchase",
          data: { orderId: { value: "o-1", persistent: false } },
          at: context.now
        })
      ]))

  it.prop("whatever is tracked, an unsubscribed contact stays unsubscribed unless a request says subscribed: true", [
    FastCheck.array(Arbitraries.request(["ada@example.com"]), { minLength: 1, maxLength: 10 })
  ], ([requests]) => {
    let state: Contact.State = null
    for (const body of requests) {
      const command = Either.getOrThrow(TrackCommand.decode(body))
      const before = state?.subscribed
      state = Contact.fold(TrackDecider.decide(command, state, context), state)
      const resubscribed = body.subscribed === true && body.preserveExistingSubscription !== true
      if (before === false && !resubscribed) expect(state!.subscribed).toBe(false)
    }
  })
})
