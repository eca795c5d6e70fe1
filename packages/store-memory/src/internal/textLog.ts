/**
 * An append-only list of texts kept as UTF-8 bytes in large buffers, outside the JS heap: the
 * garbage collector neither copies nor marks what the log holds, however long it grows
 * (docs/decisions/0009-memory-log-as-text.md).
 *
 * Texts must be well-formed UTF-16 (no lone surrogates) to read back unchanged; JSON text from
 * `JSON.stringify` always is, as it escapes them.
 */
const ChunkBytes = 1 << 20

const encoder = new TextEncoder()
// `ignoreBOM`: a text that starts with U+FEFF keeps it.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true })

/** Texts in the order appended, read by index. */
export interface TextLog {
  /** How many texts the log holds. */
  readonly size: () => number
  /** Adds a text; it is then `get(size() - 1)`. */
  readonly append: (text: string) => void
  /** The text at an index from 0. */
  readonly get: (index: number) => string
  /**
   * Replaces the text at an index with a text no longer than it, zeroing every byte of the old
   * one first: what it held can no longer be read from the buffers (erasure, behaviour §7).
   */
  readonly overwrite: (index: number, text: string) => void
  /** The raw buffers, for checking what the process still holds. */
  readonly buffers: () => ReadonlyArray<Uint8Array>
}

/** An empty log. */
export const make = (): TextLog => {
  const chunks: Array<Uint8Array> = [new Uint8Array(ChunkBytes)]
  let used = 0
  // Per text: chunk, offset, length.
  let entries = new Uint32Array(3 * 1024)
  let size = 0

  const append = (text: string) => {
    // A UTF-16 unit is at most 3 UTF-8 bytes; a text larger than a chunk gets a chunk of its own.
    const room = text.length * 3
    if (used + room > chunks[chunks.length - 1]!.length) {
      chunks.push(new Uint8Array(Math.max(ChunkBytes, room)))
      used = 0
    }
    const { written } = encoder.encodeInto(text, chunks[chunks.length - 1]!.subarray(used))
    if (3 * size + 3 > entries.length) {
      const grown = new Uint32Array(entries.length * 2)
      grown.set(entries)
      entries = grown
    }
    entries[3 * size] = chunks.length - 1
    entries[3 * size + 1] = used
    entries[3 * size + 2] = written
    size++
    used += written
  }

  const get = (index: number) => {
    if (!Number.isInteger(index) || index < 0 || index >= size)
      throw new RangeError(`no text at ${index}; the log holds ${size}`)
    const offset = entries[3 * index + 1]!
    return decoder.decode(chunks[entries[3 * index]!]!.subarray(offset, offset + entries[3 * index + 2]!))
  }

  const overwrite = (index: number, text: string) => {
    if (!Number.isInteger(index) || index < 0 || index >= size)
      throw new RangeError(`no text at ${index}; the log holds ${size}`)
    const offset = entries[3 * index + 1]!
    const bytes = chunks[entries[3 * index]!]!.subarray(offset, offset + entries[3 * index + 2]!)
    const encoded = encoder.encode(text)
    if (encoded.length > bytes.length)
      throw new RangeError(`a text of ${encoded.length} bytes does not fit in ${bytes.length}`)
    bytes.fill(0)
    bytes.set(encoded)
    entries[3 * index + 2] = encoded.length
  }

  return { size: () => size, append, get, overwrite, buffers: () => chunks }
}
