/**
 * A vendor that misbehaves in one chosen way, on loopback, for the fault
 * matrix. It answers every path the same way (sign-in, widget page, the
 * Widget SDK's token API and Caramelo's intranet-auth alike), so any vendor's
 * URL can point at it.
 * Every body it sends carries `MARKER`, so a test can prove that nothing the
 * vendor said reached a page or a log line.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net'

export type FaultMode =
  /** Reads the request, never answers. */
  | 'hang'
  /** Sends 200 headers, then one body byte every 200 ms, never ending. */
  | 'trickle'
  /** Resets the connection (TCP RST) once the request arrived. */
  | 'reset'
  /** Answers 500 with a body. */
  | 'status-500'
  /** Answers 200 with the expected content type but a body that is neither JSON nor HTML. */
  | 'garbage'
  /** Answers 200 with a well-typed body larger than the runtime's 1 MiB cap, streamed without a length. */
  | 'oversized'
  /** Returning.AI only: signs in properly, but the widget page has no `token: ""` placeholder. */
  | 'no-placeholder'

/** In every body the vendor sends: it must never be seen again. */
export const MARKER = 'faulty-vendor-body-7d31c0e5'

/** The JWT-shaped token the `no-placeholder` sign-in answers; it must not surface either. */
export const FAULTY_TOKEN = `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ email: MARKER })).toString('base64url')}.c2ln`

export interface FaultyVendor {
  url: string
  mode: FaultMode
  /** Requests that arrived, in order. */
  received: { method: string; path: string }[]
  /** Stops listening and cuts every connection (hanging and trickling ones too). */
  close(): Promise<void>
}

const TRICKLE_INTERVAL_MS = 200
const OVERSIZED_BYTES = 1024 * 1024 + 512 * 1024

export async function startFaultyVendor(mode: FaultMode): Promise<FaultyVendor> {
  const received: FaultyVendor['received'] = []
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  const server = createServer((req, res) => {
    received.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0] ?? '' })
    // Read the request to its end first, so every fault happens once the vendor "has" the call.
    req.resume()
    req.once('end', () => misbehave(mode, req, res, timers))
  })
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    mode,
    received,
    close: () =>
      new Promise((resolve) => {
        for (const timer of timers) clearInterval(timer)
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
      }),
  }
}

function misbehave(mode: FaultMode, req: IncomingMessage, res: ServerResponse, timers: Set<NodeJS.Timeout>): void {
  const json = req.method === 'POST'
  const type = json ? 'application/json' : 'text/html; charset=utf-8'
  switch (mode) {
    case 'hang':
      return
    case 'trickle': {
      res.writeHead(200, { 'content-type': type })
      res.flushHeaders()
      const timer = setInterval(() => res.write(MARKER[0] ?? 'x'), TRICKLE_INTERVAL_MS)
      timers.add(timer)
      res.once('close', () => {
        clearInterval(timer)
        timers.delete(timer)
      })
      return
    }
    case 'reset':
      req.socket.resetAndDestroy()
      return
    case 'status-500':
      res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: MARKER }))
      return
    case 'garbage':
      res.writeHead(200, { 'content-type': type })
      res.end(Buffer.concat([Buffer.from(`\u0000\u00ff${MARKER} <<<`), Buffer.from([0xc3, 0x28, 0xfe, 0xff])]))
      return
    case 'oversized':
      return streamOversized(res, type, json)
    case 'no-placeholder':
      if (json) {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ token: FAULTY_TOKEN }))
        return
      }
      res.writeHead(200, { 'content-type': type })
      res.end(
        `<!doctype html><html><head><title>${MARKER}</title></head><body>` +
          `<script>window.__WIDGET_INIT__ = { widgetType: "store" };</script></body></html>`,
      )
      return
  }
}

/** A body that would be valid but for its size: JSON with a long token, or HTML with the placeholder. */
function streamOversized(res: ServerResponse, type: string, json: boolean): void {
  res.writeHead(200, { 'content-type': type })
  const head = json
    ? `{"token":"${MARKER}`
    : `<html><script>window.__WIDGET_INIT__ = { token: "" };</script><p>${MARKER}`
  const tail = json ? '"}' : '</p></html>'
  const chunk = 'a'.repeat(64 * 1024)
  let sent = head.length
  res.write(head)
  const pump = (): void => {
    while (sent < OVERSIZED_BYTES) {
      sent += chunk.length
      if (!res.write(chunk)) {
        res.once('drain', pump)
        return
      }
    }
    res.end(tail)
  }
  res.on('error', () => undefined)
  pump()
}

/** A loopback URL nothing listens on: a port that was just free, found by binding and closing it. */
export async function refusedUrl(): Promise<string> {
  const probe = createTcpServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  // Check it is refused now; a port taken in between would make the case test something else.
  await new Promise<void>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      reject(new Error(`port ${port} is in use again; cannot simulate a refused connection`))
    })
    socket.once('error', () => resolve())
  })
  return `http://127.0.0.1:${port}`
}
