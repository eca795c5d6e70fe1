/**
 * A contact's projection row, as the store reads it: from a query (dates as `Date`), or as JSON
 * built inside a statement (the group commit's `held`, dates as text).
 */
import type * as Contact from "@tracklog/core/Contact"
import type * as Json from "@tracklog/core/Json"

/** The columns, as every read of a contact selects them. */
export const columns = "id, project_id, email, subscribed, data, created_at, updated_at, version"

/** A row of `columns`. */
export interface Row {
  readonly id: string
  readonly project_id: string
  readonly email: string
  readonly subscribed: boolean
  readonly data: Json.JsonObject
  readonly created_at: Date
  readonly updated_at: Date
  readonly version: number
}

/** A row as the contact it holds. */
export const toContact = (row: Row): Contact.Contact => ({
  id: row.id,
  projectId: row.project_id,
  email: row.email,
  subscribed: row.subscribed,
  data: row.data,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  version: row.version
})

/** A row built as JSON inside a statement: its dates are text. */
export type JsonRow = Omit<Row, "created_at" | "updated_at"> & { created_at: string; updated_at: string }

/** A JSON row as the contact it holds. */
export const fromJson = (row: JsonRow): Contact.Contact =>
  toContact({ ...row, created_at: new Date(row.created_at), updated_at: new Date(row.updated_at) })
