/**
 * A segment snapshot as a row of `segment_snapshots`: its JSON without what the row's columns
 * already hold (the contact's id and project, `due`), and with each segment id among the keys of
 * `segments` and `deadlines` written as the segment's alias, `#<n>` (docs/decisions/0052-compact-snapshots.md).
 * Under 20 segments a snapshot held ~13 segment ids of 36 characters: over a third of its ~1.2 KB,
 * written and read again at every track of its contact.
 *
 * A key that is no alias is read as it is: a snapshot stored before aliases (ids as keys), or an
 * id with no segment row. An alias with no row left (a purged segment; never reused) is read as
 * the id this process learnt for it, else as its key: either names no segment, as a purged
 * segment's id did before aliases.
 */
import type * as SqlError from "@effect/sql/SqlError"
import type * as Contact from "@tracklog/core/Contact"
import type * as Membership from "@tracklog/core/Membership"
import * as Effect from "effect/Effect"
import type * as Database from "./database.js"

/** The snapshot's JSON as stored; old rows also hold the contact's id and project and `due`. */
export interface Stored {
  readonly contact: Omit<Contact.Contact, "id" | "projectId" | "createdAt" | "updatedAt"> & {
    readonly createdAt: string
    readonly updatedAt: string
  }
  readonly facts: Membership.Snapshot["facts"]
  readonly segments: { readonly [key: string]: number }
  readonly deadlines: { readonly [key: string]: number }
  readonly folded?: ReadonlyArray<string> | undefined
}

/** The columns a read selects. */
export interface Row {
  readonly contact_id: string
  readonly project_id: string
  readonly due: number | null
  readonly snapshot: Stored
}

const isAlias = (key: string) => /^#[1-9][0-9]{0,9}$/.test(key)

/** How snapshots are turned into rows and back, with the aliases this process has learnt. */
export interface SnapshotRows {
  /** The JSON to store for each snapshot, in order. Inside a transaction, reads inside it. */
  readonly stored: (snapshots: ReadonlyArray<Membership.Snapshot>) => Effect.Effect<Array<Stored>, SqlError.SqlError>
  /** The snapshots the rows hold, in order. */
  readonly read: (rows: ReadonlyArray<Row>) => Effect.Effect<Array<Membership.Snapshot>, SqlError.SqlError>
}

/** A process's aliases: learnt from `segments` once each, kept (a segment's alias never changes). */
export const make = ({ sql }: Database.Database): SnapshotRows => {
  const keyOf = new Map<string, string>()
  const idOf = new Map<string, string>()
  // Ids and aliases looked up and not found: not looked up again. A segment's row is written
  // before any processor reads its definition, and an alias is never reused.
  const unknown = new Set<string>()
  const learn = (ids: ReadonlyArray<string>, keys: ReadonlyArray<string>) => {
    if (ids.length === 0 && keys.length === 0) return Effect.void
    return sql<{ id: string; alias: number }>`
      SELECT id, alias FROM segments
      WHERE id = ANY (${ids}::text[]) OR alias = ANY (${keys.map((k) => Number(k.slice(1)))}::int[])`.pipe(
      Effect.map((rows) => {
        for (const { alias, id } of rows) {
          keyOf.set(id, `#${alias}`)
          idOf.set(`#${alias}`, id)
        }
        for (const k of [...ids, ...keys]) if (!keyOf.has(k) && !idOf.has(k)) unknown.add(k)
        if (unknown.size > 100_000) unknown.clear()
      })
    )
  }
  const renamed = (keys: { readonly [key: string]: number }, name: (key: string) => string) => {
    const out: { [key: string]: number } = {}
    for (const key in keys) out[name(key)] = keys[key]!
    return out
  }
  const missing = (
    maps: Iterable<{ readonly [key: string]: number }>,
    known: Map<string, string>,
    wanted: (key: string) => boolean
  ) => {
    const found = new Set<string>()
    for (const map of maps) {
      for (const key in map) if (wanted(key) && !known.has(key) && !unknown.has(key)) found.add(key)
    }
    return [...found]
  }
  const mapsOf = function*(items: Iterable<{ readonly segments: object; readonly deadlines: object }>) {
    for (const item of items) {
      yield item.segments as { readonly [key: string]: number }
      yield item.deadlines as { readonly [key: string]: number }
    }
  }
  const toKey = (id: string) => keyOf.get(id) ?? id
  const toId = (key: string) => idOf.get(key) ?? key

  return {
    stored: (snapshots) =>
      Effect.map(
        learn(missing(mapsOf(snapshots), keyOf, (key) => !isAlias(key)), []),
        () =>
          snapshots.map(({ contact, deadlines, facts, folded, segments }): Stored => {
            const { id: _id, projectId: _projectId, ...kept } = contact
            return {
              contact: kept as unknown as Stored["contact"],
              facts,
              segments: renamed(segments, toKey),
              deadlines: renamed(deadlines, toKey),
              ...(folded === undefined ? {} : { folded })
            }
          })
      ),
    read: (rows) =>
      Effect.map(
        learn([], missing(mapsOf(rows.map((r) => r.snapshot)), idOf, isAlias)),
        () =>
          rows.map(({ contact_id, due, project_id, snapshot }): Membership.Snapshot => ({
            contact: {
              ...snapshot.contact,
              id: contact_id,
              projectId: project_id,
              createdAt: new Date(snapshot.contact.createdAt),
              updatedAt: new Date(snapshot.contact.updatedAt)
            },
            facts: snapshot.facts,
            segments: renamed(snapshot.segments, toId),
            deadlines: renamed(snapshot.deadlines, toId),
            due,
            ...(snapshot.folded === undefined ? {} : { folded: snapshot.folded })
          }))
      )
  }
}
