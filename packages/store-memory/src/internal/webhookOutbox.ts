/**
 * Webhook messages in the memory store (behaviour §12): the `WebhookOutbox` port. One process
 * only, so a lease is contended by fibers alone; the rules are the PostgreSQL store's.
 */
import * as WebhookOutbox from "@tracklog/core/WebhookOutbox"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as State from "./state.js"

const queuedKey = (endpointId: string, eventId: string) => `${endpointId}\0${eventId}`

/** Drops the messages of an endpoint (it was deleted). */
export const dropEndpoint = (state: State.State, endpointId: string): void => {
  for (const [id, row] of state.webhookMessages) {
    if (row.message.endpointId === endpointId) {
      state.webhookMessages.delete(id)
      state.webhookPending.delete(id)
      state.webhookQueued.delete(queuedKey(endpointId, row.message.eventId))
    }
  }
}

/** Drops every message of an erased contact, with its payload (behaviour §7, §12). */
export const eraseContact = (state: State.State, projectId: string, contactId: string): void => {
  for (const [id, row] of state.webhookMessages) {
    if (row.message.projectId === projectId && row.message.contactId === contactId) {
      state.webhookMessages.delete(id)
      state.webhookPending.delete(id)
    }
  }
}

const pendingInOrder = (state: State.State) =>
  [...state.webhookPending.values()].sort((a, b) => a.message.seq - b.message.seq)

/** The `WebhookOutbox` of a memory store. */
export const make = (state: State.State): WebhookOutbox.WebhookOutbox["Type"] =>
  WebhookOutbox.WebhookOutbox.of({
    enqueue: (messages, lease) =>
      Effect.sync(() => {
        let queued = 0
        const leased: Array<WebhookOutbox.Message> = []
        // The contacts and endpoints with a pending message, this call's included as it goes.
        const pending = new Set<string>()
        if (lease !== undefined) {
          for (const { message } of state.webhookPending.values()) pending.add(WebhookOutbox.orderKey(message))
        }
        for (const message of messages) {
          const key = queuedKey(message.endpointId, message.eventId)
          if (state.webhookQueued.has(key)) continue
          // Erased since the dispatcher read the event: nothing of it may be kept.
          if (message.type !== "contact.erased" && !state.contacts.has(message.contactId)) continue
          // Leased as the claim would hand it out now; checked before it joins the pending ones.
          const order = WebhookOutbox.orderKey(message)
          const leasing = lease !== undefined && leased.length < lease.limit &&
            !(lease.exclude ?? []).includes(message.endpointId) &&
            state.webhookEndpoints.get(message.endpointId)?.enabled === true &&
            !pending.has(order)
          pending.add(order)
          state.webhookQueued.add(key)
          const row: State.MessageRow = {
            message: WebhookOutbox.queued(message, ++state.webhookSeq),
            leaseOwner: leasing ? lease.owner : undefined,
            leaseUntil: leasing ? lease.until.getTime() : 0
          }
          state.webhookMessages.set(message.id, row)
          state.webhookPending.set(message.id, row)
          if (leasing) leased.push(row.message)
          queued++
        }
        return { queued, leased }
      }),
    claim: ({ exclude = [], lease, limit, now, owner }) =>
      Effect.sync(() => {
        const at = now.getTime()
        const heads = new Set<string>()
        const out: Array<WebhookOutbox.Message> = []
        for (const row of pendingInOrder(state)) {
          const { message } = row
          const key = WebhookOutbox.orderKey(message)
          // Only the earliest pending message of a contact and endpoint may go.
          if (heads.has(key)) continue
          heads.add(key)
          if (out.length >= limit) continue
          if (message.nextAttemptAt === null || message.nextAttemptAt.getTime() > at) continue
          if (row.leaseOwner !== undefined && row.leaseUntil > at) continue
          if (state.webhookEndpoints.get(message.endpointId)?.enabled !== true) continue
          if (exclude.includes(message.endpointId)) continue
          row.leaseOwner = owner
          row.leaseUntil = at + Duration.toMillis(lease)
          out.push(message)
        }
        return out.sort((a, b) => a.nextAttemptAt!.getTime() - b.nextAttemptAt!.getTime())
      }),
    settle: (messageId, owner, attempt, next) =>
      Effect.sync(() => {
        const row = state.webhookMessages.get(messageId)
        if (row === undefined || row.leaseOwner !== owner) return false
        row.leaseOwner = undefined
        row.leaseUntil = 0
        row.message = {
          ...row.message,
          attempts: [...row.message.attempts, attempt],
          status: next._tag === "Delivered" ? "delivered" : next._tag === "Failed" ? "failed" : "pending",
          nextAttemptAt: next._tag === "RetryAt" ? next.at : null
        }
        if (next._tag !== "RetryAt") state.webhookPending.delete(messageId)
        return true
      }),
    list: (projectId, endpointId, { cursor, limit, status }) =>
      Effect.sync(() => {
        const matching = [...state.webhookMessages.values()]
          .map((row) => row.message)
          .filter((m) =>
            m.projectId === projectId && m.endpointId === endpointId && (status === undefined || m.status === status) &&
            (cursor === undefined || m.seq < cursor)
          )
          .sort((a, b) => b.seq - a.seq)
        const data = matching.slice(0, limit)
        const hasMore = matching.length > limit
        return { data, hasMore, ...(hasMore ? { cursor: data[data.length - 1]!.seq } : {}) }
      }),
    retry: (projectId, endpointId, messageId, now) =>
      Effect.sync(() => {
        const row = state.webhookMessages.get(messageId)
        if (row === undefined || row.message.projectId !== projectId || row.message.endpointId !== endpointId) {
          return Option.none()
        }
        row.message = { ...row.message, status: "pending", nextAttemptAt: now }
        state.webhookPending.set(messageId, row)
        return Option.some(row.message)
      }),
    depth: Effect.sync(() => {
      let pending = 0
      let oldest: Date | null = null
      for (const { message } of state.webhookPending.values()) {
        pending++
        if (oldest === null || message.createdAt < oldest) oldest = message.createdAt
      }
      return { pending, oldestPendingAt: oldest }
    })
  })
