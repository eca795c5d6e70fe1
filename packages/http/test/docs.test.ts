/**
 * The docs page works offline in a real browser: headless Chromium renders the track operation
 * from our server alone (every request elsewhere is refused and counted).
 */
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { chromium } from "playwright-core"
import { afterAll, beforeAll, expect, it } from "vitest"
import { start } from "./TestServer.js"

const executablePath = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium"

const scope = Effect.runSync(Scope.make())
let base = ""
beforeAll(async () => {
  base = (await Effect.runPromise(Scope.extend(start(StoreMemory.layer), scope))).url
})
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

it("GET /docs renders the POST /v1/track operation with no network but our server", async () => {
  const browser = await chromium.launch({
    executablePath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
  })
  try {
    const page = await browser.newPage()
    const elsewhere: Array<string> = []
    await page.route("**/*", (route) => {
      const url = route.request().url()
      if (url.startsWith(base) || url.startsWith("data:")) return route.continue()
      elsewhere.push(url)
      return route.abort()
    })
    const response = await page.goto(`${base}/docs`)
    expect(response?.status()).toBe(200)
    const operation = page.locator(".opblock-post .opblock-summary-path", { hasText: /^\/v1\/track$/ })
    await operation.waitFor({ timeout: 20_000 })
    await operation.click()
    // The block opens first and renders its body after: under load, reading at once raced it.
    const opened = page.locator(".opblock-post.is-open")
    await opened.waitFor()
    await expect.poll(() => opened.innerText(), { timeout: 20_000 }).toContain("email")
    expect(await page.locator(".opblock-summary-path").allInnerTexts()).toEqual(
      expect.arrayContaining(["/contacts", "/contacts/{id}", "/contacts/{id}/events"])
    )
    // The contact, segment and webhook updates (behaviour §10, §11.2, §12) are on the page as PATCH operations.
    expect(await page.locator(".opblock-patch .opblock-summary-path").allInnerTexts()).toEqual([
      "/contacts/{id}",
      "/segments/{id}",
      "/webhooks/{id}"
    ])
    expect(elsewhere).toEqual([])
  } finally {
    await browser.close()
  }
}, 60_000)
