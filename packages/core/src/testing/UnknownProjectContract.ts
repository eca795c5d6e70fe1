/**
 * The store contract for a project the store does not hold: one made without `Projects.ensure`,
 * as embedders and tests do when they pass any project id. Run by `StoreContract.run` on every
 * store.
 *
 * Decided in issue 28: every store gives such a project its suppression secret on first use, as
 * it gives one to a project it holds, so erasure with suppression and the suppression list
 * (behaviour §7) work for it the same; ensuring the project later keeps that secret, or what it
 * suppressed would be tracked again.
 */
import { describe, expect, type Vitest } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ApiKey from "../ApiKey.js"
import type * as CommandHandler from "../CommandHandler.js"
import * as Contacts from "../Contacts.js"
import * as EraseContact from "../EraseContact.js"
import * as Ids from "../Ids.js"
import * as Projects from "../Projects.js"
import * as Suppressions from "../Suppressions.js"
import * as Track from "../Track.js"
import * as TrackCommand from "../TrackCommand.js"

/** What the suite needs from the contract's layer. */
export type Services =
  | Ids.Ids
  | Track.Track
  | CommandHandler.CommandHandler
  | Contacts.Contacts
  | Projects.Projects
  | Suppressions.Suppressions

const trackOf = (email: string, event: string) => Either.getOrThrow(TrackCommand.decode({ email, event }))

// A project id no store has seen: never ensured, never imported.
const unknownProject = Effect.flatMap(Ids.Ids, (ids) => ids.next)

/** The suite, inside the contract's `layer(...)` block. */
export const suite = (it: Vitest.MethodsNonLive<Services, true>) =>
  describe("a project the store does not hold (issue 28)", () => {
    it.effect("gets its suppression secret on first use: an erasure suppresses, a track is refused, lift works", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const contacts = yield* Contacts.Contacts
        const suppressions = yield* Suppressions.Suppressions
        const projectId = yield* unknownProject
        const email = "unheld@example.com"
        expect(yield* suppressions.isSuppressed(projectId, email)).toBe(false)
        expect((yield* Effect.flip(suppressions.lift(projectId, email)))._tag).toBe("NotSuppressed")
        const old = yield* track.track(projectId, trackOf(email, "e"))

        yield* EraseContact.erase(projectId, { contactId: old.contact, suppress: true })
        expect(yield* suppressions.isSuppressed(projectId, email)).toBe(true)
        expect([...(yield* suppressions.suppressedAmong(projectId, [email, "other@example.com"]))]).toEqual([email])
        const refused = yield* Effect.flip(track.track(projectId, trackOf(email, "again")))
        expect(refused._tag).toBe("EmailSuppressed")
        expect(Option.isNone(yield* contacts.findByEmail(projectId, email))).toBe(true)

        yield* suppressions.lift(projectId, email)
        expect(yield* suppressions.isSuppressed(projectId, email)).toBe(false)
        expect((yield* Effect.flip(suppressions.lift(projectId, email)))._tag).toBe("NotSuppressed")
        const back = yield* track.track(projectId, trackOf(email, "back"))
        expect(back.contact).not.toBe(old.contact)
      }))

    it.effect("ensured later under its id, it keeps its secret: what it suppressed stays suppressed", () =>
      Effect.gen(function*() {
        const track = yield* Track.Track
        const suppressions = yield* Suppressions.Suppressions
        const projectId = yield* unknownProject
        const email = "before-ensure@example.com"
        const old = yield* track.track(projectId, trackOf(email, "e"))
        yield* EraseContact.erase(projectId, { contactId: old.contact, suppress: true })

        const keys = {
          projectId,
          publicKeyHash: yield* ApiKey.hash(ApiKey.generate("public")),
          secretKeyHash: yield* ApiKey.hash(ApiKey.generate("secret"))
        }
        expect(yield* (yield* Projects.Projects).ensure(keys)).toBe(projectId)
        expect(yield* suppressions.isSuppressed(projectId, email)).toBe(true)
        expect((yield* Effect.flip(track.track(projectId, trackOf(email, "again"))))._tag).toBe("EmailSuppressed")
        yield* suppressions.lift(projectId, email)
        expect(yield* suppressions.isSuppressed(projectId, email)).toBe(false)
      }))
  })
