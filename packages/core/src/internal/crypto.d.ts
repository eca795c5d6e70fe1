// The Web Crypto global: available in Node ≥ 19, Deno, Bun and browsers, without importing any
// runtime's built-ins.
declare global {
  // eslint-disable-next-line no-var
  var crypto: {
    getRandomValues<T extends Uint8Array>(array: T): T
    subtle: {
      digest(algorithm: "SHA-256", data: Uint8Array): Promise<ArrayBuffer>
      importKey(
        format: "raw",
        keyData: Uint8Array,
        algorithm: { name: "HMAC"; hash: "SHA-256" },
        extractable: false,
        usages: ReadonlyArray<"sign">
      ): Promise<object>
      sign(algorithm: "HMAC", key: object, data: Uint8Array): Promise<ArrayBuffer>
    }
  }
  class TextEncoder {
    encode(input: string): Uint8Array
  }
}
export {}
