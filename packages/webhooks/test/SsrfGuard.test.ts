// No test here resolves a real name or opens a connection: every resolver is injected.
import { describe, expect, it } from "@effect/vitest"
import * as SsrfGuard from "@tracklog/webhooks/SsrfGuard"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Dns from "node:dns"

const v4 = (address: string) => ({ address, family: 4 })
const v6 = (address: string) => ({ address, family: 6 })
const resolving = (table: Record<string, ReadonlyArray<SsrfGuard.ResolvedAddress>>) => {
  const asked: Array<string> = []
  const resolve: SsrfGuard.Resolve = (host) => {
    asked.push(host)
    const found = table[host]
    return found === undefined
      ? Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" }))
      : Promise.resolve(found)
  }
  return { resolve, asked }
}
// Literals are classified as they are: a resolver that is asked anything fails the test.
const noResolver: SsrfGuard.Resolve = (host) => Promise.reject(new Error(`resolved ${host}, a literal`))

const check = (url: string, resolve: SsrfGuard.Resolve = noResolver, allowPrivate = false) =>
  Effect.runPromise(Effect.either(SsrfGuard.checkUrl(url, { allowPrivate, resolve })))
const refusal = async (url: string, resolve?: SsrfGuard.Resolve) =>
  Either.match(await check(url, resolve), {
    onLeft: (e) => (e._tag === "UrlNotAllowed" ? e.reason : e._tag),
    onRight: () => "allowed"
  })

describe("SsrfGuard.classify: IPv4", () => {
  const cases: ReadonlyArray<[string, SsrfGuard.AddressClass]> = [
    ["8.8.8.8", "public"],
    ["93.184.216.34", "public"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "reserved"],
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["10.0.0.1", "private"],
    ["10.255.255.255", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.15.255.255", "public"],
    ["172.32.0.0", "public"],
    ["192.168.1.1", "private"],
    ["192.169.0.1", "public"],
    ["169.254.169.254", "link-local"],
    ["100.64.0.1", "carrier-grade-nat"],
    ["100.127.255.255", "carrier-grade-nat"],
    ["100.63.255.255", "public"],
    ["100.128.0.0", "public"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.255", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["240.0.0.1", "reserved"],
    ["192.0.0.8", "reserved"],
    ["192.0.2.1", "reserved"],
    ["198.18.0.1", "reserved"],
    ["198.51.100.1", "reserved"],
    ["203.0.113.1", "reserved"]
  ]
  for (const [address, expected] of cases)
    it(`${address} is ${expected}`, () => expect(SsrfGuard.classify(address)).toBe(expected))
})

describe("SsrfGuard.classify: IPv6", () => {
  const cases: ReadonlyArray<[string, SsrfGuard.AddressClass]> = [
    ["2606:4700:4700::1111", "public"],
    ["2a00:1450:4001:80b::200e", "public"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["[::1]", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::FFFF:10.0.0.1", "private"],
    ["::ffff:169.254.169.254", "link-local"],
    ["::ffff:8.8.8.8", "public"],
    ["::ffff:0.0.0.0", "unspecified"],
    ["fc00::1", "private"],
    ["fd12:3456:789a::1", "private"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["febf::1", "link-local"],
    ["fec0::1", "private"],
    ["ff02::1", "multicast"],
    ["64:ff9b::10.0.0.1", "private"],
    ["64:ff9b::8.8.8.8", "public"],
    ["64:ff9b:1::1", "private"],
    ["2002:7f00:1::", "loopback"],
    ["2002:0808:0808::1", "public"],
    ["2001:db8::1", "reserved"],
    ["2001::1", "reserved"],
    ["::127.0.0.1", "reserved"],
    ["100::1", "reserved"],
    ["4000::1", "reserved"]
  ]
  for (const [address, expected] of cases)
    it(`${address} is ${expected}`, () => expect(SsrfGuard.classify(address)).toBe(expected))
})

describe("SsrfGuard.classify: names and malformed text are not addresses", () => {
  it("answers undefined, so they are resolved instead", () => {
    for (
      const text of [
        "example.com",
        "localhost",
        "1.2.3",
        "1.2.3.4.5",
        "256.0.0.1",
        "01.2.3.4",
        "1.2.3.4.nip.io",
        "1::2::3",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7",
        "::g",
        "12345::",
        "::1.2.3.4:5",
        ""
      ]
    ) {
      expect(SsrfGuard.classify(text), text).toBeUndefined()
    }
  })
})

describe("SsrfGuard.checkUrl: literal hosts (webhooks §12)", () => {
  it("a public address is allowed", async () => {
    expect(await refusal("https://8.8.8.8/hook")).toBe("allowed")
    expect(await refusal("http://[2606:4700:4700::1111]:8080/")).toBe("allowed")
  })

  it("loopback, private, link-local and unspecified literals are refused", async () => {
    expect(await refusal("http://127.0.0.1:8080/")).toBe("loopback")
    expect(await refusal("http://[::1]/")).toBe("loopback")
    expect(await refusal("http://10.0.0.1/")).toBe("private")
    expect(await refusal("http://[fd00::1]/")).toBe("private")
    expect(await refusal("http://169.254.169.254/latest/meta-data/")).toBe("link-local")
    expect(await refusal("http://[fe80::1]/")).toBe("link-local")
    expect(await refusal("http://0.0.0.0/")).toBe("unspecified")
    expect(await refusal("http://[::]/")).toBe("unspecified")
    expect(await refusal("http://100.64.0.1/")).toBe("carrier-grade-nat")
  })

  it("the other spellings the URL parser reads as loopback are refused as loopback", async () => {
    for (
      const url of [
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0x7f.1/",
        "http://127.1/",
        "http://0177.0.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[0:0:0:0:0:ffff:7f00:1]/"
      ]
    ) {
      expect(await refusal(url), url).toBe("loopback")
    }
  })

  it("only http and https", async () => {
    expect(await refusal("ftp://8.8.8.8/")).toBe("scheme")
    expect(await refusal("file:///etc/passwd")).toBe("scheme")
    expect(await refusal("not a url")).toBe("invalid_url")
  })
})

describe("SsrfGuard.checkUrl: names, resolved (webhooks §12)", () => {
  const dns = resolving({
    "hooks.example.com": [v4("93.184.216.34"), v6("2606:2800:220:1:248:1893:25c8:1946")],
    localhost: [v4("127.0.0.1"), v6("::1")],
    "internal.example.com": [v4("10.0.0.1")],
    "mixed.example.com": [v4("93.184.216.34"), v4("10.0.0.1")],
    "mapped.example.com": [v6("::ffff:192.168.0.10")],
    "empty.example.com": []
  })

  it("a name whose every address is public is allowed", async () => {
    expect(await refusal("https://hooks.example.com/tracklog", dns.resolve)).toBe("allowed")
  })

  it("a name that resolves to loopback or a private address is refused", async () => {
    expect(await refusal("http://localhost:3000/", dns.resolve)).toBe("loopback")
    expect(await refusal("https://internal.example.com/", dns.resolve)).toBe("private")
    expect(await refusal("https://mapped.example.com/", dns.resolve)).toBe("private")
  })

  it("one private address among public ones is enough to refuse", async () => {
    const result = await check("https://mixed.example.com/", dns.resolve)
    expect(result).toEqual(Either.left(expect.objectContaining({ _tag: "UrlNotAllowed", reason: "private" })))
    // The address is kept for the log; the message, which an answer may show, does not name it.
    const error = Either.getLeft(result).pipe((o) => (o._tag === "Some" ? o.value : undefined))
    expect(error).toMatchObject({ address: "10.0.0.1", host: "mixed.example.com" })
    expect(error?.message).not.toContain("10.0.0.1")
  })

  it("a name that does not resolve, or to nothing, is not resolved (not refused)", async () => {
    expect(await refusal("https://nowhere.example.com/", dns.resolve)).toBe("HostNotResolved")
    expect(await refusal("https://empty.example.com/", dns.resolve)).toBe("HostNotResolved")
  })

  it("allowPrivate allows any host and resolves nothing", async () => {
    const guarded = resolving({ localhost: [v4("127.0.0.1")] })
    expect(Either.isRight(await check("http://localhost:3000/", guarded.resolve, true))).toBe(true)
    expect(Either.isRight(await check("http://127.0.0.1:3000/", noResolver, true))).toBe(true)
    expect(guarded.asked).toEqual([])
    // The scheme is still checked: allowPrivate is about addresses only.
    expect(Either.isLeft(await check("ftp://localhost/", guarded.resolve, true))).toBe(true)
  })

  it("the name asked is the URL's host, without port or path", async () => {
    const guarded = resolving({ "hooks.example.com": [v4("93.184.216.34")] })
    await check("https://hooks.example.com:8443/a/b?c=d", guarded.resolve)
    expect(guarded.asked).toEqual(["hooks.example.com"])
  })
})

describe("SsrfGuard.lookup: the sockets' own resolution (DNS rebinding)", () => {
  type Answer = {
    error: NodeJS.ErrnoException | null
    address: string | Array<Dns.LookupAddress>
    family: number | undefined
  }
  const run = (options: SsrfGuard.Options, host: string, lookupOptions: Dns.LookupOptions) =>
    new Promise<Answer>((resolve) =>
      SsrfGuard.lookup(options)(host, lookupOptions, (error, address, family) => resolve({ error, address, family }))
    )
  const dns = resolving({
    "hooks.example.com": [v4("93.184.216.34"), v6("2606:2800:220:1:248:1893:25c8:1946")],
    "rebound.example.com": [v4("127.0.0.1")]
  })

  it("answers the checked addresses, one or all, of the family asked", async () => {
    expect(await run({ allowPrivate: false, resolve: dns.resolve }, "hooks.example.com", {})).toEqual({
      error: null,
      address: "93.184.216.34",
      family: 4
    })
    expect(await run({ allowPrivate: false, resolve: dns.resolve }, "hooks.example.com", { all: true })).toEqual({
      error: null,
      address: [v4("93.184.216.34"), v6("2606:2800:220:1:248:1893:25c8:1946")],
      family: undefined
    })
    expect(await run({ allowPrivate: false, resolve: dns.resolve }, "hooks.example.com", { family: 6 })).toMatchObject(
      { error: null, address: "2606:2800:220:1:248:1893:25c8:1946", family: 6 }
    )
  })

  it("refuses a name that now resolves to a private address: the socket never connects", async () => {
    const answer = await run({ allowPrivate: false, resolve: dns.resolve }, "rebound.example.com", {})
    expect(answer.error?.code).toBe("ENOTALLOWED")
    expect(answer.error?.message).toContain("loopback")
  })

  it("passes the resolver's error on, and allows anything with allowPrivate", async () => {
    const missing = await run({ allowPrivate: false, resolve: dns.resolve }, "nowhere.example.com", {})
    expect(missing.error?.code).toBe("ENOTFOUND")
    expect(await run({ allowPrivate: true, resolve: dns.resolve }, "rebound.example.com", {})).toEqual({
      error: null,
      address: "127.0.0.1",
      family: 4
    })
  })
})
