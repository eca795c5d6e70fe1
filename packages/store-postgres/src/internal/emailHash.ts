import { createHmac } from "node:crypto"

/**
 * `Suppressions.emailHash`, synchronous: node's HMAC answers in a few µs where Web Crypto's
 * asynchronous one costs ~100 µs (a thread-pool hop), on the path of every new contact. This
 * store runs on node anyway (`pg`); a test holds the two to the same answers.
 */
export const emailHash = (secret: string, email: string): string =>
  createHmac("sha256", secret).update(email).digest("hex")
