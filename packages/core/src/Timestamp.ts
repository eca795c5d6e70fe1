/**
 * ISO-8601 text, written and read. `iso` writes an instant as the log, the answers and the log
 * lines do (public because the stores and the server write times too, and should share its cache);
 * `parse` reads a date or a date-time, strictly, for `GET /contacts/:id?at=` (behaviour §5.2) and
 * the segment conditions alike.
 */

let lastMillis = NaN
let lastText = ""

/**
 * `date.toISOString()`, made once per millisecond: the events, the answer and the log line of one
 * request, and many requests under load, share their millisecond, and `toISOString` costs ~0.7 µs.
 * Throws as `toISOString` does for an invalid date.
 */
export const iso = (date: Date): string => {
  const millis = date.getTime()
  if (millis !== lastMillis) {
    lastText = date.toISOString()
    lastMillis = millis
  }
  return lastText
}

/**
 * `iso(new Date(millis))` without the `Date` when the millisecond is the one last written: the
 * request log calls it per line with `Date.now()`.
 */
export const isoOfMillis = (millis: number): string => millis === lastMillis ? lastText : iso(new Date(millis))

/** Milliseconds in one day. */
export const DayMillis = 86_400_000

// `n` decimal digits at `i`, or -1 when one of them is not a digit.
const digits = (s: string, i: number, n: number): number => {
  let value = 0
  for (let k = 0; k < n; k++) {
    const d = s.charCodeAt(i + k) - 48
    // `!(…)` also catches NaN, what `charCodeAt` gives past the end.
    if (!(d >= 0 && d <= 9)) return -1
    value = value * 10 + d
  }
  return value
}

/** Days from 1970-01-01 to a proleptic Gregorian date (Hinnant's `days_from_civil`). */
const daysFromCivil = (year: number, month: number, day: number): number => {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146_097 + doe - 719_468
}

const daysInMonth = (year: number, month: number): number =>
  month === 2
    ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28)
    : (month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31)

const Dash = 45
const Colon = 58
const T = 84
const Z = 90
const Plus = 43
const Dot = 46
const Comma = 44

/**
 * The instant an ISO-8601 text names, in ms since the epoch, or `NaN` when it is not one. Not
 * `Date.parse`: that one reads a date-time without an offset in the machine's time zone (so the
 * answer would depend on where it runs) and accepts formats ISO-8601 does not have; segment
 * conditions read contact data with it on every evaluation, so it reads character codes and
 * allocates nothing. Accepted:
 * `YYYY-MM-DD` (its UTC midnight) and `YYYY-MM-DDThh:mm[:ss[.fff…]][Z|±hh[:]mm]`; a date-time
 * without an offset is read as UTC (as Plunk does on a UTC server). Fractions below the
 * millisecond are dropped.
 */
export const parse = (s: string): number => {
  const length = s.length
  if (length < 10 || s.charCodeAt(4) !== Dash || s.charCodeAt(7) !== Dash) return NaN
  const year = digits(s, 0, 4)
  const month = digits(s, 5, 2)
  const day = digits(s, 8, 2)
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return NaN
  const date = daysFromCivil(year, month, day) * DayMillis
  if (length === 10) return date
  if (length < 16 || s.charCodeAt(10) !== T || s.charCodeAt(13) !== Colon) return NaN
  const hour = digits(s, 11, 2)
  const minute = digits(s, 14, 2)
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59) return NaN
  let millis = date + hour * 3_600_000 + minute * 60_000
  let i = 16
  if (i < length && s.charCodeAt(i) === Colon) {
    const second = digits(s, i + 1, 2)
    if (second < 0 || second > 59) return NaN
    millis += second * 1000
    i += 3
    const c = s.charCodeAt(i)
    if (i < length && (c === Dot || c === Comma)) {
      i++
      const start = i
      let fraction = 0
      while (i < length) {
        const d = s.charCodeAt(i) - 48
        if (!(d >= 0 && d <= 9)) break
        if (i - start < 3) fraction = fraction * 10 + d
        i++
      }
      if (i === start) return NaN
      for (let k = i - start; k < 3; k++) fraction *= 10
      millis += fraction
    }
  }
  if (i === length) return millis
  const c = s.charCodeAt(i)
  if (c === Z) return i + 1 === length ? millis : NaN
  if (c !== Plus && c !== Dash) return NaN
  const offsetHour = digits(s, i + 1, 2)
  const colon = s.charCodeAt(i + 3) === Colon ? 1 : 0
  const offsetMinute = digits(s, i + 3 + colon, 2)
  if (i + 5 + colon !== length || offsetHour < 0 || offsetHour > 23 || offsetMinute < 0 || offsetMinute > 59) {
    return NaN
  }
  const offset = offsetHour * 3_600_000 + offsetMinute * 60_000
  return c === Plus ? millis - offset : millis + offset
}

/** True for a date-only `YYYY-MM-DD` text that names a real day. */
export const isDate = (s: string): boolean => s.length === 10 && !Number.isNaN(parse(s))
