/**
 * An `@effect/platform` app with an `HttpApi` of its own (`GET /hello`) and tracklog's API next
 * to it on one `HttpLayerRouter`.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as RouterLayer from "@tracklog/http/RouterLayer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

class Greetings extends HttpApiGroup.make("greetings")
  .add(HttpApiEndpoint.get("hello", "/hello").addSuccess(Schema.Struct({ hello: Schema.String })))
{}

/** The host app's own API. */
export class MyApi extends HttpApi.make("my-app").add(Greetings) {}

const GreetingsLive = HttpApiBuilder.group(
  MyApi,
  "greetings",
  (handlers) => handlers.handle("hello", () => Effect.succeed({ hello: "from the host app" }))
)

/** Both APIs' routes; needs tracklog's store (see `StoreLayer`) and an `HttpServer`. */
export const routes = (options: RouterLayer.Options) =>
  Layer.mergeAll(
    HttpLayerRouter.addHttpApi(MyApi, { openapiPath: "/my-app/openapi.json" }).pipe(Layer.provide(GreetingsLive)),
    RouterLayer.layer(options)
  )
