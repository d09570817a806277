/**
 * The browser's side of the load suite, without a browser: log in, fetch a
 * page with the session cookie, and find the tokens the page carries.
 */
import { decodeJwt } from 'jose'
import { request, type Dispatcher } from 'undici'
import {
  startCarameloStub,
  startReturningSdkStub,
  startReturningStub,
  type CarameloStub,
  type ReturningSdkStub,
  type ReturningStub,
} from '../stubs/index.ts'
import { ACCESS_ID, CANARIES, COMMUNITY_ID, PROJECT_ID, type VendorUrls } from './server.ts'

/** The real vendor stubs (Returning.AI's proxy and SDK flows, Caramelo), in this process, with the canary secrets. */
export interface Vendors {
  returning: ReturningStub
  returningSdk: ReturningSdkStub
  caramelo: CarameloStub
  urls: VendorUrls
  close(): Promise<void>
}

export async function startVendors(latencyMs = 0): Promise<Vendors> {
  const returning = await startReturningStub({ apiKey: CANARIES.apiKey, communityId: COMMUNITY_ID, latencyMs })
  const returningSdk = await startReturningSdkStub({
    accessId: ACCESS_ID,
    accessKey: CANARIES.accessKey,
    communityId: COMMUNITY_ID,
    latencyMs,
  })
  const caramelo = await startCarameloStub({ secretToken: CANARIES.secretToken, projectId: PROJECT_ID, latencyMs })
  return {
    returning,
    returningSdk,
    caramelo,
    urls: {
      returning: returning.url,
      returningSdkApi: returningSdk.apiUrl,
      returningSdkScript: returningSdk.sdkUrl,
      carameloApi: caramelo.apiUrl,
      carameloSdk: caramelo.sdkUrl,
    },
    close: async () => {
      await Promise.all([returning.close(), returningSdk.close(), caramelo.close()])
    },
  }
}

/** Logs `email` in and returns the session cookie header; throws unless the login succeeded. */
export async function login(base: string, email: string, password: string, dispatcher?: Dispatcher): Promise<string> {
  const res = await request(`${base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email, password }).toString(),
    dispatcher,
  })
  await res.body.dump()
  if (res.statusCode !== 302) throw new Error(`login of ${email} answered ${res.statusCode}, expected 302`)
  const set = ([] as string[]).concat(res.headers['set-cookie'] ?? [])
  const cookie = set
    .map((c) => c.split(';')[0] ?? '')
    .filter((c) => c.startsWith('sid'))
    .join('; ')
  if (!cookie.includes('sid=') || !cookie.includes('sid.sig=')) throw new Error(`login of ${email} set no session`)
  return cookie
}

export interface Page {
  status: number
  body: string
}

/** `GET path` with the cookie; the whole body read within `signal`, if given. */
export async function getPage(
  base: string,
  cookie: string,
  options: { dispatcher?: Dispatcher; signal?: AbortSignal; path?: string } = {},
): Promise<Page> {
  const res = await request(`${base}${options.path ?? '/'}`, {
    headers: { cookie },
    dispatcher: options.dispatcher,
    signal: options.signal,
  })
  return { status: res.statusCode, body: await res.body.text() }
}

/**
 * The page as a browser that runs scripts shows it, for telling what fell
 * back: a page streamed out of order holds each slow directive's fallback
 * inside `<noscript>` for browsers that run none, whatever its vendor
 * answered. Tokens are looked for in the whole body, never in this.
 */
export function shown(body: string): string {
  return body.replace(/<noscript>[^]*?<\/noscript>/g, '')
}

const ENTITIES: Record<string, string> = { '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&amp;': '&' }

/** Reverses the runtime's `escapeHtml` (attribute values). */
export function unescapeHtml(value: string): string {
  return value.replace(/&(?:lt|gt|quot|#39|amp);/g, (e) => ENTITIES[e] ?? e)
}

/** The token in every `<iframe srcdoc>` widget document of the page, in order. */
export function widgetTokens(html: string): string[] {
  const out: string[] = []
  for (const [, srcdoc = ''] of html.matchAll(/\ssrcdoc="([^"]*)"/g)) {
    const token = /\btoken\s*:\s*"([^"]*)"/.exec(unescapeHtml(srcdoc))?.[1]
    out.push(token ?? '')
  }
  return out
}

/** The `embed-token` of every Widget SDK element (`<rai-…-widget>`) of the page, in order. */
export function sdkTokens(html: string): string[] {
  return [...html.matchAll(/<rai-[a-z]+-widget\b[^>]*?\sembed-token="([^"]*)"/g)].map(([, token = '']) =>
    unescapeHtml(token),
  )
}

/** The `secure_connection_token` of every Caramelo config script of the page, in order. */
export function carameloTokens(html: string): string[] {
  const out: string[] = []
  for (const [, json = ''] of html.matchAll(/var carameloaiChatbot = (\{[^<]*?\});<\/script>/g)) {
    const settings = JSON.parse(json) as { secure_connection_token?: unknown }
    out.push(typeof settings.secure_connection_token === 'string' ? settings.secure_connection_token : '')
  }
  return out
}

/** The `email` claim of a proxy-flow widget JWT (decoded, not verified: the stub's `minted` list vouches for it). */
export function jwtEmail(token: string): unknown {
  return decodeJwt(token)['email']
}
