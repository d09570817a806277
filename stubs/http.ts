/**
 * Plumbing shared by the local vendor stubs: listening on loopback, recording what arrived,
 * reading bounded bodies, answering, simulated latency, and closing without hanging.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** One HTTP request as a stub saw it, for tests to inspect. */
export interface ReceivedRequest {
  /** HTTP method as sent, e.g. `POST`. */
  method: string
  /** Raw path without the query string, never normalised, so a `..` sent on the wire stays visible. */
  path: string
  /** Query parameters; a repeated name keeps its last value. */
  query: Record<string, string>
  /** Headers with lower-cased names; a repeated header is joined with `, `. */
  headers: Record<string, string>
  /** Raw body text; `''` when there was none or when it was over the size limit. */
  body: string
  /** Arrival time in milliseconds since the epoch. */
  at: number
}

/**
 * A whole answer a test makes a stub send instead of its own (test hook), e.g. an error status or a
 * body that is not what the vendor documents.
 */
export interface StubAnswer {
  status: number
  body: string
  /** @default 'application/json; charset=utf-8' */
  contentType?: string
}

/** Sends a test's {@link StubAnswer}; never cacheable, so a runtime's cache cannot keep it. */
export function sendAnswer(res: ServerResponse, answer: StubAnswer): void {
  send(res, answer.status, answer.contentType ?? 'application/json; charset=utf-8', answer.body, {
    'cache-control': 'no-store',
  })
}

/** Answers one recorded request; `entry.body` is already filled in. */
export type Handler = (entry: ReceivedRequest, res: ServerResponse) => Promise<void>

/** A stub's HTTP server once it listens. */
export interface RunningServer {
  /** The underlying server, e.g. to attach an `upgrade` listener. */
  server: Server
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  url: string
  /** Stops listening and destroys every open connection, upgraded ones included. */
  close(): Promise<void>
}

/** Largest request body a stub accepts; a bigger one is answered with 413. */
export const MAX_BODY_BYTES = 64 * 1024

/** Turns an incoming request into a record; the body is filled in once read. */
export function recordRequest(req: IncomingMessage): ReceivedRequest {
  const target = req.url ?? '/'
  const mark = target.indexOf('?')
  const path = mark === -1 ? target : target.slice(0, mark)
  const search = new URLSearchParams(mark === -1 ? '' : target.slice(mark + 1))
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value
  }
  return { method: req.method ?? 'GET', path, query: Object.fromEntries(search), headers, body: '', at: Date.now() }
}

/**
 * Reads the whole body as UTF-8, or resolves `undefined` when it is larger than `limit`.
 * An oversized body is still drained (and dropped) so that the client reads a clean 413
 * instead of a connection reset in the middle of its upload.
 */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let ended = false
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) chunks.push(chunk)
    })
    req.on('end', () => {
      ended = true
      resolve(size > limit ? undefined : Buffer.concat(chunks).toString('utf8'))
    })
    req.on('error', reject)
    req.on('close', () => {
      if (!ended) reject(new Error('request aborted before its body ended'))
    })
  })
}

/** Answers with a complete body, unless the client has already gone away. */
export function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: OutgoingHttpHeaders = {},
): void {
  if (res.destroyed || res.writableEnded) return
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    ...headers,
  })
  res.end(body)
}

/** Answers JSON; error bodies are fixed strings chosen by the stub, never request data. */
export function sendJson(res: ServerResponse, status: number, value: unknown, headers: OutgoingHttpHeaders = {}): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value), {
    'cache-control': 'no-store',
    ...headers,
  })
}

/** The stubs' common 404 answer. */
export function notFound(res: ServerResponse, headers: OutgoingHttpHeaders = {}): void {
  sendJson(res, 404, { error: 'not found' }, headers)
}

/**
 * Waits `ms` before an answer, like a slow vendor. Resolves `false` early when the client
 * disconnects (or the stub closes), so no timer outlives the request.
 */
export function waitLatency(res: ServerResponse, ms: number): Promise<boolean> {
  if (ms <= 0 || res.destroyed) return Promise.resolve(!res.destroyed)
  return new Promise((resolve) => {
    const onClose = (): void => {
      clearTimeout(timer)
      resolve(false)
    }
    const timer = setTimeout(() => {
      res.off('close', onClose)
      resolve(!res.destroyed)
    }, ms)
    res.once('close', onClose)
  })
}

/** The media type of a `content-type` header, lower-cased and without parameters; `''` when absent. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}

/** Compares a presented secret with the expected one in constant time, whatever their lengths. */
export function secretMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest()
  return timingSafeEqual(digest(presented), digest(expected))
}

/** Throws unless `value` is a valid latency; shared by the options and `setLatency()`. */
export function checkLatency(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative number of milliseconds, got ${String(value)}`)
  }
  return value
}

/** Throws unless `value` is a non-empty string; the message never quotes it (it is a credential). */
export function checkSecret(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string`)
  return value
}

const URL_SAFE = /^[A-Za-z0-9._~-]+$/

/** Throws unless `value` is a non-empty string that goes into a URL path as is. */
export function checkUrlSafe(name: string, value: unknown): string {
  if (typeof value !== 'string' || !URL_SAFE.test(value)) {
    throw new TypeError(`${name} must be a non-empty string of A-Z a-z 0-9 . _ ~ -, got '${String(value)}'`)
  }
  return value
}

/** Throws unless `value` is a positive integer (a token lifetime in seconds, say). */
export function checkPositiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`)
  }
  return value
}

/** An HS256 key from a stub's `jwtSecret` option: the given text or bytes, else 32 random bytes. */
export function jwtKey(secret: Uint8Array | string | undefined): Uint8Array {
  const key = secret ?? randomBytes(32)
  return typeof key === 'string' ? new TextEncoder().encode(key) : new Uint8Array(key)
}

/** Throws unless `value` is a usable TCP port (0 picks a free one). */
export function checkPort(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw new RangeError(`${name} must be an integer from 0 to 65535, got ${String(value)}`)
  }
  return value
}

/** How long a stub keeps an idle keep-alive connection open. */
const STUB_KEEP_ALIVE_MS = 60_000

/** Records every request, reads its body, and hands it to `handle` on a server listening at host:port. */
export async function startServer(
  host: string,
  port: number,
  received: ReceivedRequest[],
  handle: Handler,
): Promise<RunningServer> {
  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    void serve(req, res, received, handle)
  })
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  // Node closes an idle keep-alive socket after 5 s and tells clients so;
  // undici stops reusing it 2 s before. A client process lagging more than
  // that on a busy machine sends its next request into the closing socket
  // ("other side closed") and renders a fallback the test did not ask for.
  // Real vendors sit behind load balancers with long idle timeouts; so do
  // the stubs, and `close()` ends idle sockets at once anyway.
  server.keepAliveTimeout = STUB_KEEP_ALIVE_MS
  await listen(server, host, port)
  const { port: bound } = server.address() as AddressInfo
  const urlHost = host.includes(':') ? `[${host}]` : host
  return { server, url: `http://${urlHost}:${bound}`, close: () => closeServer(server, sockets) }
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  received: ReceivedRequest[],
  handle: Handler,
): Promise<void> {
  const entry = recordRequest(req)
  received.push(entry)
  try {
    const body = await readBody(req)
    if (body === undefined) {
      sendJson(res, 413, { error: 'request body too large' }, { connection: 'close' })
      return
    }
    entry.body = body
    await handle(entry, res)
  } catch {
    // The cause may quote request data (a token, a key): answer a fixed body instead.
    if (res.headersSent) res.destroy()
    else sendJson(res, 500, { error: 'internal error' })
  }
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  return new Promise((resolve) => {
    // server.close() only waits for connections to end; keep-alive and upgraded sockets
    // never do on their own, so destroy them. A second close() must still resolve.
    server.close(() => resolve())
    for (const socket of sockets) socket.destroy()
  })
}
