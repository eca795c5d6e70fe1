/**
 * Arrays of ids kept in sorted order, searched by bisection: a project's contact ids, which its
 * list pages through by cursor (behaviour §3).
 */

/** The index of the first id greater than `cursor`: where a page after it starts. */
export const firstAbove = (ids: ReadonlyArray<string>, cursor: string): number => {
  let lo = 0
  let hi = ids.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ids[mid]! <= cursor) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Inserts an id in its place. Ids are time-ordered (UUIDv7), so this is an append in the common case. */
export const insert = (ids: Array<string>, id: string): void => {
  let lo = 0
  let hi = ids.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ids[mid]! < id) lo = mid + 1
    else hi = mid
  }
  ids.splice(lo, 0, id)
}

/** Removes an id, if the array holds it. */
export const remove = (ids: Array<string>, id: string): void => {
  const at = firstAbove(ids, id) - 1
  if (ids[at] === id) ids.splice(at, 1)
}
