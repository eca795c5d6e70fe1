/**
 * An outage keeps its cause: `StoreUnavailable` carries the driver's `SqlError`, so a log or a
 * debugger sees what failed, not only a reason string; any other SQL error stays a defect.
 */
import * as SqlError from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as SqlErrors from "../src/internal/sqlError.js"

const sqlError = (code: string, message: string) =>
  new SqlError.SqlError({ cause: Object.assign(new Error(message), { code }), message: "query failed" })

describe("sqlError.orUnavailable", () => {
  it.effect("an outage becomes StoreUnavailable with the SqlError as its cause", () =>
    Effect.gen(function*() {
      const error = sqlError("08006", "connection failure")
      const failed = yield* Effect.flip(SqlErrors.orUnavailable(Effect.fail(error)))
      expect(failed._tag).toBe("StoreUnavailable")
      expect(failed.reason).toBe("connection failure")
      expect(failed.cause).toBe(error)
    }))

  it.effect("a connection the pool could not get is an outage, whatever the database answered", () =>
    Effect.gen(function*() {
      // 55000: the database does not accept connections now; 3D000: it is gone; 28P01: refused.
      for (const [code, text] of [["55000", "not accepting"], ["3D000", "no database"], ["28P01", "refused"]]) {
        for (const message of [SqlErrors.AcquireFailed, `${SqlErrors.AcquireFailed} for transaction`]) {
          const error = new SqlError.SqlError({ cause: Object.assign(new Error(text), { code }), message })
          const failed = yield* Effect.flip(SqlErrors.orUnavailable(Effect.fail(error)))
          expect(failed._tag).toBe("StoreUnavailable")
        }
      }
    }))

  it.effect("any other SQL error is a defect, not an outage", () =>
    Effect.gen(function*() {
      const error = sqlError("42P01", "relation does not exist")
      const exit = yield* Effect.exit(SqlErrors.orUnavailable(Effect.fail(error)))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
    }))
})
