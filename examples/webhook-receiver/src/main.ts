/**
 * `TRACKLOG_WEBHOOK_SECRET=whsec_… PORT=4001 pnpm --filter @tracklog/example-webhook-receiver start`:
 * prints every verified delivery, one JSON line each.
 */
import * as Receiver from "./Receiver.js"

const secret = process.env["TRACKLOG_WEBHOOK_SECRET"]
if (secret === undefined || !secret.startsWith("whsec_")) {
  process.stderr.write("Set TRACKLOG_WEBHOOK_SECRET to the endpoint's whsec_… secret\n")
  process.exit(2)
}
const receiver = await Receiver.start({
  secret,
  port: Number(process.env["PORT"] ?? 4001),
  onDelivery: (delivery, id) => {
    process.stdout.write(JSON.stringify({ id, ...delivery }) + "\n")
  }
})
process.stdout.write(`listening on ${receiver.url}\n`)
