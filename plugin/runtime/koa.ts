/**
 * The Koa side: `ctx.render(name, data)` renders a compiled template for the
 * session's verified user and sets the headers a page carrying tokens needs;
 * the middleware also answers the lazy-widget route.
 */
import { Readable } from 'node:stream'
import type { Context, Middleware } from 'koa'
import { newNonce, setTokenPageHeaders } from './headers.ts'
import { serveLazyWidget } from './lazy.ts'
import type { EmbedsMetrics } from './metrics.ts'
import { resolveMetricsRoute, serveMetrics, type MetricsRouteOptions } from './metrics-route.ts'
import { resolveOptions, type EmbedsOptions } from './options.ts'
import { joinChunks, renderPage, renderPageChunks, type TemplateMap } from './render.ts'
import type { EmbedsUser } from './user.ts'

export interface KoaEmbedsOptions extends EmbedsOptions, MetricsRouteOptions {
  /**
   * Returns the compiled templates. Called on every render, so a dev server
   * can hand out fresh modules after an edit.
   * @example builtTemplates(new URL('./dist/server/templates.js', import.meta.url))
   */
  templates: () => Promise<TemplateMap>
  /**
   * The verified user of this request, from the session — never from the
   * query, body or headers. @default (ctx) => ctx.state.user
   */
  user?: (ctx: Context) => EmbedsUser | undefined
  /** Extra template data for every page (asset tags, the user, …). Gets the page's CSP nonce. */
  locals?: (ctx: Context, nonce: string) => object
  /**
   * Send the page as it renders: everything up to the first directive at
   * once, then each directive as its vendor answers. Status and headers are
   * fixed before the first byte (failures become fallbacks, never errors).
   * @default true
   */
  stream?: boolean
}

declare module 'koa' {
  interface DefaultContext {
    /** Renders a compiled Eta template into `ctx.body` (see vite-plugin-eta-embeds). */
    render(name: string, data?: object): Promise<void>
  }
}

/** How long `close()` waits for vendor requests in flight before cutting them. */
const CLOSE_GRACE_MS = 5_000

/** The middleware, plus what a server needs at shutdown and for monitoring. */
export type EmbedsMiddleware = Middleware & {
  /** The runtime's counters (also served at `metricsPath`, to the bearer of `metricsToken`). */
  readonly metrics: EmbedsMetrics
  /**
   * Closes the vendor connection pools, once in-flight renders are done
   * (call it after the HTTP server stopped accepting). A dispatcher passed
   * in `options.dispatcher` is the caller's to close.
   */
  close(): Promise<void>
}

/** Koa middleware that adds `ctx.render()` and serves lazy widgets at `options.lazyPath`. */
export function etaEmbeds(options: KoaEmbedsOptions): EmbedsMiddleware {
  // The route first: a bad metrics option must fail before anything is created.
  const metricsRoute = resolveMetricsRoute(options)
  const resolved = resolveOptions(options)
  const getUser = options.user ?? ((ctx: Context): EmbedsUser | undefined => ctx.state['user'])
  const vendorOrigins = resolved.returning ? [resolved.returning.origin] : []
  const stream = options.stream ?? true
  const middleware: Middleware = async (ctx, next) => {
    if (metricsRoute && ctx.path === metricsRoute.path && ctx.method === 'GET') {
      serveMetrics(ctx, metricsRoute, resolved.state.metrics)
      return
    }
    if (ctx.path === resolved.lazyPath && ctx.method === 'GET') {
      const templates = await options.templates()
      const fallback = (name: string) => renderPage(resolved, templates, name, {}, anonymous(ctx))
      await serveLazyWidget(ctx, resolved, getUser(ctx), fallback)
      return
    }
    ctx.render = async (name, data = {}) => {
      const nonce = newNonce()
      const templates = await options.templates()
      const locals = options.locals?.(ctx, nonce) ?? {}
      const page = { user: getUser(ctx), nonce, acceptLanguage: ctx.get('accept-language') || undefined }
      const chunks = await renderPageChunks(resolved, templates, name, { ...locals, ...data, nonce }, page)
      setTokenPageHeaders(ctx, nonce, vendorOrigins)
      ctx.type = 'html'
      ctx.body = stream ? Readable.from(chunks) : await joinChunks(chunks)
    }
    await next()
  }
  return Object.assign(middleware, {
    metrics: resolved.state.metrics,
    close: async () => {
      if (options.dispatcher) return
      // Let requests in flight finish, but not forever: a vendor that keeps
      // a connection open must not hold the process up.
      const closing = resolved.dispatcher.close()
      const grace = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), CLOSE_GRACE_MS).unref())
      if ((await Promise.race([closing, grace])) === 'late') await resolved.dispatcher.destroy()
    },
  })
}

function anonymous(ctx: Context) {
  return { user: undefined, nonce: newNonce(), acceptLanguage: ctx.get('accept-language') || undefined }
}
