/**
 * The route behind `loading="lazy"`: the frame's `src` points here, and this
 * answers the vendor's document for the session's user — the vendor's
 * "server-side proxy" shape. Nothing about the user is in the URL; the token
 * exists only in this response's body. It serves only frames our templates
 * rendered (a signed URL), at a pace one user cannot turn against the vendor
 * (issue 9, hole 1). Written once for every adapter that offers a lazy
 * document: authentication, signatures and budgets are not a vendor's job.
 */
import type { Context } from 'koa'
import { RateLimiterRes } from 'rate-limiter-flexible'
import { EmbedsError } from '../../errors.ts'
import type { EmbedsUser } from '../../vendors/define.ts'
import type { Runtime, VendorEntry } from '../runtime.ts'
import { settle, startVendorCall } from '../vendors/calls.ts'
import { newNonce, setTokenPageHeaders } from './headers.ts'

/** Answers one lazy-frame request; `renderFallback` renders a fallback partial by name with the page's nonce. */
export async function serveLazyFrame(
  ctx: Context,
  runtime: Runtime,
  user: EmbedsUser | undefined,
  renderFallback: (name: string, nonce: string) => Promise<string>,
): Promise<void> {
  ctx.set('Cache-Control', 'no-store')
  ctx.vary('Cookie')
  if (!user) return plain(ctx, 401, 'Log in to see this widget.')
  const wait = await overBudget(runtime, user)
  if (wait > 0) {
    ctx.set('Retry-After', String(Math.ceil(wait / 1000)))
    return plain(ctx, 429, 'Too many widget requests; try again shortly.')
  }
  const target = runtime.lazyUrls.verify(ctx.query)
  const entry = target && runtime.vendors.get(target.vendor)
  if (!target || !entry?.definition.lazy) return plain(ctx, 403, 'This widget link is not valid.')
  const { directive } = entry.definition
  try {
    // The same checks as the page's: a signed URL from an older configuration must still fit this one.
    if (runtime.select(directive, { ...target.attributes, ...flowOf(entry) }, runtime.options.lazyPath) !== entry) {
      return plain(ctx, 400, 'This widget is not configured.')
    }
  } catch (error) {
    if (error instanceof EmbedsError) return plain(ctx, 400, 'This widget is not configured.')
    throw error
  }
  const nonce = newNonce()
  const call = startVendorCall(
    runtime,
    entry,
    target.attributes,
    { user, nonce, acceptLanguage: undefined },
    'document',
  )
  const site = { directive, loc: runtime.options.lazyPath, fallback: target.attributes['fallback'] }
  const { html } = await settle(runtime, entry, call, site, (name) => renderFallback(name, nonce))
  // Nothing aborts this call: `html` is the vendor's document, or a fallback fragment when it failed.
  const body = (await succeeded(call)) ? html : fallbackDocument(html)
  setTokenPageHeaders(
    ctx,
    nonce,
    [...(entry.definition.origins?.(entry.config) ?? [])],
    [...(entry.definition.lazy.csp ?? [])],
  )
  ctx.type = 'html'
  ctx.body = body
}

/** A multi-flow directive's `flow`, so `select` picks this very adapter. */
function flowOf(entry: VendorEntry): Record<string, string> {
  return entry.definition.flow ? { flow: entry.definition.flow } : {}
}

/** Whether the call's vendor work succeeded (it has settled by now). */
async function succeeded(call: { result: Promise<unknown> }): Promise<boolean> {
  return call.result.then(
    () => true,
    () => false,
  )
}

/** A fallback partial is a fragment: the frame needs a document around it. */
function fallbackDocument(fragment: string): string {
  return `<!doctype html><meta charset="utf-8"><title>Widget</title>${fragment}`
}

function plain(ctx: Context, status: number, message: string): void {
  ctx.status = status
  ctx.type = 'text/plain'
  ctx.body = message
}

/** Milliseconds until `user` may load another frame; 0 when within the budget (or there is none). */
async function overBudget(runtime: Runtime, user: EmbedsUser): Promise<number> {
  const limiter = runtime.lazyLimiter
  if (!limiter) return 0
  try {
    await limiter.consume(runtime.userKey(user))
    return 0
  } catch (refusal) {
    if (refusal instanceof RateLimiterRes) return Math.max(refusal.msBeforeNext, 1)
    throw refusal
  }
}
