/**
 * Local stand-in for Caramelo AI's authenticated (server-to-server) flow: the intranet-auth API
 * that mints a single-use token, the authenticated SDK that opens the chat WebSocket with it,
 * the WebSocket itself, and the public SDK (which a correct page never loads).
 */
import { createHash, randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import type { RawData, WebSocket } from 'ws'
import {
  checkLatency,
  checkPort,
  checkSecret,
  checkUrlSafe,
  mediaType,
  notFound,
  recordRequest,
  secretMatches,
  send,
  sendAnswer,
  sendJson,
  startServer,
  waitLatency,
} from './http.ts'
import type { ReceivedRequest, StubAnswer } from './http.ts'
import { AnswerGate, type Hold } from './hold.ts'

/** Options of {@link startCarameloStub}. */
export interface CarameloStubOptions {
  /** Value expected in the body's `secret_token`. */
  secretToken: string
  /**
   * Project id accepted in the intranet-auth path and in the WebSocket's auth message; URL-safe characters only.
   * @example 'demo-project'
   */
  projectId: string
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string
  /** Port to listen on; 0 picks a free one. @default 0 */
  port?: number
  /** Delay added before every answer of the intranet-auth API. @default 0 */
  latencyMs?: number
}

/** A token the stub minted, with the identity it was minted for. */
export interface CarameloMintedToken {
  /** The `real_time_access_token` as answered. */
  token: string
  /** The body's `external_customer_id`. */
  externalCustomerId: string
  /** The body's `name`; the WebSocket greets with it. */
  name: string
  /** The body's `email`. */
  email: string
  /** The body's `lang`. */
  lang: string
  /** When a WebSocket was accepted with the token (ms since the epoch); `null` while unused. */
  usedAt: number | null
}

/** One WebSocket auth attempt. */
export interface CarameloSocketAttempt {
  /** The token presented; `''` when the message carried none. */
  token: string
  /** Whether the stub greeted (true) or rejected and closed (false). */
  accepted: boolean
  /** Attempt time in milliseconds since the epoch. */
  at: number
}

/** A running Caramelo AI stub. */
export interface CarameloStub {
  /** API base URL without a trailing slash — what `CARAMELO_API_URL` is set to. */
  apiUrl: string
  /** `${apiUrl}/sdk/latest/authenticated.js` — what `CARAMELO_SDK_URL` is set to. */
  sdkUrl: string
  /** Every HTTP request, the WebSocket upgrade included, in arrival order. */
  received: ReceivedRequest[]
  /** Every token minted, in order. */
  minted: CarameloMintedToken[]
  /** Every WebSocket auth attempt, in order. */
  sockets: CarameloSocketAttempt[]
  /** Changes the delay of later intranet-auth answers. */
  setLatency(ms: number): void
  /**
   * Test hook: intranet-auth answers this `real_time_access_token` instead of a random one, after
   * the usual checks. Each answer is recorded in `minted` and is accepted once by the WebSocket,
   * like a minted token; `undefined` mints again.
   */
  setTokenOverride(token: string | undefined): void
  /**
   * Test hook: intranet-auth answers exactly this (after the latency, before any check) and mints
   * nothing, e.g. a 500 or a body that is not JSON; `undefined` restores the real flow.
   */
  setAuthAnswer(answer: StubAnswer | undefined): void
  /**
   * Test hook: every later intranet-auth answer waits (after the latency) until the returned hold
   * is released, so a test can look at a page while this vendor is still answering.
   */
  hold(): Hold
  /** Closes the server, all open connections and all WebSockets. */
  close(): Promise<void>
}

interface ResolvedCarameloStubOptions {
  secretToken: string
  projectId: string
  host: string
  port: number
  latencyMs: number
}

interface CarameloState {
  options: ResolvedCarameloStubOptions
  minted: CarameloMintedToken[]
  byToken: Map<string, CarameloMintedToken>
  sockets: CarameloSocketAttempt[]
  latencyMs: number
  /** Test hooks; `undefined` is the vendor's own behaviour. */
  tokenOverride: string | undefined
  authAnswer: StubAnswer | undefined
  /** Test hook: answers held until the test releases them. */
  gate: AnswerGate
}

const IDENTITY_FIELDS = ['external_customer_id', 'name', 'email', 'lang'] as const
const SDK_PATH = '/sdk/latest/authenticated.js'
const PUBLIC_SDK_PATH = '/sdk/latest/index.js'
const JS = 'application/javascript; charset=utf-8'

/** Starts a Caramelo AI stub on loopback; close it with `close()`. */
export async function startCarameloStub(options: CarameloStubOptions): Promise<CarameloStub> {
  const resolved = resolveOptions(options)
  const state: CarameloState = {
    options: resolved,
    minted: [],
    byToken: new Map(),
    sockets: [],
    latencyMs: resolved.latencyMs,
    tokenOverride: undefined,
    authAnswer: undefined,
    gate: new AnswerGate(),
  }
  const received: ReceivedRequest[] = []
  const running = await startServer(resolved.host, resolved.port, received, (entry, res) => route(state, entry, res))
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 })
  wss.on('connection', (socket) => onConnection(state, socket))
  running.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const entry = recordRequest(req)
    received.push(entry)
    // A client that resets mid-handshake must not crash the stub with an unhandled 'error'.
    socket.on('error', () => socket.destroy())
    if (entry.path !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
  })
  return {
    apiUrl: running.url,
    sdkUrl: `${running.url}${SDK_PATH}`,
    received,
    minted: state.minted,
    sockets: state.sockets,
    setLatency(ms) {
      state.latencyMs = checkLatency('latency', ms)
    },
    setTokenOverride(token) {
      state.tokenOverride = token
    },
    setAuthAnswer(answer) {
      state.authAnswer = answer
    },
    hold: () => state.gate.hold(),
    async close() {
      // Destroying the sockets would end the chats too; terminating first also clears ws's client set.
      for (const client of wss.clients) client.terminate()
      wss.close()
      await running.close()
    },
  }
}

function resolveOptions(options: CarameloStubOptions): ResolvedCarameloStubOptions {
  return {
    secretToken: checkSecret('options.secretToken', options.secretToken),
    projectId: checkUrlSafe('options.projectId', options.projectId),
    host: options.host ?? '127.0.0.1',
    port: checkPort('options.port', options.port ?? 0),
    latencyMs: checkLatency('options.latencyMs', options.latencyMs ?? 0),
  }
}

async function route(state: CarameloState, entry: ReceivedRequest, res: ServerResponse): Promise<void> {
  if (entry.method === 'GET' && entry.path === SDK_PATH) return send(res, 200, JS, AUTHENTICATED_SDK)
  if (entry.method === 'GET' && entry.path === PUBLIC_SDK_PATH) return send(res, 200, JS, PUBLIC_SDK)
  const match = /^\/api\/chatbox\/project\/([^/]+)\/intranet-auth$/.exec(entry.path)
  if (entry.method === 'POST' && match?.[1] !== undefined) return intranetAuth(state, match[1], entry, res)
  return notFound(res)
}

async function intranetAuth(
  state: CarameloState,
  projectId: string,
  entry: ReceivedRequest,
  res: ServerResponse,
): Promise<void> {
  if (!(await waitLatency(res, state.latencyMs))) return
  if (!(await state.gate.pass(res))) return
  if (state.authAnswer) return sendAnswer(res, state.authAnswer)
  if (mediaType(entry.headers['content-type']) !== 'application/json') {
    return sendJson(res, 415, { error: 'content-type must be application/json' })
  }
  const body = parseObject(entry.body)
  if (body === undefined) return sendJson(res, 400, { error: 'body must be a JSON object' })
  const secret = typeof body['secret_token'] === 'string' ? body['secret_token'] : undefined
  if (!secretMatches(secret, state.options.secretToken)) return sendJson(res, 401, { error: 'invalid secret token' })
  if (projectId !== state.options.projectId) return sendJson(res, 404, { error: 'unknown project' })
  const invalid = IDENTITY_FIELDS.find((field) => typeof body[field] !== 'string' || body[field] === '')
  if (invalid !== undefined) return sendJson(res, 422, { error: 'field must be a non-empty string', field: invalid })
  const record: CarameloMintedToken = {
    token: state.tokenOverride ?? randomBytes(24).toString('base64url'),
    externalCustomerId: String(body['external_customer_id']),
    name: String(body['name']),
    email: String(body['email']),
    lang: String(body['lang']),
    usedAt: null,
  }
  state.minted.push(record)
  state.byToken.set(record.token, record)
  sendJson(res, 200, {
    real_time_access_token: record.token,
    customer_id: customerId(state.options.projectId, record.externalCustomerId),
    chat: { id: `chat_${randomBytes(8).toString('hex')}` },
    chatbot: { name: 'Caramelo' },
  })
}

/** Stable per project and customer, like the vendor's, without revealing the external id. */
function customerId(projectId: string, externalCustomerId: string): string {
  return `cus_${createHash('sha256').update(`${projectId}\n${externalCustomerId}`).digest('hex').slice(0, 24)}`
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

/** The first message must authenticate; anything else is an attempt that fails. */
function onConnection(state: CarameloState, socket: WebSocket): void {
  socket.once('message', (data: RawData, isBinary: boolean) => {
    const message = isBinary || !Buffer.isBuffer(data) ? undefined : parseObject(data.toString('utf8'))
    const token = typeof message?.['token'] === 'string' ? message['token'] : ''
    const record = message?.['type'] === 'auth' ? state.byToken.get(token) : undefined
    const accepted =
      record !== undefined && record.usedAt === null && message?.['project_id'] === state.options.projectId
    state.sockets.push({ token, accepted, at: Date.now() })
    if (!accepted || record === undefined) {
      socket.send(JSON.stringify({ type: 'error' }))
      socket.close(1008, 'unauthorized')
      return
    }
    record.usedAt = Date.now()
    socket.send(JSON.stringify({ type: 'greeting', text: `Hi ${record.name}! How can I help?` }))
  })
  // A client that vanishes mid-handshake must not crash the stub.
  socket.on('error', () => socket.terminate())
}

/**
 * Browser code, kept as plain source text. The WebSocket goes to the host the script itself
 * came from, so the stub works on whatever port it was given.
 */
const AUTHENTICATED_SDK = `(function () {
  'use strict';
  var script = document.currentScript;
  var box = document.createElement('div');
  box.id = 'carameloai-chatbot';
  box.setAttribute('role', 'complementary');
  box.setAttribute('aria-label', 'Chatbot');
  box.style.cssText = 'position:fixed;right:16px;bottom:16px;max-width:320px;padding:12px 16px;' +
    'border-radius:12px;background:#ffb020;color:#1b1d21;font:15px/1.4 system-ui,sans-serif;z-index:2147483647';
  function show(text) {
    box.textContent = text;
  }
  function mount() {
    document.body.appendChild(box);
  }
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
  var config = window.carameloaiChatbot;
  if (!config || typeof config.secure_connection_token !== 'string' || !config.secure_connection_token ||
      typeof config.project_id !== 'string' || !config.project_id || !script || !script.src) {
    show('Chatbot error: not configured');
    return;
  }
  var src = new URL(script.src);
  var socket = new WebSocket((src.protocol === 'https:' ? 'wss://' : 'ws://') + src.host + '/ws');
  var settled = false;
  show('Connecting…');
  socket.onopen = function () {
    socket.send(JSON.stringify({ type: 'auth', token: config.secure_connection_token, project_id: config.project_id }));
  };
  socket.onmessage = function (event) {
    var message = {};
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      message = { type: 'error' };
    }
    settled = true;
    if (message.type === 'greeting' && typeof message.text === 'string') show(message.text);
    else show('Chatbot error');
  };
  // A socket that never answers (refused, dropped) must not leave the box saying "Connecting…".
  socket.onerror = socket.onclose = function () {
    if (!settled) show('Chatbot error');
    settled = true;
  };
})();
`

/** The vendor's public SDK: a page of ours must never load it, and this makes that visible. */
const PUBLIC_SDK = `(function () {
  'use strict';
  var box = document.createElement('div');
  box.id = 'carameloai-chatbot';
  box.setAttribute('role', 'complementary');
  box.setAttribute('aria-label', 'Chatbot');
  box.textContent = 'Chatbot error: public SDK loaded';
  function mount() {
    document.body.appendChild(box);
  }
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
})();
`
