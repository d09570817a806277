/**
 * The route behind `<<widget loading="lazy">>`: the frame's `src` points here,
 * and this answers the widget document for the session's user — the vendor's
 * "server-side proxy" shape. Nothing about the user is in the URL; the token
 * exists only in this response's body. It serves only frames our templates
 * rendered (a signed URL), at a pace one user cannot turn against the vendor
 * (issue 9, hole 1).
 */
import type { Context } from 'koa'
import { RateLimiterRes } from 'rate-limiter-flexible'
import { checkAttribute, type WidgetAttributes } from '../directives.ts'
import { guarded, logVendorFailure } from './directive.ts'
import { newNonce, setTokenPageHeaders } from './headers.ts'
import type { ResolvedEmbedsOptions } from './options.ts'
import type { EmbedsUser } from './user.ts'
import { widgetDocument } from './vendors/returning.ts'

/** Answers one lazy-widget request; `renderFallback` renders a fallback partial by name. */
export async function serveLazyWidget(
  ctx: Context,
  options: ResolvedEmbedsOptions,
  user: EmbedsUser | undefined,
  renderFallback: (name: string) => Promise<string>,
): Promise<void> {
  ctx.set('Cache-Control', 'no-store')
  ctx.vary('Cookie')
  if (!user) {
    ctx.status = 401
    ctx.type = 'text/plain'
    ctx.body = 'Log in to see this widget.'
    return
  }
  const wait = await overBudget(options, user)
  if (wait > 0) {
    ctx.status = 429
    ctx.set('Retry-After', String(Math.ceil(wait / 1000)))
    ctx.type = 'text/plain'
    ctx.body = 'Too many widget requests; try again shortly.'
    return
  }
  const attrs = signedAttributes(ctx, options)
  if (!attrs) {
    ctx.status = 403
    ctx.type = 'text/plain'
    ctx.body = 'This widget link is not valid.'
    return
  }
  if (!options.returning || !(attrs.id ?? options.returning.widgetId)) {
    ctx.status = 400
    ctx.type = 'text/plain'
    ctx.body = 'This widget is not configured.'
    return
  }
  const nonce = newNonce()
  const started = performance.now()
  const page = { user, nonce, acceptLanguage: undefined, signal: AbortSignal.timeout(options.timeoutMs) }
  const returning = options.returning
  let body: string
  try {
    // Behind the same breaker and counters as a page's directives.
    body = await guarded(options, 'returning', undefined, () => widgetDocument(returning, options, attrs, page))
  } catch (error) {
    logVendorFailure(options.logger, {
      vendor: 'returning',
      directive: 'widget',
      loc: options.lazyPath,
      error,
      started,
    })
    const fallback = attrs.fallback ? await renderFallback(attrs.fallback).catch(() => '') : ''
    body = `<!doctype html><meta charset="utf-8"><title>Widget</title>${fallback}`
  }
  // The vendor's scripts carry our nonce so they run; `sandbox` makes the
  // document an opaque origin even when opened as a top-level page (a link
  // will do, the cookie being SameSite=Lax), so they can never act as us.
  setTokenPageHeaders(ctx, nonce, [options.returning.origin], ['sandbox allow-scripts allow-forms allow-popups'])
  ctx.type = 'html'
  ctx.body = body
}

/**
 * The widget attributes of a query our runtime signed, checked again by the
 * template rules; `undefined` for anything else (no, a wrong or a repeated
 * signature, or a value no template could have written).
 */
function signedAttributes(ctx: Context, options: ResolvedEmbedsOptions): WidgetAttributes | undefined {
  const attrs = options.state.lazyUrls.verify(ctx.query)
  if (!attrs) return undefined
  for (const [name, value] of Object.entries(attrs)) if (checkAttribute('widget', name, value)) return undefined
  return attrs
}

/** Milliseconds until `user` may load another frame; 0 when within the budget (or there is none). */
async function overBudget(options: ResolvedEmbedsOptions, user: EmbedsUser): Promise<number> {
  const limiter = options.state.lazyLimiter
  if (!limiter) return 0
  try {
    await limiter.consume(options.state.tokenKey(user))
    return 0
  } catch (refusal) {
    if (refusal instanceof RateLimiterRes) return Math.max(refusal.msBeforeNext, 1)
    throw refusal
  }
}
