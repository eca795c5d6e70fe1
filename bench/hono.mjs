// The web handler under Node (the Hono example) against the node:http server, same run, same load.
import { execFileSync } from "node:child_process"
import { join } from "node:path"
import { median, root, startServer, wrk } from "./lib/common.mjs"

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const seconds = Number(process.env.BENCH_SECONDS ?? 5)

export const run = async () => {
  execFileSync(process.execPath, ["build.mjs"], { cwd: join(root, "examples/hono"), stdio: "inherit" })
  const env = { TRACKLOG_STORE: "memory", TRACKLOG_PROJECT_KEYS: "pk_bench:sk_bench" }
  const node = await startServer(["packages/http/dist/main.js"], env)
  // Bundled like the server (examples/hono/build.mjs), so both run the same kind of code.
  const hono = await startServer(["examples/hono/dist/main.js"], env)
  try {
    // Warm both, then alternate so drift on a shared machine hits both alike.
    wrk({ base: node.base, key: "pk_bench", seconds: 2 })
    wrk({ base: hono.base, key: "pk_bench", seconds: 2 })
    const a = []
    const b = []
    for (let i = 0; i < rounds; i++) {
      const rh = wrk({ base: hono.base, key: "pk_bench", seconds })
      const rn = wrk({ base: node.base, key: "pk_bench", seconds })
      if (rh.non2xx > 0 || rn.non2xx > 0) throw new Error(`non-2xx answers (hono ${rh.non2xx}, node ${rn.non2xx})`)
      a.push(rh.rps)
      b.push(rn.rps)
    }
    const ratio = median(a) / median(b)
    console.log(
      `HTTP, memory store: Hono + web handler ${median(a).toFixed(0)} req/s, node:http server ${
        median(b).toFixed(0)
      } req/s → ratio ${ratio.toFixed(2)}× (wrk -t1 -c50)`
    )
    return { ratio, hono: a, node: b }
  } finally {
    await node.stop()
    await hono.stop()
  }
}
