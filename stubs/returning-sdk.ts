/**
 * Local stand-in for Returning.AI's Widget SDK with Access Key Embed: the token API that trades an
 * access key pair and `data-*` user identifiers for a 15-minute embed token, the validate API the SDK
 * calls from the browser, and the SDK script that defines the `<rai-…-widget>` elements.
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
import { VALIDATE_PATH, sdkScript } from './returning-sdk-script.ts'

/** Options of {@link startReturningSdkStub}. */
export interface ReturningSdkStubOptions {
  /** Value expected in the token request's `accessId`. */
  accessId: string
  /** Value expected in the token request's `accessKey`. */
  accessKey: string
  /**
   * Community the access key belongs to, put into every token and answered by validate; URL-safe characters only.
   * @example 'demo-community'
   */
  communityId: string
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string
  /** Port to listen on; 0 picks a free one. @default 0 */
  port?: number
  /** HS256 secret for minted embed tokens. @default 32 random bytes */
  jwtSecret?: Uint8Array | string
  /** Lifetime of minted embed tokens; the vendor's are 15 minutes. @default 900 */
  tokenTtlSeconds?: number
  /** Delay added before every answer of the token and validate APIs. @default 0 */
  latencyMs?: number
  /**
   * The `data-*` user identifier fields configured for the widget at the vendor; a token request
   * naming any other is refused.
   * @default ['data-email', 'data-user-id']
   */
  identifierNames?: string[]
  /**
   * Clock in milliseconds since the epoch, for minting and for expiry checks, so a test can let a
   * token expire without waiting for it.
   * @default Date.now
   */
  now?: () => number
}

/** An embed token the stub answered, with the identity it carries. */
export interface ReturningSdkMintedToken {
  /** The `embedToken` as answered. */
  token: string
  /** The request's `userIdentifiers`. */
  identifiers: Record<string, string>
  /** Mint time in milliseconds since the epoch, by the stub's clock. */
  at: number
}

/** One validate request that carried a token. */
export interface ReturningSdkValidation {
  /** The `embedToken` presented. */
  token: string
  /** Whether the stub answered 200 `valid: true`. */
  valid: boolean
  /** The request's `Origin` header; `undefined` when it had none. */
  origin: string | undefined
  /** Validation time in milliseconds since the epoch, by the stub's clock. */
  at: number
}

/** A running Returning.AI Widget SDK stub. */
export interface ReturningSdkStub {
  /** API base URL without a trailing slash — what `RAI_V2_API_URL` is set to. */
  apiUrl: string
  /** `${apiUrl}/sdk/widget-sdk.js` — what `RAI_SDK_URL` is set to. */
  sdkUrl: string
  /** Every HTTP request, in arrival order. */
  received: ReceivedRequest[]
  /** Every embed token answered, overrides included, in order. */
  minted: ReturningSdkMintedToken[]
  /** Every validate request that carried a token, in order. */
  validated: ReturningSdkValidation[]
  /** Changes the delay of later token and validate answers. */
  setLatency(ms: number): void
  /**
   * Test hook: the token API answers this `embedToken` instead of a minted JWT, after the usual
   * checks, and records it in `minted`; validate accepts it for `tokenTtlSeconds`, like a minted
   * token, so a hostile value can be followed all the way into the widget. `undefined` mints again.
   */
  setTokenOverride(token: string | undefined): void
  /**
   * Test hook: the token API answers exactly this (after the latency, before any check) and mints
   * nothing, e.g. a 500 or a body that is not JSON; `undefined` restores the real flow.
   */
  setTokenAnswer(answer: StubAnswer | undefined): void
  /**
   * Test hook: every later token and validate answer waits (after the latency) until the returned
   * hold is released, so a test can look at a page while this vendor is still answering.
   */
  hold(): Hold
  /** Closes the server and all open connections. */
  close(): Promise<void>
}

interface ResolvedReturningSdkStubOptions {
  accessId: string
  accessKey: string
  communityId: string
  host: string
  port: number
  jwtSecret: Uint8Array
  tokenTtlSeconds: number
  latencyMs: number
  identifierNames: ReadonlySet<string>
  now: () => number
}

interface ReturningSdkState {
  options: ResolvedReturningSdkStubOptions
  minted: ReturningSdkMintedToken[]
  validated: ReturningSdkValidation[]
  /** Override tokens by value: they are not JWTs of ours, so validate looks them up instead. */
  overrides: Map<string, ReturningSdkMintedToken>
  latencyMs: number
  /** Test hooks; `undefined` is the vendor's own behaviour. */
  tokenOverride: string | undefined
  tokenAnswer: StubAnswer | undefined
  /** Test hook: answers held until the test releases them. */
  gate: AnswerGate
}

/** The vendor's rule for identifier keys, with a length bound so a key is safe to quote in an error. */
const IDENTIFIER_NAME = /^data-[a-z0-9-]{1,59}$/
const MAX_IDENTIFIER_VALUE = 256
const ISSUER = 'returning-sdk-stub'
const TOKEN_PATH = '/v2/api/widget-access-keys/token'
const SDK_PATH = '/sdk/widget-sdk.js'

/** Starts a Returning.AI Widget SDK stub on loopback; close it with `close()`. */
export async function startReturningSdkStub(options: ReturningSdkStubOptions): Promise<ReturningSdkStub> {
  const resolved = resolveOptions(options)
  const state: ReturningSdkState = {
    options: resolved,
    minted: [],
    validated: [],
    overrides: new Map(),
    latencyMs: resolved.latencyMs,
    tokenOverride: undefined,
    tokenAnswer: undefined,
    gate: new AnswerGate(),
  }
  const received: ReceivedRequest[] = []
  let script = ''
  const running = await startServer(resolved.host, resolved.port, received, (entry, res) =>
    route(state, script, entry, res),
  )
  // The SDK validates at the stub's own origin by default, and that is only known once listening.
  script = sdkScript(running.url)
  return {
    apiUrl: running.url,
    sdkUrl: `${running.url}${SDK_PATH}`,
    received,
    minted: state.minted,
    validated: state.validated,
    setLatency(ms) {
      state.latencyMs = checkLatency('latency', ms)
    },
    setTokenOverride(token) {
      state.tokenOverride = token
    },
    setTokenAnswer(answer) {
      state.tokenAnswer = answer
    },
    hold: () => state.gate.hold(),
    close: () => running.close(),
  }
}

function resolveOptions(options: ReturningSdkStubOptions): ResolvedReturningSdkStubOptions {
  return {
    // The access pair is a credential: messages never quote it.
    accessId: checkSecret('options.accessId', options.accessId),
    accessKey: checkSecret('options.accessKey', options.accessKey),
    communityId: checkUrlSafe('options.communityId', options.communityId),
    host: options.host ?? '127.0.0.1',
    port: checkPort('options.port', options.port ?? 0),
    jwtSecret: jwtKey(options.jwtSecret),
    tokenTtlSeconds: checkPositiveInteger('options.tokenTtlSeconds', options.tokenTtlSeconds ?? 900),
    latencyMs: checkLatency('options.latencyMs', options.latencyMs ?? 0),
    identifierNames: checkIdentifierNames(options.identifierNames ?? ['data-email', 'data-user-id']),
    now: checkClock(options.now ?? Date.now),
  }
}

function checkClock(now: unknown): () => number {
  if (typeof now !== 'function') {
    throw new TypeError('options.now must be a function returning milliseconds since the epoch')
  }
  return now as () => number
}

function checkIdentifierNames(names: unknown): ReadonlySet<string> {
  if (!Array.isArray(names) || names.length === 0)
    throw new TypeError('options.identifierNames must be a non-empty array of data-* names')
  names.forEach((name: unknown, index) => {
    if (typeof name !== 'string' || !IDENTIFIER_NAME.test(name)) {
      throw new TypeError(`options.identifierNames[${index}] must match ${IDENTIFIER_NAME}, got '${String(name)}'`)
    }
    if (names.indexOf(name) !== index)
      throw new TypeError(`options.identifierNames[${index}] repeats '${name}'; list each name once`)
  })
  return new Set(names as string[])
}

async function route(
  state: ReturningSdkState,
  script: string,
  entry: ReceivedRequest,
  res: ServerResponse,
): Promise<void> {
  if (entry.method === 'GET' && entry.path === SDK_PATH)
    return send(res, 200, 'application/javascript; charset=utf-8', script)
  if (entry.method === 'POST' && entry.path === TOKEN_PATH) return token(state, entry, res)
  if (entry.path === VALIDATE_PATH) return validate(state, entry, res)
  return notFound(res)
}

/** Server-to-server only: it answers no CORS headers, so no browser page can read it. */
async function token(state: ReturningSdkState, entry: ReceivedRequest, res: ServerResponse): Promise<void> {
  if (!(await waitLatency(res, state.latencyMs))) return
  if (!(await state.gate.pass(res))) return
  if (state.tokenAnswer) return sendAnswer(res, state.tokenAnswer)
  const { options } = state
  if (mediaType(entry.headers['content-type']) !== 'application/json')
    return sendJson(res, 415, { error: 'content-type must be application/json' })
  const body = parseObject(entry.body)
  if (body === undefined) return sendJson(res, 400, { error: 'body must be a JSON object' })
  // Both halves are always compared, so the time taken does not tell which one was wrong.
  const idMatches = secretMatches(stringOrUndefined(body['accessId']), options.accessId)
  const keyMatches = secretMatches(stringOrUndefined(body['accessKey']), options.accessKey)
  if (!idMatches || !keyMatches) return sendJson(res, 401, { error: 'invalid access key' })
  const identifiers = checkIdentifiers(options, body['userIdentifiers'])
  if ('error' in identifiers) return sendJson(res, 400, identifiers)
  const at = options.now()
  const embedToken = state.tokenOverride ?? (await mint(options, identifiers.ok, at))
  const record = { token: embedToken, identifiers: identifiers.ok, at }
  state.minted.push(record)
  if (state.tokenOverride !== undefined) state.overrides.set(embedToken, record)
  sendJson(res, 200, { data: { embedToken, expiresIn: options.tokenTtlSeconds } })
}

type IdentifierCheck = { ok: Record<string, string> } | { error: string; identifier?: string; known?: string[] }

/** Error bodies quote only a key that passed {@link IDENTIFIER_NAME}, never a value. */
function checkIdentifiers(options: ResolvedReturningSdkStubOptions, value: unknown): IdentifierCheck {
  const object = asObject(value)
  const entries = object === undefined ? [] : Object.entries(object)
  if (entries.length === 0) return { error: 'userIdentifiers must be an object with at least one data-* identifier' }
  const ok: Record<string, string> = {}
  for (const [name, identifier] of entries) {
    if (!IDENTIFIER_NAME.test(name)) return { error: `userIdentifiers keys must match ${IDENTIFIER_NAME}` }
    if (!options.identifierNames.has(name))
      return { error: 'unknown user identifier', identifier: name, known: [...options.identifierNames] }
    if (typeof identifier !== 'string' || identifier === '' || identifier.length > MAX_IDENTIFIER_VALUE) {
      return { error: `identifier must be a string of 1 to ${MAX_IDENTIFIER_VALUE} characters`, identifier: name }
    }
    ok[name] = identifier
  }
  return { ok }
}

function mint(
  options: ResolvedReturningSdkStubOptions,
  identifiers: Record<string, string>,
  at: number,
): Promise<string> {
  const iat = Math.floor(at / 1000)
  // uid and email are the claims a widget reads most; identifiers keeps every field signed as sent.
  // A random jti keeps two tokens minted in the same second for the same user distinct.
  return new SignJWT({
    uid: identifiers['data-user-id'],
    email: identifiers['data-email'],
    identifiers,
    communityId: options.communityId,
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setIssuedAt(iat)
    .setExpirationTime(iat + options.tokenTtlSeconds)
    .setJti(randomUUID())
    .sign(options.jwtSecret)
}

/**
 * ASSUMPTION: SPEC names the validate endpoint but not its request; the stub takes
 * `POST` with a JSON body `{ "embedToken": "…", "communityId"?: "…" }` (never the URL, where a token
 * would leak into logs and `Referer`). The SDK runs in the host page on another origin, so the
 * request's Origin is echoed; credentials are never allowed, the token alone is the proof.
 */
async function validate(state: ReturningSdkState, entry: ReceivedRequest, res: ServerResponse): Promise<void> {
  const origin = entry.headers['origin']
  const cors = { vary: 'Origin', ...(origin === undefined ? {} : { 'access-control-allow-origin': origin }) }
  if (entry.method === 'OPTIONS') {
    res.writeHead(204, {
      ...cors,
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'content-type, authorization',
      'access-control-max-age': '600',
    })
    res.end()
    return
  }
  if (entry.method !== 'POST') return notFound(res, cors)
  if (!(await waitLatency(res, state.latencyMs))) return
  if (!(await state.gate.pass(res))) return
  if (mediaType(entry.headers['content-type']) !== 'application/json')
    return sendJson(res, 415, { error: 'content-type must be application/json' }, cors)
  const body = parseObject(entry.body)
  const embedToken = body?.['embedToken']
  if (typeof embedToken !== 'string' || embedToken === '')
    return sendJson(res, 400, { error: 'body must be a JSON object with an embedToken string' }, cors)
  const at = state.options.now()
  const identifiers = await verifiedIdentifiers(state, embedToken, at)
  const communityId = body?.['communityId']
  const communityMatches = communityId === undefined || communityId === state.options.communityId
  const valid = identifiers !== undefined && communityMatches
  state.validated.push({ token: embedToken, valid, origin, at })
  if (identifiers === undefined) return sendJson(res, 401, { error: 'invalid embed token' }, cors)
  if (!communityMatches) return sendJson(res, 403, { error: 'embed token is for another community' }, cors)
  sendJson(res, 200, { data: { valid: true, identifiers, communityId: state.options.communityId } }, cors)
}

/** The identifiers a token carries, if this stub answered it and it has not expired at `at`. */
async function verifiedIdentifiers(
  state: ReturningSdkState,
  token: string,
  at: number,
): Promise<Record<string, string> | undefined> {
  const { options } = state
  const override = state.overrides.get(token)
  if (override !== undefined)
    return at < override.at + options.tokenTtlSeconds * 1000 ? override.identifiers : undefined
  try {
    const { payload } = await jwtVerify(token, options.jwtSecret, {
      algorithms: ['HS256'],
      issuer: ISSUER,
      currentDate: new Date(at),
      requiredClaims: ['exp'],
    })
    const identifiers = asObject(payload['identifiers'])
    if (payload['communityId'] !== options.communityId || identifiers === undefined) return undefined
    return Object.values(identifiers).every((value) => typeof value === 'string')
      ? (identifiers as Record<string, string>)
      : undefined
  } catch {
    return undefined
  }
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    return asObject(JSON.parse(text))
  } catch {
    return undefined
  }
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}
