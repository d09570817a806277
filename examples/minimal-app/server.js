import { randomBytes } from 'node:crypto'
import Koa from 'koa'
import session from 'koa-session'
import { builtTemplates, embeds, vendorsFromEnv, viteDev } from 'vite-plugin-eta-embeds/runtime'
import { LOCAL_VENDORS } from 'vite-plugin-eta-embeds/stubs'

// `npm run dev` passes --dev: templates from Vite, reloaded on save. Otherwise the build's.
const dev = process.argv.includes('--dev')

// A real app checks a password and looks the user up; this one has a single demo user.
const USER = { id: 'usr_ada_1815', email: 'ada@example.com', name: 'Ada', lang: 'en' }

// Each vendor is configured from its environment variables (WIDGET_*, RAI_*, CARAMELO_*).
// One whose secret is unset is served by its built-in local stub, so the app works with no setup.
const vendors = vendorsFromEnv(process.env)
for (const [name, startStub] of Object.entries(LOCAL_VENDORS)) {
  if (vendors.some((vendor) => vendor.definition.name === name)) continue
  const stub = await startStub(process.env)
  vendors.push(...vendorsFromEnv(stub.env))
  console.log(`${name} is not configured: using its local stub at ${stub.url}`)
}

const app = new Koa()
app.keys = process.env.SESSION_KEYS ? process.env.SESSION_KEYS.split(',') : [randomBytes(32).toString('base64url')]
app.use(session({ sameSite: 'lax' }, app))

// Identity comes from the signed session cookie, never from the request's query, body or headers.
app.use(async (ctx, next) => {
  ctx.state.user = ctx.session.uid === USER.id ? USER : undefined
  await next()
})

const embedsMiddleware = embeds({
  templates: dev ? await viteDev() : builtTemplates(new URL('./dist/server/templates.js', import.meta.url)),
  vendors,
  user: (ctx) => ctx.state.user,
  locals: (ctx) => ({ user: ctx.state.user }),
})
app.use(embedsMiddleware)

app.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/') return ctx.render('page')
  if (ctx.method === 'POST' && ctx.path === '/login') {
    ctx.session.uid = USER.id
    return ctx.redirect('/')
  }
  await next()
})

const server = app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address()
  console.log(`listening on http://${address}:${port}`)
})

// Ctrl-C: stop taking requests, close the vendor connections and the dev server, then exit.
process.once('SIGINT', async () => {
  server.close()
  await embedsMiddleware.close()
  process.exit()
})
