/**
 * The Koa side: `ctx.render(name, data)` renders a compiled template for the
 * session's verified user and sets the headers a page carrying tokens needs;
 * the middleware also answers the lazy-widget route.
 */
import { Readable } from 'node:stream'
import type { Context, Middleware } from 'koa'
import type { TemplateMap } from '../../template-module.ts'
import type { EmbedsUser } from '../../vendors/define.ts'
import type { EmbedsMetrics } from '../metrics.ts'
import { resolveOptions, type EmbedsOptions } from '../options.ts'
import { joinChunks, renderPage, renderPageChunks, type WriteOrder } from '../render/render.ts'
import { createRuntime } from '../runtime.ts'
import { newNonce, setTokenPageHeaders } from './headers.ts'
import { serveLazyFrame } from './lazy-route.ts'
import { resolveMetricsRoute, serveMetrics, type MetricsRouteOptions } from './metrics-route.ts'
import { answerRenderFailure } from './render-failure.ts'
import { viteClientTags, withTagsInHead } from './vite-client.ts'
import { devSourceOf } from './vite-dev.ts'

/**
 * How `ctx.render()` sends a page: `'out-of-order'` — the page's own content
 * at once, each embed as its vendor answers, moved into a placeholder of its
 * size; `'in-order'` — as it renders, in document order.
 */
export type StreamMode = 'out-of-order' | 'in-order'

export interface EmbedsMiddlewareOptions extends EmbedsOptions, MetricsRouteOptions {
  /**
   * Returns the compiled templates. Called on every render, so a dev server
   * can hand out fresh modules after an edit. In development, `await
   * viteDev()`: the middleware then also answers Vite's requests, puts
   * Vite's client in each page and shows a failed render in Vite's overlay.
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
   * How the page is sent. `'out-of-order'`: the page's own content at once,
   * each directive held by a placeholder of its size (its fallback, without
   * JavaScript), then each embed as its vendor answers, moved into place by
   * a small script carrying the page's nonce. `'in-order'` (or `true`): as
   * it renders, in document order — everything after a directive waits for
   * its vendor. `false`: the whole page at once, after the slowest vendor.
   * Either way status and headers are fixed before the first byte (failures
   * become fallbacks, never errors).
   * @default 'out-of-order'
   */
  stream?: StreamMode | boolean
}

declare module 'koa' {
  interface DefaultContext {
    /** Renders a compiled Eta template into `ctx.body` (see vite-plugin-eta-embeds). */
    render(name: string, data?: object): Promise<void>
  }
}

/** The middleware, plus what a server needs at shutdown and for monitoring. */
export type EmbedsMiddleware = Middleware & {
  /** The runtime's counters (also served at `metricsPath`, to the bearer of `metricsToken`). */
  readonly metrics: EmbedsMetrics
  /**
   * Closes the vendor connection pools, once in-flight renders are done
   * (call it after the HTTP server stopped accepting), and the Vite dev
   * server `viteDev()` started. A dispatcher passed in `options.dispatcher`
   * is the caller's to close.
   */
  close(): Promise<void>
}

/**
 * Koa middleware that adds `ctx.render()` and serves lazy frames at
 * `options.lazyPath`. A render that fails and that the app does not catch
 * is answered here: in development in Vite's overlay, in production with a
 * bare 500 and one log line that says where (`renderErrorLogLine`).
 */
export function embeds(options: EmbedsMiddlewareOptions): EmbedsMiddleware {
  // Every option is checked before anything is created.
  const metricsRoute = resolveMetricsRoute(options)
  const resolved = resolveOptions(options)
  if (typeof options.templates !== 'function') {
    throw new TypeError(
      'options.templates must be a function returning the compiled templates, such as builtTemplates(…)',
    )
  }
  const stream = streamMode(options.stream)
  const runtime = createRuntime(resolved)
  const getUser = options.user ?? ((ctx: Context): EmbedsUser | undefined => ctx.state['user'])
  const acceptLanguage = (ctx: Context) => ctx.get('accept-language') || undefined
  const dev = devSourceOf(options.templates)
  // Each failed render's error, with the templates version read before it (development).
  const failedRenders = new WeakMap<object, number | undefined>()
  const middleware: Middleware = async (ctx, next) => {
    if (dev && (await dev.handle(ctx.req, ctx.res))) {
      ctx.respond = false
      return
    }
    if (metricsRoute && ctx.path === metricsRoute.path && ctx.method === 'GET') {
      await serveMetrics(ctx, metricsRoute, runtime.metrics)
      return
    }
    if (ctx.path === resolved.lazyPath && ctx.method === 'GET') {
      const templates = await options.templates()
      // A lazy frame's fallback gets the data every page gets, as the page's would.
      const fallback = (name: string, nonce: string) =>
        renderPage(
          runtime,
          templates,
          name,
          { ...options.locals?.(ctx, nonce), nonce },
          {
            user: undefined,
            nonce,
            acceptLanguage: acceptLanguage(ctx),
          },
        )
      await serveLazyFrame(ctx, runtime, getUser(ctx), fallback)
      return
    }
    ctx.render = async (name, data = {}) => {
      // Before the render: an edit saved while it runs makes its error page stale.
      const version = dev?.templatesVersion()
      try {
        const nonce = newNonce()
        const templates = await options.templates()
        const locals = options.locals?.(ctx, nonce) ?? {}
        const page = { user: getUser(ctx), nonce, acceptLanguage: acceptLanguage(ctx) }
        const pageData = { ...locals, ...data, nonce }
        let chunks = await renderPageChunks(runtime, templates, name, pageData, page, stream.order)
        if (dev) chunks = withTagsInHead(chunks, viteClientTags(nonce, dev.base))
        setTokenPageHeaders(ctx, nonce, [...runtime.origins])
        ctx.type = 'html'
        ctx.body = stream.streamed ? Readable.from(chunks) : await joinChunks(chunks)
      } catch (error) {
        if (typeof error === 'object' && error !== null) failedRenders.set(error, version)
        throw error
      }
    }
    try {
      await next()
    } catch (error) {
      const failed = typeof error === 'object' && error !== null && failedRenders.has(error)
      if (!failed || ctx.headerSent) throw error
      answerRenderFailure(ctx, error, dev ? { ...dev, version: failedRenders.get(error) } : runtime.logger)
    }
  }
  // Once, however often it is called: a shutdown path may reach it twice.
  let closing: Promise<void> | undefined
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await runtime.close()
      await (options.templates as { close?: () => Promise<void> }).close?.()
    })())
  return Object.assign(middleware, { metrics: runtime.metrics, close })
}

/** `options.stream`, checked: the order the page is written in, and whether it is sent as it is written. */
function streamMode(value: unknown): { order: WriteOrder; streamed: boolean } {
  if (value === undefined || value === 'out-of-order') return { order: 'settle', streamed: true }
  if (value === 'in-order' || value === true) return { order: 'document', streamed: true }
  if (value === false) return { order: 'document', streamed: false }
  const shown = typeof value === 'string' ? `'${value}'` : value === null ? 'null' : typeof value
  throw new TypeError(
    `options.stream must be 'out-of-order', 'in-order' (or true) or false (the whole page at once), got ${shown}`,
  )
}
