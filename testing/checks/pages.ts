/**
 * SPEC invariant 4: a response that carries a token is not stored and leaks nothing on the way out —
 * `Cache-Control: no-store`, `Vary: Cookie`, `Referrer-Policy: no-referrer`, a Content-Security-Policy
 * with a nonce that no other response had, and that nonce on every script of the page and of its inline
 * (`srcdoc`) frames.
 */
import type { Response } from '@playwright/test'
import { throwLeaks, type Leak } from '../leaks.ts'
import type { RecordedResponse } from '../recorder.ts'
import { maskAll, scan } from '../scan.ts'
import type { MintedToken } from '../vendors.ts'

/** A response to check: where it was, its headers (names in lower case) and its body. */
export interface TokenPage {
  /** For messages: `GET http://…/ (200)`. */
  where: string
  /** Every header, names in lower case. */
  headers: Readonly<Record<string, string>>
  /** The HTML as received. */
  body: string
}

/** What one token page is: its nonce, how many scripts it holds, and what is wrong with it. */
export interface TokenPageReport {
  /** The nonce of its Content-Security-Policy, if it has one. */
  nonce: string | undefined
  /** `<script>` tags in the page and in its `srcdoc` frames. */
  scripts: number
  /** What is wrong with it, one line each; empty when nothing is. */
  problems: string[]
}

const HTML_UNESCAPES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" }
const unescapeAttribute = (value: string) => value.replace(/&(?:amp|lt|gt|quot|#39);/g, (e) => HTML_UNESCAPES[e] ?? e)
const SCRIPT_TAG = /<script\b[^>]*>/gi

/** The headers and scripts of one token page. */
export function checkTokenPage(page: TokenPage): TokenPageReport {
  const { headers } = page
  const problems: string[] = []
  if (headers['cache-control'] !== 'no-store') {
    problems.push(`Cache-Control is ${JSON.stringify(headers['cache-control'] ?? null)}, not "no-store"`)
  }
  if (!/(^|,\s*)cookie(\s*,|$)/i.test(headers['vary'] ?? '')) {
    problems.push(`Vary is ${JSON.stringify(headers['vary'] ?? null)}, without Cookie`)
  }
  if (headers['referrer-policy'] !== 'no-referrer') {
    problems.push(`Referrer-Policy is ${JSON.stringify(headers['referrer-policy'] ?? null)}, not "no-referrer"`)
  }
  const nonce = /'nonce-([^']+)'/.exec(headers['content-security-policy'] ?? '')?.[1]
  if (nonce === undefined || !/^[A-Za-z0-9+/=_-]{16,}$/.test(nonce)) {
    problems.push(`its Content-Security-Policy has no nonce of 16 characters or more`)
  }
  const frames = [...page.body.matchAll(/\ssrcdoc="([^"]*)"/gi)].map((m) => unescapeAttribute(m[1] ?? ''))
  const tags = [page.body, ...frames].flatMap((html) => html.match(SCRIPT_TAG) ?? [])
  const without = tags.filter((tag) => nonce === undefined || !tag.includes(`nonce="${nonce}"`))
  if (without.length > 0) {
    // Query strings stripped: a tag's URL could carry what the message must not repeat.
    const shown = without.slice(0, 3).map((tag) => tag.replace(/\?[^"'\s>]*/g, '?…'))
    problems.push(`${without.length} of its ${tags.length} scripts lack its nonce: ${shown.join(' ')}`)
  }
  return { nonce, scripts: tags.length, problems }
}

/**
 * Every problem of every document response that holds a token of `tokens`: each checked with
 * {@link checkTokenPage}, and no two with the same nonce.
 */
export function findTokenPageLeaks(tokens: readonly MintedToken[], responses: readonly RecordedResponse[]): Leak[] {
  const leaks: Leak[] = []
  const nonces = new Map<string, string>()
  const values = tokens.map((token) => token.token)
  for (const response of responses) {
    if (response.resourceType !== 'document' || response.body === undefined) continue
    const entry = { kind: 'response body' as const, where: response.where, text: response.body }
    if (!values.some((value) => scan([entry], value).length > 0)) continue
    // A page's URL could hold a token too: never repeat one.
    const where = maskAll(response.where, values, 'token')
    const report = checkTokenPage({ where, headers: response.headers, body: response.body })
    for (const problem of report.problems) leaks.push({ check: 'token pages', message: `${where}: ${problem}` })
    if (report.nonce === undefined) continue
    const earlier = nonces.get(report.nonce)
    if (earlier !== undefined) {
      leaks.push({ check: 'token pages', message: `${where}: its CSP nonce was already used by ${earlier}` })
    }
    nonces.set(report.nonce, where)
  }
  return leaks
}

/**
 * Checks one Playwright response as a token page ({@link checkTokenPage}); throws a `LeakError` listing its
 * problems. Resolves with its report (its nonce, its number of scripts).
 */
export async function expectTokenPage(response: Response | null, what?: string): Promise<TokenPageReport> {
  if (!response) throw new Error(`expectTokenPage: ${what ?? 'the page'} has no response`)
  const where = what ?? `${response.request().method()} ${response.url()} (${response.status()})`
  const report = checkTokenPage({ where, headers: await response.allHeaders(), body: await response.text() })
  throwLeaks(report.problems.map((problem) => ({ check: 'token pages', message: `${where}: ${problem}` })))
  return report
}
