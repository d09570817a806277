/**
 * A local stand-in for the made-up Acme Help API, on loopback: what the
 * example's tests (and an app's development server) talk to instead of the
 * real vendor. `POST /v1/sessions` with the right bearer key answers a fresh
 * session token; `GET /panel.js` is the panel's script.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface AcmeStub {
  url: string
  /** Every session minted: the user it was for and its token. */
  sessions: { userId: string; topic: string; token: string }[]
  /** From now on, answer every session request with this status (0: answer normally). */
  failWith(status: number): void
  close(): Promise<void>
}

export async function startAcmeStub(apiKey: string): Promise<AcmeStub> {
  const sessions: AcmeStub['sessions'] = []
  let failure = 0
  const server = createServer((req, res) => {
    void answer(req, res).catch(() => send(res, 500, { error: 'stub failure' }))
  })
  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET' && req.url === '/panel.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' })
      res.end("customElements.define('acme-help-panel', class extends HTMLElement {})\n")
      return
    }
    if (req.method !== 'POST' || req.url !== '/v1/sessions') return send(res, 404, { error: 'not found' })
    const body = await readBody(req)
    if (failure) return send(res, failure, { error: 'failing on purpose' })
    if (req.headers.authorization !== `Bearer ${apiKey}`) return send(res, 401, { error: 'bad key' })
    const { userId, topic } = JSON.parse(body) as { userId?: unknown; topic?: unknown }
    if (typeof userId !== 'string' || typeof topic !== 'string') return send(res, 400, { error: 'bad body' })
    const token = randomBytes(24).toString('base64url')
    sessions.push({ userId, topic, token })
    send(res, 200, { sessionToken: token })
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    sessions,
    failWith: (status) => void (failure = status),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

function send(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = ''
  for await (const chunk of req) {
    text += String(chunk)
    if (text.length > 10_000) throw new Error('body too large')
  }
  return text
}
