// The WHATWG URL parser: a global in Node ≥ 10, Deno, Bun, browsers and workers, declared here as
// far as core reads it, without importing any runtime's built-ins.
declare global {
  class URL {
    constructor(input: string)
    readonly protocol: string
    readonly username: string
    readonly password: string
    readonly hostname: string
    readonly href: string
  }
}
export {}
