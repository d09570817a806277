/**
 * The demo Koa app: sessions, the SPEC's routes, and `ctx.render()` from the
 * runtime. Nothing here knows whether templates come from Vite's dev server
 * or from the production build; `main.ts` decides that.
 */
import Koa, { type Context, type Middleware } from 'koa'
import session from 'koa-session'
import type { Logger } from 'pino'
import {
  embeds as embedsMiddleware,
  renderErrorLogLine,
  type EmbedsOptions,
  type StreamMode,
  type TemplateMap,
} from '../plugin/runtime/index.ts'
import type { Account, Accounts } from './accounts.ts'
import { storeSecretKeys } from './config.ts'
import type { AssetTags } from './assets.ts'
import { SessionRevocations } from './revocation.ts'
import { routes } from './routes.ts'
import type { DemoShared } from './shared.ts'
import { LoginThrottle } from './throttle.ts'

/** How long a session lasts: its cookie's `maxAge`, and how long its revocation is kept. */
export const SESSION_MAX_AGE_MS = 8 * 60 * 60 * 1000

export interface AppOptions {
  accounts: Accounts
  sessionKeys: string[]
  embeds: EmbedsOptions
  templates: () => Promise<TemplateMap>
  assets: AssetTags
  logger: Logger
  /** Serves what the server does not route (the built client files). */
  fallthrough?: Middleware
  /**
   * How many reverse proxies are in front (TLS terminated there), each
   * appending the address it got the request from to `X-Forwarded-For`.
   * Above 0, `X-Forwarded-*` is trusted: the session cookie is `Secure` when
   * the original request was HTTPS, and the client's address — which the
   * login throttle counts by — is the one the outermost proxy saw, never a
   * value the client wrote itself. 0: no proxy, the socket's address.
   * @default 0
   */
  proxy?: number
  /** Bad-login throttling. @default new LoginThrottle({}, shared) */
  throttle?: LoginThrottle
  /**
   * `REDIS_URL`'s store (see `openShared`): the runtime's shared state, the
   * login throttle and session revocations go through it, so instances act
   * as one. Unset: each instance keeps them in its own memory.
   */
  shared?: DemoShared
  /**
   * The secrets that name session revocations without a shared store
   * (`storeSecretKeys(sessionKeys)`). @default derived from `sessionKeys`
   */
  storeSecretKeys?: string[]
  /**
   * `METRICS_TOKEN`: serve the runtime's counters at `/metrics` to requests
   * with `Authorization: Bearer <token>`. Unset: no `/metrics` at all.
   */
  metricsToken?: string
  /**
   * How pages are sent (the runtime's `stream` option). The demo sends its
   * own content at once and each embed as its vendor answers.
   * @default 'out-of-order'
   */
  stream?: StreamMode | false
}

declare module 'koa' {
  interface DefaultState {
    user?: Account
  }
}

export interface DemoApp {
  app: Koa
  /** Closes what the app holds open (the vendor connection pools). */
  close(): Promise<void>
}

export function createApp(options: AppOptions): DemoApp {
  const hops = options.proxy ?? 0
  // Koa reads ctx.ip from the right of X-Forwarded-For, `maxIpsCount` entries in:
  // the entries our own proxies appended. Anything to their left is the client's to invent.
  const app = new Koa({ proxy: hops > 0, maxIpsCount: hops })
  // The first key signs, every key verifies: rotate by putting a new key first.
  app.keys = options.sessionKeys
  app.use(requestLog(options.logger))
  app.use(errorPage(options.logger))
  app.use(
    session(
      {
        key: 'sid',
        httpOnly: true,
        sameSite: 'lax',
        signed: true,
        // `secure` is left to koa-session: set when the request is HTTPS
        // (through a trusted proxy, see `proxy`).
        maxAge: SESSION_MAX_AGE_MS,
      },
      app,
    ),
  )
  const revocations = new SessionRevocations({
    ttlMs: SESSION_MAX_AGE_MS,
    shared: options.shared,
    secretKeys: options.storeSecretKeys ?? storeSecretKeys(options.sessionKeys),
    logger: options.logger,
  })
  app.use(identity(options.accounts, revocations))
  const embeds = embedsMiddleware({
    ...options.embeds,
    ...(options.shared ? { shared: { store: options.shared.store, secretKeys: options.shared.secretKeys } } : {}),
    templates: options.templates,
    user: (ctx) => ctx.state.user,
    stream: options.stream ?? 'out-of-order',
    ...(options.metricsToken ? { metricsPath: '/metrics', metricsToken: options.metricsToken } : {}),
    locals: (ctx, nonce) => ({ user: ctx.state.user, assets: options.assets(nonce) }),
  })
  app.use(embeds)
  const throttle = options.throttle ?? new LoginThrottle({}, options.shared)
  const router = routes(options.accounts, throttle, revocations, options.logger)
  app.use(router.routes())
  app.use(router.allowedMethods())
  if (options.fallthrough) app.use(options.fallthrough)
  return { app, close: () => embeds.close() }
}

/**
 * Identity comes from the verified session only (SPEC invariant 3), and only
 * while that session is not revoked: a cookie copied before logout is
 * anonymous on every instance, and its holder gets it cleared. A session
 * without a session id (not made by our login) is not trusted either.
 */
function identity(accounts: Accounts, revocations: SessionRevocations): Middleware {
  return async (ctx, next) => {
    const session = ctx.session as Record<string, unknown> | null
    const user = accounts.byId(session?.['uid'])
    if (user) {
      const sid = session?.['sid']
      if (SessionRevocations.isSessionId(sid) && !(await revocations.isRevoked(sid))) ctx.state.user = user
      else ctx.session = null
    }
    await next()
  }
}

function requestLog(logger: Logger): Middleware {
  return async (ctx, next) => {
    const started = performance.now()
    try {
      await next()
    } finally {
      // The path only: a query string is user input and never logged.
      logger.info(
        { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) },
        'request',
      )
    }
  }
}

/**
 * Any other failure of the demo's own: one line that says what failed and
 * where, never its message, and a 500 with no detail. (A failed render is
 * answered by the runtime, in development in Vite's overlay.)
 */
function errorPage(logger: Logger): Middleware {
  return async (ctx: Context, next) => {
    try {
      await next()
    } catch (error) {
      const status = (error as { status?: number }).status ?? 500
      if (status < 500) throw error
      logger.error(renderErrorLogLine(error))
      ctx.status = 500
      ctx.set('Cache-Control', 'no-store')
      ctx.type = 'text/plain'
      ctx.body = 'Internal Server Error'
    }
  }
}
