/**
 * Returning.AI, server-side proxy flow (SPEC "Vendor flows"): sign the user in
 * server-to-server, fetch the widget page, put the token into its placeholder
 * and hand the page to the browser inside `<iframe srcdoc>`.
 */
import type { WidgetAttributes } from '../../directives.ts'
import { VendorError } from '../../errors.ts'
import { escapeHtml, jsStringLiteral } from '../encode.ts'
import { parseJson, vendorRequest } from '../http.ts'
import type { LazyUrlSigner } from '../lazy-url.ts'
import type { ResolvedEmbedsOptions } from '../options.ts'
import type { ResolveContext } from '../user.ts'

const VENDOR = 'returning'
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/
// Every pattern here runs over the vendor's text, synchronously, where no
// deadline can stop it: each must be linear in the page's size (issue 9).
// Linear: the `\s*` runs are bounded by non-space literals, so a start
// position backtracks only over the spaces after its own `token`.
const PLACEHOLDER = /\btoken(\s*:\s*)""/g
// Fixed length, no quantifier: one step per position.
const SCRIPT_OPEN = /<script\b/gi
// The opening `<head` of a head tag: fixed length, one step per position.
const HEAD_OPEN = /<head(?=[\s/>])/i
// Printable ASCII without spaces: what an HTTP header value can carry unambiguously.
const HEADER_SAFE_EMAIL = /^[\x21-\x7e]+@[\x21-\x7e]+$/

type Config = NonNullable<ResolvedEmbedsOptions['returning']>
type Shared = Pick<ResolvedEmbedsOptions, 'dispatcher' | 'maxResponseBytes' | 'state'>

/**
 * The widget's document for `ctx.user`: the vendor page with the user's token
 * in its placeholder, a `<base href>` to the vendor and the page's nonce on
 * every script. Used inline (`srcdoc`) and by the lazy route.
 */
export async function widgetDocument(
  config: Config,
  shared: Shared,
  attrs: WidgetAttributes,
  ctx: ResolveContext,
): Promise<string> {
  const id = attrs.id ?? config.widgetId ?? ''
  const documentUrl = new URL(
    `${config.baseUrl}/${encodeURIComponent(attrs.type ?? config.widgetType)}/${encodeURIComponent(id)}`,
  )
  const pageUrl = new URL(documentUrl)
  pageUrl.searchParams.set('color', attrs.color ?? 'light')
  if (!HEADER_SAFE_EMAIL.test(ctx.user.email)) {
    // Refused before any call (the page included): the value would travel in the `email` header.
    throw new VendorError(VENDOR, 'ERR_VENDOR_INPUT', "the user's email cannot be sent in an HTTP header")
  }
  // The sign-in and the page do not depend on each other: ask for both at once.
  const [token, page] = await Promise.all([signIn(config, shared, ctx), fetchPage(shared, pageUrl, ctx.signal)])
  return withBaseAndNonce(injectToken(page, token), documentUrl.href, ctx.nonce)
}

// The widget runs in an opaque origin: it cannot read our cookies or DOM.
const FRAME_ATTRIBUTES = 'sandbox="allow-scripts allow-forms allow-popups" referrerpolicy="no-referrer"'

function frameOpening(attrs: WidgetAttributes): string {
  const title = escapeHtml(attrs.title ?? 'Returning.AI widget')
  const height = attrs.height ? ` height="${attrs.height}"` : ''
  return `<iframe class="eta-embeds-widget" title="${title}"${height} ${FRAME_ATTRIBUTES}`
}

/** Resolves one eager `<<widget>>` to its iframe, the document inline in `srcdoc`. */
export async function resolveWidget(
  config: Config,
  shared: Shared,
  attrs: WidgetAttributes,
  ctx: ResolveContext,
): Promise<string> {
  const html = await widgetDocument(config, shared, attrs, ctx)
  return `${frameOpening(attrs)} srcdoc="${escapeHtml(html)}"></iframe>`
}

/**
 * A `loading="lazy"` widget: an iframe the browser loads when it nears the
 * viewport, from our own session-authenticated route. Only the widget's type,
 * id, colour and fallback travel in the URL, signed (see `lazy-url.ts`) —
 * never a token or anything about the user.
 */
export function lazyWidgetFrame(lazyPath: string, signer: LazyUrlSigner, attrs: WidgetAttributes): string {
  const src = `${lazyPath}?${signer.query(attrs)}`
  return `${frameOpening(attrs)} loading="lazy" src="${escapeHtml(src)}"></iframe>`
}

/** The user's token: reused while still valid when token reuse is on, else minted for this render. */
async function signIn(config: Config, shared: Shared, ctx: ResolveContext): Promise<string> {
  const { tokens, metrics } = shared.state
  if (!tokens) return mintToken(config, shared, ctx)
  metrics.cacheLookup('widget_token')
  return tokens.get(shared.state.tokenKey(ctx.user), () => {
    metrics.cacheMiss('widget_token')
    return mintToken(config, shared, ctx)
  })
}

async function mintToken(config: Config, shared: Shared, ctx: ResolveContext): Promise<string> {
  const answer = await vendorRequest({
    vendor: VENDOR,
    dispatcher: shared.dispatcher,
    url: new URL(`${config.baseUrl}/widget/${encodeURIComponent(config.communityId)}/signin`),
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'returningai-api-key': config.apiKey,
      email: ctx.user.email,
    },
    signal: ctx.signal,
    maxBytes: shared.maxResponseBytes,
  })
  const token = (parseJson(VENDOR, answer) as { token?: unknown } | null)?.token
  if (typeof token !== 'string' || token.length > 8192 || !JWT_SHAPE.test(token)) {
    throw new VendorError(VENDOR, 'ERR_VENDOR_BODY', `${VENDOR} sign-in answer has no JWT-shaped 'token'`, {
      status: answer.status,
    })
  }
  return token
}

/** The widget page, the same for every user: through the shared page cache when it is on. */
async function fetchPage(shared: Shared, url: URL, signal: AbortSignal): Promise<string> {
  if (shared.state.pageCached) shared.state.metrics.cacheLookup('widget_page')
  const answer = await vendorRequest({
    vendor: VENDOR,
    dispatcher: shared.state.pageDispatcher,
    url,
    method: 'GET',
    signal,
    maxBytes: shared.maxResponseBytes,
  })
  if (!/^text\/html\b/i.test(answer.contentType)) {
    throw new VendorError(VENDOR, 'ERR_VENDOR_BODY', `${VENDOR} widget page is not text/html`, {
      status: answer.status,
    })
  }
  return answer.text
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
