// A webhook receiver for `pnpm bench webhooks`, in its own process (wrk blocks the bench's):
// answers 204 at once, counts deliveries and keeps each one's delay from the event's timestamp to
// its arrival. `GET /stats` answers {count, distinct, delays: [ms…]} and `POST /reset` clears them.
import * as Http from "node:http"

let count = 0
let delays = []
const ids = new Set()
const server = Http.createServer((req, res) => {
  const chunks = []
  req.on("data", (c) => chunks.push(c))
  req.on("end", () => {
    if (req.method === "GET") return res.writeHead(200).end(JSON.stringify({ count, distinct: ids.size, delays }))
    if (req.url === "/reset") {
      count = 0
      delays = []
      ids.clear()
      return res.writeHead(204).end()
    }
    count++
    ids.add(req.headers["webhook-id"])
    delays.push(Date.now() - Date.parse(JSON.parse(Buffer.concat(chunks).toString()).timestamp))
    res.writeHead(204).end()
  })
})
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ msg: "listening", url: `http://127.0.0.1:${server.address().port}` }) + "\n")
})
