import type * as Contact from "../Contact.js"

/** Bytes counted for a contact besides its data: ids, email, dates, the entry itself. */
const Overhead = 256

interface Entry {
  readonly contact: Contact.Contact
  readonly bytes: number
}

/**
 * The contacts this process last committed, by lock key (`Contact.emailKey`), least recently
 * written first, with the key of each contact id: a command addressed by id finds its contact's
 * key, lock and state without a read. Bounded by entries and by an estimate of bytes (the data's
 * JSON length plus a fixed overhead): one caller sending big contacts cannot grow it past the
 * budget (issue 15). A contact bigger than the whole budget is not kept.
 */
export const make = (options: { readonly maxEntries: number; readonly maxBytes: number }) => {
  const entries = new Map<string, Entry>()
  const keys = new Map<string, string>()
  let bytes = 0

  const forget = (key: string) => {
    const entry = entries.get(key)
    if (entry === undefined) return
    entries.delete(key)
    if (keys.get(entry.contact.id) === key) keys.delete(entry.contact.id)
    bytes -= entry.bytes
  }

  const remember = (key: string, contact: Contact.Contact) => {
    const previous = entries.get(key)
    // The data object is shared with the previous state when a command left it unchanged: its
    // size is known, and the hot path skips the serialization.
    const size = previous !== undefined && previous.contact.data === contact.data
      ? previous.bytes
      : Overhead + contact.email.length + JSON.stringify(contact.data).length
    if (previous !== undefined) {
      entries.delete(key)
      bytes -= previous.bytes
      if (previous.contact.id !== contact.id && keys.get(previous.contact.id) === key) keys.delete(previous.contact.id)
    }
    if (size > options.maxBytes) return
    while (entries.size > 0 && (entries.size >= options.maxEntries || bytes + size > options.maxBytes)) {
      forget(entries.keys().next().value!)
    }
    entries.set(key, { contact, bytes: size })
    keys.set(contact.id, key)
    bytes += size
  }

  return {
    get: (key: string): Contact.Contact | undefined => entries.get(key)?.contact,
    /** The key a contact id was last remembered under. */
    keyOf: (contactId: string): string | undefined => keys.get(contactId),
    remember,
    forget,
    /** What the cache holds now. */
    stats: () => ({ entries: entries.size, bytes })
  }
}
