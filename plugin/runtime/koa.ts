/**
 * The Koa side: `ctx.render(name, data)` renders a compiled template for the
 * session's verified user and sets the headers a page carrying tokens needs.
 */
import { randomBytes } from 'node:crypto'
import type { Context, Middleware } from 'koa'
import { resolveOptions, type EmbedsOptions } from './options.ts'
import { renderPage, type TemplateMap } from './render.ts'
import type { EmbedsUser } from './user.ts'

export interface KoaEmbedsOptions extends EmbedsOptions {
  /**
   * Returns the compiled templates. Called on every render, so a dev server
   * can hand out fresh modules after an edit.
   * @example () => vite.environments.ssr.runner.import('virtual:eta-embeds/templates').then((m) => m.default)
   */
  templates: () => Promise<TemplateMap>
  /**
   * The verified user of this request, from the session — never from the
   * query, body or headers. @default (ctx) => ctx.state.user
   */
  user?: (ctx: Context) => EmbedsUser | undefined
  /** Extra template data for every page (asset tags, the user, …). Gets the page's CSP nonce. */
  locals?: (ctx: Context, nonce: string) => object
}

declare module 'koa' {
  interface DefaultContext {
    /** Renders a compiled Eta template into `ctx.body` (see vite-plugin-eta-embeds). */
    render(name: string, data?: object): Promise<void>
  }
}

/** Koa middleware that adds `ctx.render()`. */
export function etaEmbeds(options: KoaEmbedsOptions): Middleware {
  const resolved = resolveOptions(options)
  const getUser = options.user ?? ((ctx: Context): EmbedsUser | undefined => ctx.state['user'])
  const vendorOrigins = [resolved.returning?.origin].filter(Boolean).join(' ')
  return async (ctx, next) => {
    ctx.render = async (name, data = {}) => {
      const nonce = randomBytes(16).toString('base64')
      const templates = await options.templates()
      const locals = options.locals?.(ctx, nonce) ?? {}
      const html = await renderPage(
        resolved,
        templates,
        name,
        { ...locals, ...data, nonce },
        {
          user: getUser(ctx),
          nonce,
          acceptLanguage: ctx.get('accept-language') || undefined,
        },
      )
      setPageHeaders(ctx, nonce, vendorOrigins)
      ctx.type = 'html'
      ctx.body = html
    }
    await next()
  }
}

/**
 * SPEC invariant 4: a page that may hold a token is never stored, never sent
 * as a Referer, and runs only the scripts carrying its nonce. `base-uri`
 * admits the vendor origin because the widget's srcdoc document inherits this
 * policy and resolves its relative URLs through `<base href>`.
 */
function setPageHeaders(ctx: Context, nonce: string, vendorOrigins: string): void {
  ctx.set('Cache-Control', 'no-store')
  ctx.vary('Cookie')
  ctx.set('Referrer-Policy', 'no-referrer')
  ctx.set(
    'Content-Security-Policy',
    [
      `script-src 'nonce-${nonce}' 'strict-dynamic'`,
      `object-src 'none'`,
      `base-uri 'self'${vendorOrigins ? ` ${vendorOrigins}` : ''}`,
      `frame-ancestors 'self'`,
    ].join('; '),
  )
}
