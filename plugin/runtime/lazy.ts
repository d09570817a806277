/**
 * The route behind `<<widget loading="lazy">>`: the frame's `src` points here,
 * and this answers the widget document for the session's user — the vendor's
 * "server-side proxy" shape. Nothing about the user is in the URL; the token
 * exists only in this response's body.
 */
import type { Context } from 'koa'
import { checkAttribute, type WidgetAttributes } from '../directives.ts'
import { guarded, logVendorFailure } from './directive.ts'
import { escapeHtml } from './encode.ts'
import { newNonce, setTokenPageHeaders } from './headers.ts'
import type { ResolvedEmbedsOptions } from './options.ts'
import type { EmbedsUser } from './user.ts'
import { widgetDocument } from './vendors/returning.ts'

const QUERY_ATTRIBUTES = ['type', 'id', 'color', 'fallback'] as const

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
  const attrs = queryAttributes(ctx)
  if (typeof attrs === 'string' || !options.returning || !(attrs.id ?? options.returning.widgetId)) {
    ctx.status = 400
    ctx.type = 'text/plain'
    ctx.body = typeof attrs === 'string' ? attrs : 'This widget is not configured.'
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

/** The widget attributes of the query, validated like template values; a string says what is wrong. */
function queryAttributes(ctx: Context): WidgetAttributes | string {
  const attrs: WidgetAttributes = {}
  for (const name of QUERY_ATTRIBUTES) {
    const value = ctx.query[name]
    if (value === undefined) continue
    const problem = checkAttribute('widget', name, value)
    if (problem) return `bad ${name}: ${escapeHtml(problem)}`
    attrs[name] = value as string
  }
  return attrs
}
