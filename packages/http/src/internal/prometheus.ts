/**
 * Renders a snapshot of Effect's metric registry as Prometheus text exposition format 0.0.4.
 * The registry holds the values; this only writes them out.
 */
import * as MetricKeyType from "effect/MetricKeyType"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"

/** The Content-Type of the format. */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

const sanitizeName = (name: string) => {
  const s = name.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[a-zA-Z_:]/.test(s) ? s : `_${s}`
}

const sanitizeLabel = (name: string) => {
  const s = name.replace(/[^a-zA-Z0-9_]/g, "_")
  return /^[a-zA-Z_]/.test(s) ? s : `_${s}`
}

const escapeValue = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")

const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

const labels = (pairs: ReadonlyArray<readonly [string, string]>) =>
  pairs.length === 0 ? "" : `{${pairs.map(([k, v]) => `${sanitizeLabel(k)}="${escapeValue(v)}"`).join(",")}}`

const number = (n: number | bigint) =>
  typeof n === "bigint"
    ? n.toString()
    : Number.isNaN(n)
    ? "NaN"
    : n === Infinity
    ? "+Inf"
    : n === -Infinity
    ? "-Inf"
    : String(n)

interface Family {
  type: "counter" | "gauge" | "histogram" | "summary"
  help: string | undefined
  readonly lines: Array<string>
}

/** The text of every metric in the snapshot, one family per name, sorted by name. */
export const render = (snapshot: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, Family>()
  const family = (name: string, type: Family["type"], help: Option.Option<string>) => {
    let f = families.get(name)
    if (f === undefined) {
      f = { type, help: Option.getOrUndefined(help), lines: [] }
      families.set(name, f)
    }
    return f
  }
  for (const pair of snapshot) {
    const name = sanitizeName(pair.metricKey.name)
    const tags = pair.metricKey.tags.map((t) => [t.key, t.value] as const)
    const state = pair.metricState
    const help = pair.metricKey.description
    if (MetricState.isCounterState(state)) {
      // A Prometheus counter never goes down; an Effect counter may, unless it is `incremental`
      // (Effect's own `effect_fiber_active` goes up and down): that one is a gauge.
      const keyType = pair.metricKey.keyType
      const type = MetricKeyType.isCounterKey(keyType) && keyType.incremental ? "counter" : "gauge"
      family(name, type, help).lines.push(`${name}${labels(tags)} ${number(state.count)}`)
    } else if (MetricState.isGaugeState(state)) {
      family(name, "gauge", help).lines.push(`${name}${labels(tags)} ${number(state.value)}`)
    } else if (MetricState.isHistogramState(state)) {
      const f = family(name, "histogram", help)
      // Effect's buckets are cumulative and end at +Inf, as Prometheus wants them.
      let sawInf = false
      for (const [le, count] of state.buckets) {
        if (le === Infinity) sawInf = true
        f.lines.push(`${name}_bucket${labels([...tags, ["le", number(le)]])} ${count}`)
      }
      if (!sawInf) f.lines.push(`${name}_bucket${labels([...tags, ["le", "+Inf"]])} ${state.count}`)
      f.lines.push(`${name}_sum${labels(tags)} ${number(state.sum)}`)
      f.lines.push(`${name}_count${labels(tags)} ${state.count}`)
    } else if (MetricState.isSummaryState(state)) {
      const f = family(name, "summary", help)
      for (const [q, value] of state.quantiles) {
        f.lines.push(
          `${name}${labels([...tags, ["quantile", String(q)]])} ${number(Option.getOrElse(value, () => NaN))}`
        )
      }
      f.lines.push(`${name}_sum${labels(tags)} ${number(state.sum)}`)
      f.lines.push(`${name}_count${labels(tags)} ${state.count}`)
    } else if (MetricState.isFrequencyState(state)) {
      // A frequency is a counter per word.
      const f = family(name, "counter", help)
      for (const [word, count] of state.occurrences)
        f.lines.push(`${name}${labels([...tags, ["word", word]])} ${count}`)
    }
  }
  let text = ""
  for (const name of [...families.keys()].sort()) {
    const f = families.get(name)!
    if (f.help !== undefined) text += `# HELP ${name} ${escapeHelp(f.help)}\n`
    text += `# TYPE ${name} ${f.type}\n`
    for (const line of f.lines) text += line + "\n"
  }
  return text
}
