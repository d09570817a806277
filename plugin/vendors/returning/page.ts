/**
 * Text surgery on the Returning.AI widget page (SPEC "Vendor flows", proxy
 * flow, step 3): the token into its single placeholder, a `<base href>` and
 * the page's nonce. Every pattern here runs over the vendor's text,
 * synchronously, where no deadline can stop it: each must be linear in the
 * page's size (issue 9).
 */
import { VendorError } from '../../errors.ts'
import { escapeHtml, jsStringLiteral } from '../../runtime/encode.ts'

const VENDOR = 'returning-proxy'
// Linear: the `\s*` runs are bounded by non-space literals, so a start
// position backtracks only over the spaces after its own `token`.
const PLACEHOLDER = /\btoken(\s*:\s*)""/g
// Fixed length, no quantifier: one step per position.
const SCRIPT_OPEN = /<script\b/gi
// The opening `<head` of a head tag: fixed length, one step per position.
const HEAD_OPEN = /<head(?=[\s/>])/i

/** Whether `page` has exactly one token placeholder: the shape of the vendor's widget page. */
export function hasOnePlaceholder(page: string): boolean {
  return (page.match(PLACEHOLDER)?.length ?? 0) === 1
}

/**
 * Replaces the page's single `token: ""` with the JWT as a JavaScript string.
 * No placeholder (or several) means the vendor changed its page: fail loudly
 * rather than serve a widget that silently has no user.
 */
export function injectToken(page: string, token: string): string {
  const found = page.match(PLACEHOLDER)?.length ?? 0
  if (found !== 1) {
    throw new VendorError(
      VENDOR,
      'ERR_VENDOR_PLACEHOLDER',
      `${VENDOR} widget page has ${found} token placeholders, expected 1`,
    )
  }
  return page.replace(PLACEHOLDER, (_match, gap: string) => `token${gap}${jsStringLiteral(token)}`)
}

/**
 * Adds `<base href>` (the widget's relative URLs keep resolving against the
 * vendor) and the page's nonce on every `<script>` (the srcdoc document
 * inherits our CSP).
 */
export function withBaseAndNonce(page: string, baseHref: string, nonce: string): string {
  const scripts = page.replace(SCRIPT_OPEN, `<script nonce="${escapeHtml(nonce)}"`)
  const base = `<base href="${escapeHtml(baseHref)}">`
  const at = headTagEnd(scripts)
  if (at === -1) return base + scripts
  return scripts.slice(0, at) + base + scripts.slice(at)
}

/**
 * Where the first `<head …>` tag ends, or -1. One search for the tag's
 * opening and one for the `>` after it: `/<head\b[^>]*>/` retried its
 * `[^>]*` from every `<head` of a page without `>`, quadratic in its size.
 * A first `<head` with no `>` after it means no later one has one either.
 */
export function headTagEnd(html: string): number {
  const open = HEAD_OPEN.exec(html)
  if (!open) return -1
  const close = html.indexOf('>', open.index + open[0].length)
  return close === -1 ? -1 : close + 1
}
