/**
 * Returning.AI, server-side proxy flow (SPEC "Vendor flows"): sign the user in
 * server-to-server, fetch the widget page, put the token into its placeholder
 * and hand the page to the browser inside `<iframe srcdoc>`.
 */
import type { WidgetAttributes } from '../../directives.ts'
import { RenderError, VendorError } from '../../errors.ts'
import { escapeHtml, jsStringLiteral } from '../encode.ts'
import { parseJson, vendorRequest } from '../http.ts'
import type { ResolvedEmbedsOptions } from '../options.ts'
import type { ResolveContext } from '../user.ts'

const VENDOR = 'returning'
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/
const PLACEHOLDER = /\btoken(\s*:\s*)""/g
// Printable ASCII without spaces: what an HTTP header value can carry unambiguously.
const HEADER_SAFE_EMAIL = /^[\x21-\x7e]+@[\x21-\x7e]+$/

type Config = NonNullable<ResolvedEmbedsOptions['returning']>
type Shared = Pick<ResolvedEmbedsOptions, 'dispatcher' | 'maxResponseBytes'>

/**
 * Resolves one `<<widget>>` to its iframe.
 *
 * Placeholder: `loading="lazy"` is resolved eagerly like the default until the
 * session-authenticated lazy route exists (issue 4).
 */
export async function resolveWidget(
  config: Config,
  shared: Shared,
  attrs: WidgetAttributes,
  ctx: ResolveContext,
): Promise<string> {
  const id = attrs.id ?? config.widgetId
  if (!id) {
    throw new RenderError('ERR_CONFIG', "<<widget>> has no 'id' and WIDGET_ID is not set")
  }
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
  const html = withBaseAndNonce(injectToken(page, token), documentUrl.href, ctx.nonce)
  const title = attrs.title ?? 'Returning.AI widget'
  const height = attrs.height ? ` height="${attrs.height}"` : ''
  return (
    `<iframe class="eta-embeds-widget" title="${escapeHtml(title)}"${height}` +
    ` sandbox="allow-scripts allow-forms allow-popups" referrerpolicy="no-referrer"` +
    ` srcdoc="${escapeHtml(html)}"></iframe>`
  )
}

async function signIn(config: Config, shared: Shared, ctx: ResolveContext): Promise<string> {
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

async function fetchPage(shared: Shared, url: URL, signal: AbortSignal): Promise<string> {
  const answer = await vendorRequest({
    vendor: VENDOR,
    dispatcher: shared.dispatcher,
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
  const scripts = page.replace(/<script\b/gi, `<script nonce="${escapeHtml(nonce)}"`)
  const base = `<base href="${escapeHtml(baseHref)}">`
  const head = /<head\b[^>]*>/i.exec(scripts)
  if (!head) return base + scripts
  const at = head.index + head[0].length
  return scripts.slice(0, at) + base + scripts.slice(at)
}
