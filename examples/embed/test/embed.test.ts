import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { expect, it } from "vitest"

it("the embed example runs and prints the resulting contact", () => {
  const cwd = fileURLToPath(new URL("..", import.meta.url))
  const out = execFileSync(process.execPath, ["--conditions=@tracklog/source", "--import", "tsx", "src/main.ts"], {
    cwd,
    encoding: "utf8"
  })
  expect(out).toContain(
    'rejected: [{"field":"email","message":"Invalid email","code":"invalid_email"},{"field":"event"'
  )
  const contact = JSON.parse(out.slice(out.indexOf("contact:") + 8, out.indexOf("events:")))
  expect(contact).toMatchObject({ email: "ada@example.com", subscribed: false, data: { plan: "pro" }, version: 8 })
  expect(Object.keys(contact.data)).toEqual(["plan"])
  expect(out).toContain("events: newsletter-optout, contact.unsubscribed, purchase, signup")
})
