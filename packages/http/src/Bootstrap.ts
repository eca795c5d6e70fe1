/**
 * Projects at start-up: the key pairs of TRACKLOG_PROJECT_KEYS exist, each as one project; and a
 * store with no project at all, and no keys configured, gets one whose keys are printed once.
 */
import * as ApiKey from "@tracklog/core/ApiKey"
import * as Ids from "@tracklog/core/Ids"
import * as Projects from "@tracklog/core/Projects"
import * as Effect from "effect/Effect"
import type * as ServerConfig from "./ServerConfig.js"

const ensure = (pair: ServerConfig.KeyPair) =>
  Effect.gen(function*() {
    const projects = yield* Projects.Projects
    const ids = yield* Ids.Ids
    return yield* projects.ensure({
      projectId: yield* ids.next,
      publicKeyHash: yield* ApiKey.hash(pair.publicKey),
      secretKeyHash: yield* ApiKey.hash(pair.secretKey)
    })
  })

/** Ensures the configured projects; returns the generated pair when it had to make one. */
export const run = (pairs: ReadonlyArray<ServerConfig.KeyPair>) =>
  Effect.gen(function*() {
    for (const pair of pairs) yield* ensure(pair)
    if (pairs.length > 0 || (yield* (yield* Projects.Projects).count) > 0) return undefined
    const pair = { publicKey: ApiKey.generate("public"), secretKey: ApiKey.generate("secret") }
    const projectId = yield* ensure(pair)
    return { ...pair, projectId }
  })
