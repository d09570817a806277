/**
 * Local stand-in for Returning.AI's server-side proxy flow: the signin API that mints a
 * user-scoped JWT, the widget document with its `token: ""` placeholder, the widget's script,
 * and the `/api/me` endpoint that script calls with the token.
 */
import { randomUUID } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { SignJWT, jwtVerify } from 'jose'
import {
  checkLatency,
  checkPort,
  checkPositiveInteger,
  checkSecret,
  checkUrlSafe,
  jwtKey,
  mediaType,
  notFound,
  secretMatches,
  send,
  sendAnswer,
  sendJson,
  startServer,
  waitLatency,
} from './http.ts'
import type { ReceivedRequest, StubAnswer } from './http.ts'
import { AnswerGate, type Hold } from './hold.ts'

/** Options of {@link startReturningStub}. */
export interface ReturningStubOptions {
  /** Value expected in the `returningai-api-key` header. */
  apiKey: string
  /**
   * Community id accepted in the signin path; URL-safe characters only.
   * @example 'demo-community'
   */
  communityId: string
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string
  /** Port to listen on; 0 picks a free one. @default 0 */
  port?: number
  /** HS256 secret for minted JWTs. @default 32 random bytes */
  jwtSecret?: Uint8Array | string
  /** Lifetime of minted JWTs; the vendor's are about 5 minutes. @default 300 */
  tokenTtlSeconds?: number
  /** Delay added before every answer of the signin API and the widget page. @default 0 */
  latencyMs?: number
  /**
   * `Cache-Control` sent with the widget page. The vendor's documented page states none, so a
   * caching runtime applies its own freshness; tests that swap the page set `'no-store'`.
   * @default none
   */
  widgetPageCacheControl?: string
}

/** A JWT the stub minted, for tests to find in pages and traffic. */
export interface ReturningMintedToken {
  /** The JWT as answered. */
  token: string
  /** The `email` header it was minted for. */
  email: string
  /** Mint time in milliseconds since the epoch. */
  at: number
}

/** A running Returning.AI stub. */
export interface ReturningStub {
  /** Base URL without a trailing slash — what `WIDGET_BASE_URL` is set to. */
  url: string
  /** Every HTTP request, in arrival order. */
  received: ReceivedRequest[]
  /** Every JWT minted, in order. */
  minted: ReturningMintedToken[]
  /** Changes the delay of later signin and widget-page answers. */
  setLatency(ms: number): void
  /**
   * Test hook: serve `html` as every widget document (sent with `cache-control: no-store`) instead
   * of the vendor's own, e.g. a hostile page; `undefined` restores the vendor's page.
   */
  setWidgetPage(html: string | undefined): void
  /**
   * Test hook: the signin API answers `{ "token": token }` with this value instead of a minted JWT,
   * after the usual checks, and records it in `minted` for the email asked; `undefined` mints again.
   */
  setTokenOverride(token: string | undefined): void
  /**
   * Test hook: the signin API answers exactly this (after the latency, before any check) and
   * mints nothing, e.g. a 500 or a body that is not JSON; `undefined` restores the real flow.
   */
  setSigninAnswer(answer: StubAnswer | undefined): void
  /**
   * Test hook: every later signin and widget-page answer waits (after the latency) until the
   * returned hold is released, so a test can look at a page while this vendor is still answering.
   */
  hold(): Hold
  /** Closes the server and all open connections. */
  close(): Promise<void>
}

interface ResolvedReturningStubOptions {
  apiKey: string
  communityId: string
  host: string
  port: number
  jwtSecret: Uint8Array
  tokenTtlSeconds: number
  latencyMs: number
  widgetPageCacheControl: string | undefined
}

interface ReturningState {
  options: ResolvedReturningStubOptions
  minted: ReturningMintedToken[]
  latencyMs: number
  /** Test hooks; `undefined` is the vendor's own behaviour. */
  widgetPage: string | undefined
  tokenOverride: string | undefined
  signinAnswer: StubAnswer | undefined
  /** Test hook: answers held until the test releases them. */
  gate: AnswerGate
}

/** The widget types the vendor documents. */
const WIDGET_TYPES: ReadonlySet<string> = new Set(['store', 'channel', 'milestone', 'social', 'currency', 'minigames'])
const WIDGET_ID = /^[A-Za-z0-9_-]{1,64}$/
/** Printable ASCII, one `@`, a dot in the domain: strict enough to catch a wrong header value. */
const EMAIL = /^[\x21-\x3f\x41-\x7e]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/
const ISSUER = 'returning-stub'

/** Starts a Returning.AI stub on loopback; close it with `close()`. */
export async function startReturningStub(options: ReturningStubOptions): Promise<ReturningStub> {
  const resolved = resolveOptions(options)
  const state: ReturningState = {
    options: resolved,
    minted: [],
    latencyMs: resolved.latencyMs,
    widgetPage: undefined,
    tokenOverride: undefined,
    signinAnswer: undefined,
    gate: new AnswerGate(),
  }
  const received: ReceivedRequest[] = []
  const running = await startServer(resolved.host, resolved.port, received, (entry, res) => route(state, entry, res))
  return {
    url: running.url,
    received,
    minted: state.minted,
    setLatency(ms) {
      state.latencyMs = checkLatency('latency', ms)
    },
    setWidgetPage(html) {
      state.widgetPage = html
    },
    setTokenOverride(token) {
      state.tokenOverride = token
    },
    setSigninAnswer(answer) {
      state.signinAnswer = answer
    },
    hold: () => state.gate.hold(),
    close: () => running.close(),
  }
}

function resolveOptions(options: ReturningStubOptions): ResolvedReturningStubOptions {
  return {
    apiKey: checkSecret('options.apiKey', options.apiKey),
    communityId: checkUrlSafe('options.communityId', options.communityId),
    host: options.host ?? '127.0.0.1',
    port: checkPort('options.port', options.port ?? 0),
    jwtSecret: jwtKey(options.jwtSecret),
    tokenTtlSeconds: checkPositiveInteger('options.tokenTtlSeconds', options.tokenTtlSeconds ?? 300),
    latencyMs: checkLatency('options.latencyMs', options.latencyMs ?? 0),
    widgetPageCacheControl: options.widgetPageCacheControl,
  }
}

async function route(state: ReturningState, entry: ReceivedRequest, res: ServerResponse): Promise<void> {
  const [, first, second, third, ...rest] = entry.path.split('/')
  if (entry.path === '/api/me') return me(state, entry, res)
  if (rest.length > 0 || first === undefined || second === undefined) return notFound(res)
  if (first === 'widget' && third === 'signin' && entry.method === 'POST') return signin(state, second, entry, res)
  if (entry.method !== 'GET' || !WIDGET_TYPES.has(first)) return notFound(res)
  if (second === 'assets' && third === 'widget.js')
    return send(res, 200, 'application/javascript; charset=utf-8', WIDGET_SCRIPT)
  if (third !== undefined || !WIDGET_ID.test(second)) return notFound(res)
  return widgetPage(state, first, second, entry, res)
}

async function signin(
  state: ReturningState,
  communityId: string,
  entry: ReceivedRequest,
  res: ServerResponse,
): Promise<void> {
  if (!(await waitLatency(res, state.latencyMs))) return
  if (!(await state.gate.pass(res))) return
  if (state.signinAnswer) return sendAnswer(res, state.signinAnswer)
  const { options } = state
  if (!secretMatches(entry.headers['returningai-api-key'], options.apiKey))
    return sendJson(res, 401, { error: 'invalid api key' })
  if (communityId !== options.communityId) return sendJson(res, 404, { error: 'unknown community' })
  if (mediaType(entry.headers['content-type']) !== 'application/json') {
    return sendJson(res, 415, { error: 'content-type must be application/json' })
  }
  const email = entry.headers['email']
  if (email === undefined || email.length > 254 || !EMAIL.test(email))
    return sendJson(res, 400, { error: 'invalid email header' })
  const token = state.tokenOverride ?? (await mint(options, email))
  state.minted.push({ token, email, at: Date.now() })
  sendJson(res, 200, { token })
}

function mint(options: ResolvedReturningStubOptions, email: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  // A random jti keeps two tokens minted in the same second for the same user distinct,
  // so a test can tell which render a token came from.
  return new SignJWT({ email })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(email)
    .setIssuer(ISSUER)
    .setIssuedAt(now)
    .setExpirationTime(now + options.tokenTtlSeconds)
    .setJti(randomUUID())
    .sign(options.jwtSecret)
}

async function widgetPage(
  state: ReturningState,
  type: string,
  id: string,
  entry: ReceivedRequest,
  res: ServerResponse,
): Promise<void> {
  const color = entry.query['color'] ?? 'light'
  if (color !== 'light' && color !== 'dark') return sendJson(res, 400, { error: 'color must be light or dark' })
  if (!(await waitLatency(res, state.latencyMs))) return
  if (!(await state.gate.pass(res))) return
  if (state.widgetPage !== undefined) {
    return send(res, 200, 'text/html; charset=utf-8', state.widgetPage, { 'cache-control': 'no-store' })
  }
  const cacheControl = state.options.widgetPageCacheControl
  send(
    res,
    200,
    'text/html; charset=utf-8',
    renderWidgetPage(type, id, color),
    cacheControl === undefined ? {} : { 'cache-control': cacheControl },
  )
}

/** The widget's script calls this cross-origin from a sandboxed (origin `null`) frame, hence CORS `*`. */
async function me(state: ReturningState, entry: ReceivedRequest, res: ServerResponse): Promise<void> {
  const cors = { 'access-control-allow-origin': '*' }
  if (entry.method === 'OPTIONS') {
    res.writeHead(204, {
      ...cors,
      'access-control-allow-headers': 'authorization',
      'access-control-allow-methods': 'GET',
      'access-control-max-age': '600',
    })
    res.end()
    return
  }
  if (entry.method !== 'GET') return notFound(res, cors)
  const match = /^Bearer ([A-Za-z0-9._-]+)$/.exec(entry.headers['authorization'] ?? '')
  const email = match?.[1] === undefined ? undefined : await verifiedEmail(state, match[1])
  if (email === undefined) return sendJson(res, 401, { error: 'invalid token' }, cors)
  sendJson(res, 200, { email }, cors)
}

async function verifiedEmail(state: ReturningState, token: string): Promise<string | undefined> {
  try {
    const { payload } = await jwtVerify(token, state.options.jwtSecret, { algorithms: ['HS256'], issuer: ISSUER })
    return typeof payload['email'] === 'string' ? payload['email'] : undefined
  } catch {
    return undefined
  }
}

const STYLES = {
  light:
    'body{margin:0;padding:16px;font:16px/1.4 system-ui,sans-serif;background:#ffffff;color:#1b1d21}h1{font-size:1.1rem;margin:0 0 8px}',
  dark: 'body{margin:0;padding:16px;font:16px/1.4 system-ui,sans-serif;background:#16181d;color:#f1f2f4}h1{font-size:1.1rem;margin:0 0 8px}',
} as const

/**
 * The same document for every user. `type` and `id` have passed the allowlist / strict
 * character set, so they need no escaping in HTML or in a JavaScript string.
 */
function renderWidgetPage(type: string, id: string, color: 'light' | 'dark'): string {
  const init = `{ token: "", widgetType: ${JSON.stringify(type)}, widgetId: ${JSON.stringify(id)}, color: ${JSON.stringify(color)} }`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="${color}">
<title>Returning.AI ${type} widget</title>
<style>${STYLES[color]}</style>
</head>
<body>
<main>
<h1>Returning.AI ${type} widget</h1>
<p id="widget-status" role="status">Loading…</p>
</main>
<script>window.__WIDGET_INIT__ = ${init};</script>
<script src="assets/widget.js"></script>
</body>
</html>
`
}

/**
 * Browser code, kept as plain source text. The page lives in an `<iframe srcdoc>` with a
 * `<base href>` and an opaque origin, so the API origin comes from the script's own URL.
 */
const WIDGET_SCRIPT = `(function () {
  'use strict';
  var status = document.getElementById('widget-status');
  function show(text) {
    if (status) status.textContent = text;
  }
  var init = window.__WIDGET_INIT__ || {};
  var token = typeof init.token === 'string' ? init.token : '';
  if (!token) {
    show('Widget error: no token');
    return;
  }
  var script = document.currentScript;
  if (!script || !script.src) {
    show('Widget error: no script URL');
    return;
  }
  var origin = new URL(script.src).origin;
  fetch(origin + '/api/me', { headers: { authorization: 'Bearer ' + token } })
    .then(function (res) {
      if (res.status !== 200) {
        show('Widget error: ' + res.status);
        return undefined;
      }
      return res.json().then(function (me) {
        show('Signed in as ' + me.email);
      });
    })
    .catch(function () {
      show('Widget error: network');
    });
})();
`
