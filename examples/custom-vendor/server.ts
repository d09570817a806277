/**
 * A page with the app's own Acme Help panel beside a built-in widget, served as an app serves it in
 * development (Vite in middleware mode, a signed session): what `acme-help.kit.spec.ts` starts against
 * the testing kit's stubs. With `ACME_LEAKY=1` it logs every panel it renders, session token included:
 * the mistake the kit must catch in an app's own vendor too.
 */
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Koa from 'koa'
import session from 'koa-session'
import { etaEmbeds } from 'vite-plugin-eta-embeds'
import { defineVendor, embeds, vendorsFromEnv, viteDev } from 'vite-plugin-eta-embeds/runtime'
import { acmeHelp } from './acme-help.ts'

const USER = { id: 'usr_ada_1815', email: 'ada@example.com', name: 'Ada', lang: 'en' }

/** Acme Help, but writing each panel it renders to the log. */
const loggingAcmeHelp = defineVendor({
  ...acmeHelp.definition,
  async embed(request) {
    const embed = await acmeHelp.definition.embed(request)
    console.log(`rendered ${typeof embed === 'string' ? embed : embed.html}`)
    return embed
  },
})

// Development, as `viteDev()` runs it: Vite in middleware mode, its client and HMR in each page.
const templates = await viteDev({
  root: path.dirname(fileURLToPath(import.meta.url)),
  config: { configFile: false, logLevel: 'silent', plugins: [etaEmbeds({ vendors: [acmeHelp] })] },
})

const app = new Koa()
app.keys = [process.env['SESSION_KEYS'] ?? randomBytes(32).toString('base64url')]
app.use(session({ sameSite: 'lax' }, app))
// Identity comes from the signed session cookie only.
app.use(async (ctx, next) => {
  const uid = (ctx.session as Record<string, unknown> | null)?.['uid']
  ctx.state['user'] = uid === USER.id ? USER : undefined
  await next()
})
app.use(
  embeds({
    templates,
    // Acme is configured from ACME_HELP_API_KEY and ACME_HELP_URL, as the built-ins from theirs.
    vendors: vendorsFromEnv(process.env, [process.env['ACME_LEAKY'] === '1' ? loggingAcmeHelp : acmeHelp]),
    user: (ctx) => ctx.state['user'],
    locals: (ctx) => ({ user: ctx.state['user'] as unknown }),
  }),
)
app.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/') return ctx.render('page')
  if (ctx.method === 'POST' && ctx.path === '/login') {
    ctx.session = { uid: USER.id } as never
    return ctx.redirect('/')
  }
  await next()
})

const server = app.listen(Number(process.env['PORT'] ?? 3000), process.env['HOST'] ?? '127.0.0.1', () => {
  const address = server.address()
  if (address && typeof address === 'object') console.log(`listening on http://${address.address}:${address.port}`)
})
