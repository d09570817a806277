/**
 * The demo's routes (SPEC "The demo app"): login, logout, the home page and
 * a health check. Identity is only ever read from the verified session.
 */
import { bodyParser } from '@koa/bodyparser'
import Router from '@koa/router'
import type { Middleware } from 'koa'
import type { Accounts } from './accounts.ts'
import type { LoginThrottle } from './throttle.ts'

export function routes(accounts: Accounts, throttle: LoginThrottle): Router {
  const router = new Router()
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store')
    ctx.body = { ok: true }
  })
  router.get('/', async (ctx) => {
    if (!ctx.state.user) return ctx.redirect('/login')
    await ctx.render('home')
  })
  router.get('/login', async (ctx) => {
    if (ctx.state.user) return ctx.redirect('/')
    await ctx.render('login', { error: undefined, email: '' })
  })
  router.post('/login', sameOrigin, bodyParser({ enableTypes: ['form'], formLimit: '4kb' }), async (ctx) => {
    const body = (ctx.request.body ?? {}) as Record<string, unknown>
    const email = typeof body['email'] === 'string' ? body['email'].slice(0, 320) : ''
    const password = typeof body['password'] === 'string' ? body['password'] : ''
    const keys = [`ip:${ctx.ip}`, `email:${email.trim().toLowerCase()}`]
    const wait = throttle.retryAfter(keys)
    if (wait > 0) {
      ctx.status = 429
      ctx.set('Retry-After', String(Math.ceil(wait / 1000)))
      await ctx.render('login', { error: 'Too many failed attempts. Try again later.', email })
      return
    }
    const account = accounts.verify(email, password)
    if (!account) {
      throttle.fail(keys)
      ctx.status = 401
      await ctx.render('login', { error: 'Wrong email or password.', email })
      return
    }
    throttle.succeed(keys)
    // A new session holding the identity only: nothing from before the login
    // carries over, and no token or secret is ever put in it.
    ctx.session = null
    ctx.session = { uid: account.id } as never
    ctx.redirect('/')
  })
  router.post('/logout', sameOrigin, (ctx) => {
    ctx.session = null
    ctx.redirect('/login')
  })
  return router
}

/**
 * Refuses state-changing requests from other sites: a browser marks them
 * with `Sec-Fetch-Site`, or at least with a foreign `Origin`. (The session
 * cookie is also `SameSite=Lax`, so a cross-site POST carries none.)
 */
export const sameOrigin: Middleware = async (ctx, next) => {
  const site = ctx.get('sec-fetch-site')
  if (site && site !== 'same-origin' && site !== 'none') ctx.throw(403, 'cross-site request refused')
  // Koa 3's ctx.origin is the Origin header itself: compare with our own origin.
  const origin = ctx.get('origin')
  if (!site && origin && origin !== `${ctx.protocol}://${ctx.host}`) ctx.throw(403, 'cross-site request refused')
  await next()
}
