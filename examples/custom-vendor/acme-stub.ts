/**
 * A local stand-in for the made-up Acme Help API, on loopback: what the
 * example's tests (and an app's development server) talk to instead of the
 * real vendor. `POST /v1/sessions` with the right bearer key answers a fresh
 * session token; `GET /panel.js` is the panel's script. `acmeHelpStub` is the
 * same stub as the testing kit takes it: started with the secret it is given,
 * and telling the kit what it minted for whom.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { LocalVendorStarter, ReceivedRequest } from 'vite-plugin-eta-embeds/stubs'

export interface AcmeStub {
  url: string
  /** Every session minted: the user it was for and its token. */
  sessions: { userId: string; topic: string; token: string }[]
  /** Every request, in arrival order. */
  received: ReceivedRequest[]
  /** From now on, answer every session request with this status (0: answer normally). */
  failWith(status: number): void
  close(): Promise<void>
}

export async function startAcmeStub(apiKey: string): Promise<AcmeStub> {
  const sessions: AcmeStub['sessions'] = []
  const received: ReceivedRequest[] = []
  let failure = 0
  const server = createServer((req, res) => {
    void answer(req, res).catch(() => send(res, 500, { error: 'stub failure' }))
  })
  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const entry = record(req)
    received.push(entry)
    if (req.method === 'GET' && req.url === '/panel.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' })
      res.end("customElements.define('acme-help-panel', class extends HTMLElement {})\n")
      return
    }
    if (req.method !== 'POST' || req.url !== '/v1/sessions') return send(res, 404, { error: 'not found' })
    const body = await readBody(req)
    entry.body = body
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
    received,
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

/** A request as the kit's witnesses list them: lower-case headers, the query apart, the body once read. */
function record(req: IncomingMessage): ReceivedRequest {
  const url = new URL(req.url ?? '/', 'http://stub')
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value
  }
  const query = Object.fromEntries(url.searchParams)
  return { method: req.method ?? 'GET', path: url.pathname, query, headers, body: '', at: Date.now() }
}

/**
 * Acme's stub as the testing kit starts it (`embedsOptions.vendors: [{ adapter: acmeHelp, stub: acmeHelpStub }]`),
 * and as a development server could: with the key it is given (the kit's canary), else a random one.
 */
export const acmeHelpStub: LocalVendorStarter = async (_env, options) => {
  const apiKey = options?.secrets?.['ACME_HELP_API_KEY'] ?? randomBytes(24).toString('base64url')
  const stub = await startAcmeStub(apiKey)
  return {
    env: { ACME_HELP_API_KEY: apiKey, ACME_HELP_URL: stub.url },
    url: stub.url,
    witness: {
      vendor: 'acme-help',
      url: stub.url,
      // The server tells Acme only the user's id.
      minted: () => stub.sessions.map((s) => ({ token: s.token, user: { id: s.userId } })),
      received: () => stub.received,
      // The panel's script sends its session token nowhere: the page is its only place.
      token: { uses: [] },
    },
    close: () => stub.close(),
  }
}
