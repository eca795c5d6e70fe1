/**
 * What each endpoint of `Api` does: the table, one handler per endpoint by name (a missing or an
 * extra one is a type error), composed from the modules of `Api`'s groups. A handler goes from a
 * routed, parsed, authenticated request to a reply; which key and which body an endpoint wants
 * are `Api`'s statements (`Api.requirements`), checked by the pipeline before its handler runs.
 */
import type * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type * as Api from "./Api.js"
import type * as ApiError from "./ApiError.js"
import type * as Auth from "./Auth.js"
import * as ContactHandlers from "./ContactHandlers.js"
import * as HealthHandlers from "./HealthHandlers.js"
import * as SegmentHandlers from "./SegmentHandlers.js"
import * as StreamHandlers from "./StreamHandlers.js"
import * as SuppressionHandlers from "./SuppressionHandlers.js"
import * as TrackHandlers from "./TrackHandlers.js"
import * as WebhookHandlers from "./WebhookHandlers.js"

/** A request as handlers see it: already routed, its body parsed, its key checked. */
export interface Request {
  readonly requestId: string
  readonly params: Readonly<Record<string, string>>
  /** The query string's parameters; read only (requests without a query share one). */
  readonly query: URLSearchParams
  readonly body: unknown
  /** The key's grant; `trusted` when this process's cache gave it (a handler with `trustsGrant`). */
  readonly grant: Auth.Granted
  /**
   * Request headers by lowercase name, each value as sent (a header sent twice has two): at least
   * those of `headerNames`, the only ones handlers read.
   */
  readonly headers?: Readonly<Record<string, ReadonlyArray<string> | undefined>> | undefined
}

/** The request headers handlers read: a transport need pass only these. */
export const headerNames: ReadonlyArray<string> = ["idempotency-key", "last-event-id"]

/** A JSON reply; or, with `stream`, a Server-Sent Events reply whose text the transport writes as it comes. */
export interface Reply {
  readonly status: number
  readonly body: string
  /** Headers of this reply besides the server's own. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly stream?: Stream.Stream<string> | undefined
}

/** A handler. */
export interface Handler {
  /**
   * The handler's write checks the request's key as it commits (`EventStore.Append.grantedBy`),
   * and its other outcomes call `grant.trusted.confirm`: a grant this process has seen will do,
   * without a read of the key (docs/decisions/0024-grant-on-append.md). Only where `Api` accepts any key.
   */
  readonly trustsGrant?: true | undefined
  readonly handle: (request: Request) => Effect.Effect<Reply, ApiError.ApiError>
}

/** The handlers of one group of `Api`, by endpoint name: exactly the group's endpoints. */
export type Group<G> = {
  readonly [Name in HttpApiEndpoint.HttpApiEndpoint.Name<HttpApiGroup.HttpApiGroup.Endpoints<G>>]: Handler
}

/** What the handlers need. */
export type Services =
  | TrackHandlers.Services
  | ContactHandlers.Services
  | SuppressionHandlers.Services
  | StreamHandlers.Services
  | SegmentHandlers.Services
  | HealthHandlers.Services
  | WebhookHandlers.Services

/** The handlers of every endpoint of `Api`, by endpoint name. */
export const make = Effect.gen(function*() {
  const handlers: { readonly [Name in Api.EndpointName]: Handler } = {
    ...(yield* TrackHandlers.make),
    ...(yield* ContactHandlers.make),
    ...(yield* SuppressionHandlers.make),
    ...(yield* StreamHandlers.make),
    ...(yield* SegmentHandlers.make),
    ...(yield* WebhookHandlers.make),
    ...(yield* HealthHandlers.make)
  }
  return handlers as Readonly<Record<string, Handler>>
})
