// A throwaway PostgreSQL cluster of our own (never the shared one on 5432): initdb in a temp dir,
// pg_ctl start/stop, freeze (SIGSTOP)/thaw. As root, initdb/pg_ctl run as the `postgres` user.
import { execFileSync } from "node:child_process"
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "./lib.mjs"

const findBin = () => {
  const base = "/usr/lib/postgresql"
  const versions = existsSync(base)
    ? readdirSync(base).filter((v) => existsSync(join(base, v, "bin", "pg_ctl"))).sort((a, b) => Number(b) - Number(a))
    : []
  if (versions.length === 0) throw new Error("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
  return join(base, versions[0], "bin")
}

const idOf = (flag) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim())

/** Children of `pid` (one level), from /proc. */
const childrenOf = (pid) => {
  const out = []
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      if (ppid === pid) out.push(Number(entry))
    } catch {
      // gone
    }
  }
  return out
}

/** Creates and starts a cluster on a free port. `stop(mode)`, `start()`, `freeze()`, `thaw()`, `destroy()`. */
export const createCluster = async () => {
  const bin = findBin()
  const asRoot = process.getuid?.() === 0
  const dir = mkdtempSync(join(tmpdir(), "tracklog-stress-pg-"))
  if (asRoot) chownSync(dir, idOf("-u"), idOf("-g"))
  const data = join(dir, "data")
  const logFile = join(dir, "postgres.log")
  const port = await freePort()
  const run = (tool, args, timeout = 60_000) => {
    const [cmd, argv] = asRoot
      ? ["runuser", ["-u", "postgres", "--", join(bin, tool), ...args]]
      : [join(bin, tool), args]
    return execFileSync(cmd, argv, { encoding: "utf8", timeout, stdio: ["ignore", "pipe", "pipe"], cwd: dir })
  }
  run("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=60`
  let frozen = []
  const postmasterPid = () => {
    try {
      return Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0])
    } catch {
      return undefined
    }
  }
  const cluster = {
    dir,
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    log: () => {
      try {
        return readFileSync(logFile, "utf8")
      } catch {
        return ""
      }
    },
    start: () => run("pg_ctl", ["-D", data, "-l", logFile, "-w", "-t", "60", "-o", options, "start"], 90_000),
    stop: (mode) => run("pg_ctl", ["-D", data, "-w", "-t", "60", "-m", mode, "stop"], 90_000),
    /** SIGSTOP the postmaster and all its processes: the database hangs, sockets stay open. */
    freeze: () => {
      const pid = postmasterPid()
      if (pid === undefined) throw new Error("no postmaster.pid")
      frozen = [pid, ...childrenOf(pid)]
      for (const p of frozen) process.kill(p, "SIGSTOP")
      return frozen.length
    },
    thaw: () => {
      for (const p of frozen) {
        try {
          process.kill(p, "SIGCONT")
        } catch {
          // gone
        }
      }
      frozen = []
    },
    /** Stops the cluster (immediate) and removes its directory. Safe to call more than once. */
    destroy: () => {
      cluster.thaw()
      const pid = postmasterPid()
      if (pid !== undefined) {
        try {
          cluster.stop("immediate")
        } catch {
          try {
            process.kill(pid, "SIGKILL")
          } catch {
            // gone
          }
        }
      }
      rmSync(dir, { recursive: true, force: true })
    }
  }
  try {
    cluster.start()
  } catch (error) {
    const log = cluster.log()
    cluster.destroy()
    throw new Error(`cluster did not start: ${error.message}\n${log}`)
  }
  return cluster
}
