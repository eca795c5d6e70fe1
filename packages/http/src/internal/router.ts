import * as HttpApi from "@effect/platform/HttpApi"

/** A route of the API: its endpoint name, method and path pattern split in segments. */
export interface Route {
  readonly name: string
  readonly method: string
  readonly segments: ReadonlyArray<string>
}

/** The routes of an `HttpApi` definition, in definition order. */
export const fromApi = (api: HttpApi.HttpApi.Any): Array<Route> => {
  const routes: Array<Route> = []
  HttpApi.reflect(api as HttpApi.HttpApi.AnyWithProps, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => {
      routes.push({ name: endpoint.name, method: endpoint.method, segments: endpoint.path.split("/").slice(1) })
    }
  })
  return routes
}

/** The result of matching a path: the route and its `:params`, or which methods the path has. */
export type Match<A> =
  | { readonly _tag: "Found"; readonly value: A; readonly params: Record<string, string> }
  | { readonly _tag: "NotFound" }
  | { readonly _tag: "MethodNotAllowed"; readonly allow: ReadonlyArray<string> }

/** Matches method + path against routes with `:param` segments. */
export const matcher = <A>(routes: ReadonlyArray<Route & { readonly value: A }>) => {
  // A route without `:params` is found by one lookup of its method and path, unless an earlier
  // route of its method also matches that path (the first match wins).
  const exact = new Map<string, Map<string, Match<A>>>()
  routes.forEach((route, i) => {
    if (route.segments.some((segment) => segment.startsWith(":"))) return
    const shadowed = routes.slice(0, i).some((earlier) =>
      earlier.method === route.method && paramsOf(earlier.segments, route.segments) !== undefined
    )
    const path = "/" + route.segments.join("/")
    let paths = exact.get(route.method)
    if (paths === undefined) exact.set(route.method, paths = new Map())
    if (!shadowed && !paths.has(path)) paths.set(path, { _tag: "Found", value: route.value, params: {} })
  })
  return (method: string, path: string): Match<A> => {
    const found = exact.get(method)?.get(path)
    if (found !== undefined) return found
    const parts = path.split("/").slice(1)
    for (const route of routes) {
      if (route.method !== method) continue
      const params = paramsOf(route.segments, parts)
      if (params !== undefined) return { _tag: "Found", value: route.value, params }
    }
    // Only on a miss: the methods of the routes this path does match make it a 405 (behaviour §9).
    const allow: Array<string> = []
    for (const route of routes) {
      if (!allow.includes(route.method) && paramsOf(route.segments, parts) !== undefined) allow.push(route.method)
    }
    return allow.length === 0 ? { _tag: "NotFound" } : { _tag: "MethodNotAllowed", allow }
  }
}

const paramsOf = (
  segments: ReadonlyArray<string>,
  parts: ReadonlyArray<string>
): Record<string, string> | undefined => {
  if (segments.length !== parts.length) return undefined
  const params: Record<string, string> = {}
  for (let i = 0; i < parts.length; i++) {
    const segment = segments[i]!
    const part = parts[i]!
    if (segment.startsWith(":")) {
      if (part === "") return undefined
      try {
        params[segment.slice(1)] = decodeURIComponent(part)
      } catch {
        return undefined
      }
    } else if (segment !== part) return undefined
  }
  return params
}
