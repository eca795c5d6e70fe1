/**
 * The guard that keeps webhooks out of the server's own network (webhooks, §12): a target must be
 * `http(s)`, and a host that is, or resolves to, a loopback, private, link-local or otherwise
 * non-public address is refused — when an endpoint is made and again at each delivery — unless
 * `TRACKLOG_WEBHOOK_ALLOW_PRIVATE=on` (`allowPrivate`). I/O (name resolution), so not in core.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Dns from "node:dns"
import type * as Net from "node:net"

/** What an address is, as far as sending to it goes: only `public` may be sent to. */
export type AddressClass =
  | "public"
  | "unspecified"
  | "loopback"
  | "private"
  | "link-local"
  | "carrier-grade-nat"
  | "multicast"
  | "broadcast"
  /** Documentation, benchmarking, protocol and unassigned ranges: not on the public Internet. */
  | "reserved"

const Ipv4Part = /^(?:0|[1-9]\d{0,2})$/

// Dotted decimal only, as resolvers answer and the URL parser writes hosts (it rewrites `0x7f.1`
// and `2130706433` to `127.0.0.1`); anything else is a name, which is resolved and then checked.
const parseIpv4 = (text: string): Uint8Array | undefined => {
  const parts = text.split(".")
  if (parts.length !== 4 || !parts.every((part) => Ipv4Part.test(part) && Number(part) <= 255)) return undefined
  return Uint8Array.from(parts, Number)
}

const Ipv6Group = /^[0-9a-f]{1,4}$/i

const parseIpv6 = (input: string): Uint8Array | undefined => {
  // A zone (`fe80::1%eth0`) says which interface, not which address.
  const zone = input.indexOf("%")
  const text = zone === -1 ? input : input.slice(0, zone)
  const halves = text.split("::")
  if (halves.length > 2) return undefined
  const groupsOf = (half: string): Array<number> | undefined => {
    if (half === "") return []
    const out: Array<number> = []
    const parts = half.split(":")
    for (const [i, part] of parts.entries()) {
      // An IPv4 tail (`::ffff:127.0.0.1`) is the last 32 bits.
      if (i === parts.length - 1 && part.includes(".")) {
        const v4 = parseIpv4(part)
        if (v4 === undefined) return undefined
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
      } else if (Ipv6Group.test(part)) out.push(parseInt(part, 16))
      else return undefined
    }
    return out
  }
  const head = groupsOf(halves[0]!)
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : []
  if (head === undefined || tail === undefined) return undefined
  // An IPv4 tail may only end the address.
  if (halves.length === 2 && halves[0]!.includes(".")) return undefined
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined
  const groups = [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail]
  const bytes = new Uint8Array(16)
  groups.forEach((group, i) => {
    bytes[2 * i] = group >> 8
    bytes[2 * i + 1] = group & 0xff
  })
  return bytes
}

const classifyIpv4 = (a: number, b: number, c: number, d: number): AddressClass => {
  if (a === 0) return b === 0 && c === 0 && d === 0 ? "unspecified" : "reserved"
  if (a === 127) return "loopback"
  if (a === 10 || (a === 172 && (b & 0xf0) === 16) || (a === 192 && b === 168)) return "private"
  if (a === 169 && b === 254) return "link-local"
  if (a === 100 && (b & 0xc0) === 64) return "carrier-grade-nat"
  if (a >= 224 && a <= 239) return "multicast"
  if (a === 255 && b === 255 && c === 255 && d === 255) return "broadcast"
  if (a >= 240) return "reserved"
  if (
    (a === 192 && b === 0 && (c === 0 || c === 2)) || // protocol assignments, TEST-NET-1
    (a === 192 && b === 88 && c === 99) || // 6to4 relays
    (a === 198 && (b & 0xfe) === 18) || // benchmarking
    (a === 198 && b === 51 && c === 100) || // TEST-NET-2
    (a === 203 && b === 0 && c === 113) // TEST-NET-3
  ) return "reserved"
  return "public"
}

const zeroFrom = (bytes: Uint8Array, from: number, to: number) => bytes.subarray(from, to).every((b) => b === 0)
const v4At = (bytes: Uint8Array, at: number) => classifyIpv4(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!)

const classifyIpv6 = (bytes: Uint8Array): AddressClass => {
  const [b0, b1, b2, b3] = [bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!]
  if (zeroFrom(bytes, 0, 16)) return "unspecified"
  if (zeroFrom(bytes, 0, 15) && bytes[15] === 1) return "loopback"
  // An IPv4 address in IPv6 clothes is what it embeds: `::ffff:127.0.0.1` is loopback. The same
  // for NAT64 (64:ff9b::/96) and 6to4 (2002::/16), which reach the IPv4 address they embed.
  if (zeroFrom(bytes, 0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return v4At(bytes, 12)
  if (b0 === 0 && b1 === 0x64 && b2 === 0xff && b3 === 0x9b) {
    if (zeroFrom(bytes, 4, 12)) return v4At(bytes, 12)
    if (bytes[4] === 0 && bytes[5] === 1) return "private" // 64:ff9b:1::/48, local-use NAT64
  }
  if (b0 === 0x20 && b1 === 0x02) return v4At(bytes, 2)
  if ((b0 & 0xfe) === 0xfc) return "private" // unique local, fc00::/7
  if (b0 === 0xfe && (b1 & 0xc0) === 0x80) return "link-local" // fe80::/10
  if (b0 === 0xfe && (b1 & 0xc0) === 0xc0) return "private" // site-local, fec0::/10 (deprecated)
  if (b0 === 0xff) return "multicast"
  if (
    (b0 === 0x20 && b1 === 0x01 && (b2 & 0xfe) === 0) || // protocol assignments, Teredo: 2001::/23
    (b0 === 0x20 && b1 === 0x01 && b2 === 0x0d && b3 === 0xb8) || // documentation, 2001:db8::/32
    (b0 === 0x3f && b1 === 0xff && (b2 & 0xf0) === 0) // documentation, 3fff::/20
  ) return "reserved"
  // Global unicast is 2000::/3; everything else (IPv4-compatible ::a.b.c.d, discard-only 100::/64,
  // unassigned space) is not an address a webhook should go to.
  return (b0 & 0xe0) === 0x20 ? "public" : "reserved"
}

/** The class of an IP address (IPv4 dotted decimal, or IPv6 with or without brackets); `undefined` for a name. */
export const classify = (address: string): AddressClass | undefined => {
  const bare = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address
  const v4 = parseIpv4(bare)
  if (v4 !== undefined) return v4At(v4, 0)
  if (!bare.includes(":")) return undefined
  const v6 = parseIpv6(bare)
  return v6 === undefined ? undefined : classifyIpv6(v6)
}

/** One address a name resolves to, as `dns.lookup` answers. */
export interface ResolvedAddress {
  readonly address: string
  readonly family: number
}

/** Resolves a host name to all its addresses. */
export type Resolve = (host: string) => Promise<ReadonlyArray<ResolvedAddress>>

/** The system's resolver (`getaddrinfo`, as sockets use): every address, in its order. */
export const systemResolve: Resolve = (host) => Dns.promises.lookup(host, { all: true, verbatim: true })

/** How the guard decides. */
export interface Options {
  /** `TRACKLOG_WEBHOOK_ALLOW_PRIVATE=on`: any address is allowed (a receiver on this machine, in tests). */
  readonly allowPrivate: boolean
  /** Injected in tests, so none resolves a real name; the system's by default. */
  readonly resolve?: Resolve | undefined
}

/**
 * The target is not allowed: not `http(s)`, or a host that is or resolves to a non-public
 * address. `address` names the resolved address for the server's log; the API's answer should
 * not repeat it (it would tell a caller about the server's network).
 */
export class UrlNotAllowed extends Schema.TaggedError<UrlNotAllowed>()("UrlNotAllowed", {
  host: Schema.String,
  reason: Schema.Literal(
    "invalid_url",
    "scheme",
    "unspecified",
    "loopback",
    "private",
    "link-local",
    "carrier-grade-nat",
    "multicast",
    "broadcast",
    "reserved"
  ),
  address: Schema.optionalWith(Schema.String, { exact: true })
}) {
  override get message() {
    if (this.reason === "invalid_url") return "The URL cannot be parsed"
    if (this.reason === "scheme") return "Only http and https URLs are allowed"
    return this.address === undefined
      ? `The host is a ${this.reason} address`
      : `The host resolves to a ${this.reason} address`
  }
}

/** The host's name did not resolve: no answer, or no address. Not a refusal: it may resolve later. */
export class HostNotResolved extends Schema.TaggedError<HostNotResolved>()("HostNotResolved", {
  host: Schema.String,
  message: Schema.String
}) {}

const notPublic = (addresses: ReadonlyArray<ResolvedAddress>) => {
  for (const { address } of addresses) {
    const kind = classify(address) ?? "reserved"
    if (kind !== "public") return { address, kind }
  }
  return undefined
}

/**
 * Checks a host (a URL's `hostname`): an IP literal by its class; a name by every address it
 * resolves to, refused if any one is not public (a resolver may hand a socket any of them).
 */
export const checkHost = (host: string, options: Options): Effect.Effect<void, UrlNotAllowed | HostNotResolved> => {
  if (options.allowPrivate) return Effect.void
  const literal = classify(host)
  if (literal !== undefined) {
    return literal === "public" ? Effect.void : Effect.fail(new UrlNotAllowed({ host, reason: literal }))
  }
  const resolve = options.resolve ?? systemResolve
  return Effect.tryPromise({
    try: () => resolve(host),
    catch: (error) => new HostNotResolved({ host, message: error instanceof Error ? error.message : String(error) })
  }).pipe(Effect.flatMap((addresses): Effect.Effect<void, UrlNotAllowed | HostNotResolved> => {
    if (addresses.length === 0) return Effect.fail(new HostNotResolved({ host, message: "no address" }))
    const bad = notPublic(addresses)
    return bad === undefined
      ? Effect.void
      : Effect.fail(new UrlNotAllowed({ host, reason: bad.kind, address: bad.address }))
  }))
}

/** Checks a URL: `http:` or `https:`, and its host as `checkHost` does. */
export const checkUrl = (url: string, options: Options): Effect.Effect<void, UrlNotAllowed | HostNotResolved> => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return Effect.fail(new UrlNotAllowed({ host: "", reason: "invalid_url" }))
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return Effect.fail(new UrlNotAllowed({ host: parsed.hostname, reason: "scheme" }))
  }
  return checkHost(parsed.hostname, options)
}

/**
 * A `lookup` for the sender's sockets (`http.Agent`'s option, undici's `connect.lookup`): resolves
 * as `checkHost` does and refuses the connection unless every address is public. The address the
 * socket connects to is then one that was checked, so a name that re-resolves to a private address
 * after `checkUrl` (DNS rebinding) is refused too. Sockets do not look up IP literals: `checkUrl`
 * covers those.
 */
export const lookup = (options: Options): Net.LookupFunction => (hostname, lookupOptions, callback) => {
  const family = lookupOptions.family === "IPv4" ? 4 : lookupOptions.family === "IPv6" ? 6 : lookupOptions.family ?? 0
  const resolve = options.resolve ?? systemResolve
  const fail = (code: string, message: string) =>
    callback(Object.assign(new Error(message), { code, hostname }) as NodeJS.ErrnoException, "", 0)
  resolve(hostname).then(
    (found) => {
      const addresses = found.filter((a) => family === 0 || a.family === family)
      if (addresses.length === 0) return fail("ENOTFOUND", `${hostname} has no address`)
      const bad = options.allowPrivate ? undefined : notPublic(addresses)
      if (bad !== undefined) return fail("ENOTALLOWED", `${hostname} resolves to a ${bad.kind} address`)
      if (lookupOptions.all === true) return callback(null, addresses.map((a) => ({ ...a })))
      callback(null, addresses[0]!.address, addresses[0]!.family)
    },
    (error: NodeJS.ErrnoException) => callback(error, "", 0)
  )
}
