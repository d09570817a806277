/**
 * The demo's routes (SPEC "The demo app"): login, logout, the home page and
 * a health check. Identity is only ever read from the verified session.
 */
import { bodyParser } from '@koa/bodyparser'
import Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import type { Logger } from 'pino'
import type { Accounts } from './accounts.ts'
import { newSessionId, SessionRevocations } from './revocation.ts'
import type { LoginThrottle, Refusal } from './throttle.ts'

export function routes(
  accounts: Accounts,
  throttle: LoginThrottle,
  revocations: SessionRevocations,
  logger: Logger,
): Router {
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
    // ctx.ip is the proxy's view of the client when TRUST_PROXY is set (see app.ts), never the client's own claim.
    const keys = [`ip:${ctx.ip}`, `email:${email.trim().toLowerCase()}`]
    const refusal = await throttle.check(keys)
    if (refusal) return refuse(ctx, refusal, email)
    // Counted before the password is checked: attempts in flight together, on
    // any instance, cannot all slip past check() (see LoginThrottle.reserve).
    const reserved = await throttle.reserve(keys)
    if (reserved.refusal) return refuse(ctx, reserved.refusal, email)
    const account = accounts.verify(email, password)
    if (!account) {
      if (reserved.spentForMs > 0) {
        // Once per budget window, and nothing about who failed: the line is for the operator.
        const { failureBudget, budgetWindowMs } = throttle.options
        logger.warn(
          {
            failures: failureBudget,
            windowS: budgetWindowMs / 1000,
            retryAfterS: Math.ceil(reserved.spentForMs / 1000),
          },
          'login failure budget spent: every login is refused until its window ends',
        )
      }
      ctx.status = 401
      await ctx.render('login', { error: 'Wrong email or password.', email })
      return
    }
    await throttle.succeedReserved(keys)
    // A new session holding the identity and a random id (what logout
    // revokes) only: nothing from before the login carries over, and no token
    // or secret is ever put in it.
    ctx.session = null
    ctx.session = { uid: account.id, sid: newSessionId() } as never
    ctx.redirect('/')
  })
  router.post('/logout', sameOrigin, async (ctx) => {
    // Ends the session everywhere: a copy of this cookie is refused by every instance from now on.
    const sid = (ctx.session as Record<string, unknown> | null)?.['sid']
    if (SessionRevocations.isSessionId(sid)) await revocations.revoke(sid)
    ctx.session = null
    ctx.redirect('/login')
  })
  return router
}

/** 429 with Retry-After: the same answer for a locked key and a spent budget (which one it is helps only an attacker). */
async function refuse(ctx: Context, refusal: Refusal, email: string): Promise<void> {
  ctx.status = 429
  ctx.set('Retry-After', String(Math.ceil(refusal.retryAfterMs / 1000)))
  await ctx.render('login', { error: 'Too many failed attempts. Try again later.', email })
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
