// Baseline: a bare node:http handler that parses the same body and answers the same JSON, with
// no store. What "a hand-written server" costs before it does any work.
import { randomUUID } from "node:crypto"
import * as Http from "node:http"

const key = `Bearer ${process.env.BENCH_KEY ?? "pk_bench"}`
const server = Http.createServer((req, res) => {
  const chunks = []
  req.on("data", (c) => chunks.push(c))
  req.on("end", () => {
    let body
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
    } catch {
      res.writeHead(400, { "content-type": "application/json" })
      return res.end('{"success":false}')
    }
    if (req.headers.authorization !== key || typeof body?.email !== "string" || typeof body?.event !== "string") {
      res.writeHead(422, { "content-type": "application/json" })
      return res.end('{"success":false}')
    }
    const text = JSON.stringify({
      success: true,
      data: { contact: randomUUID(), event: randomUUID(), timestamp: new Date().toISOString() }
    })
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) })
    res.end(text)
  })
})
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  console.log(JSON.stringify({ msg: "listening", url: `http://127.0.0.1:${server.address().port}` }))
})
process.on("SIGTERM", () => server.close(() => process.exit(0)))
