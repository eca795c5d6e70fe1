#!/usr/bin/env node
// Runs the reliability scripts one after another and sums them up; exits non-zero if any failed.
//
//   node scripts/stress/run.mjs [--build] [name…]     (no names: all; `pnpm stress` calls this)
// names: crash, db-faults, two-processes, load, memory, batch-crash, segments-crash. The server bundle (packages/http/dist/main.js) is
// built first if missing, or always with --build. Each script takes its parameters from the
// environment (see the header of each file).
import { spawn } from "node:child_process"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { ensureBuilt } from "./lib.mjs"

const here = fileURLToPath(new URL(".", import.meta.url))
const all = ["crash", "db-faults", "two-processes", "load", "memory", "batch-crash", "segments-crash"]
const args = process.argv.slice(2)
const force = args.includes("--build")
const names = args.filter((a) => a !== "--build")
const unknown = names.filter((n) => !all.includes(n.replace(/\.mjs$/, "")))
if (unknown.length > 0) {
  console.error(`unknown script(s): ${unknown.join(", ")}; known: ${all.join(", ")}`)
  process.exit(2)
}
const selected = names.length === 0 ? all : names.map((n) => n.replace(/\.mjs$/, ""))

ensureBuilt(force)

let current
for (const signal of ["SIGINT", "SIGTERM"]) {
  // Pass the signal on so the running script cleans up (databases, clusters, servers).
  process.on(signal, () => current?.kill(signal))
}

const runOne = (name) =>
  new Promise((resolve) => {
    const started = performance.now()
    const child = spawn(process.execPath, [join(here, `${name}.mjs`)], { stdio: ["ignore", "pipe", "inherit"] })
    current = child
    let result
    let buffer = ""
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk)
      buffer += chunk.toString()
      const lines = buffer.split("\n")
      buffer = lines.pop() ?? ""
      for (const line of lines) {
        if (line.startsWith("STRESS_RESULT ")) result = JSON.parse(line.slice("STRESS_RESULT ".length))
      }
    })
    child.on("exit", (code, signal) => {
      current = undefined
      resolve({
        name,
        code: code ?? signal,
        ok: code === 0 && result?.ok === true,
        seconds: (performance.now() - started) / 1000,
        result
      })
    })
  })

const outcomes = []
for (const name of selected) {
  console.log(`\n=== ${name} ===`)
  outcomes.push(await runOne(name))
}

console.log("\n=== summary ===")
for (const o of outcomes) {
  const v = o.result?.violations?.length ?? "?"
  console.log(
    `${o.ok ? "PASS" : "FAIL"}  ${o.name.padEnd(14)} ${o.seconds.toFixed(1).padStart(6)} s  exit ${o.code}${
      o.ok ? "" : `, ${v} violation(s)`
    }`
  )
}
process.exit(outcomes.every((o) => o.ok) ? 0 : 1)
