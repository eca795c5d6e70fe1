/**
 * A segment's slug, the `<slug>` of its `segment.<slug>.entry` / `.exit` events: made once from the
 * name and then frozen, so a rename never silently breaks a trigger. Unlike Plunk's ASCII-only
 * `\w`, letters and digits of every script are kept ("日本" is not erased, "Café" stays "café").
 */

/** Longest slug, in code points. */
export const MaxLength = 128

// A run of kept characters: letters and digits of any script, each with the combining marks that
// follow it (a mark with no letter before it is not kept on its own).
const Word = /(?:[\p{L}\p{N}]\p{M}*)+/gu
const Character = /[\p{L}\p{N}]\p{M}*|./gsu

/**
 * The slug of a name: Unicode NFC, lower case; letters and digits (with their marks) kept; every
 * other run of characters one `-`; no `-` at either end; at most `MaxLength` code points, cut
 * between characters (never between a letter and its marks). Empty when the name has no letter or
 * digit: the caller refuses that (`invalid_slug`).
 */
export const of = (name: string): string => {
  // Lower-casing can decompose (`İ` → `i` + U+0307): normalise again after it.
  const text = name.normalize("NFC").toLowerCase().normalize("NFC")
  const slug = (text.match(Word) ?? []).join("-")
  return cut(slug)
}

const cut = (slug: string): string => {
  // Quick answer for the usual short slug: UTF-16 length bounds the code points.
  if (slug.length <= MaxLength) return slug
  let points = 0
  let end = 0
  for (const character of slug.match(Character) ?? []) {
    const size = [...character].length
    if (points + size > MaxLength) break
    points += size
    end += character.length
  }
  return slug.slice(0, end).replace(/-+$/u, "")
}
