import { randomBytes } from 'node:crypto'
import Koa from 'koa'
import session from 'koa-session'
import { builtTemplates, carameloFromEnv, etaEmbeds, returningFromEnv } from 'vite-plugin-eta-embeds/runtime'
import { startCarameloStub, startReturningStub } from 'vite-plugin-eta-embeds/stubs'

// A real app checks a password and looks the user up; this one has a single demo user.
const USER = { id: 'usr_ada_1815', email: 'ada@example.com', name: 'Ada', lang: 'en' }

// The vendors come from WIDGET_* and CARAMELO_*; a vendor whose secret is unset is served by a local stub.
const returning = returningFromEnv(process.env) ?? (await returningStub())
const caramelo = carameloFromEnv(process.env) ?? (await carameloStub())

const app = new Koa()
app.keys = process.env.SESSION_KEYS ? process.env.SESSION_KEYS.split(',') : [randomBytes(32).toString('base64url')]
app.use(session({ sameSite: 'lax' }, app))

// Identity comes from the signed session cookie, never from the request's query, body or headers.
app.use(async (ctx, next) => {
  ctx.state.user = ctx.session.uid === USER.id ? USER : undefined
  await next()
})

app.use(
  etaEmbeds({
    templates: builtTemplates(new URL('./dist/server/templates.js', import.meta.url)),
    returning,
    caramelo,
    user: (ctx) => ctx.state.user,
    locals: (ctx) => ({ user: ctx.state.user }),
  }),
)

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

async function returningStub() {
  const apiKey = randomBytes(24).toString('base64url')
  const stub = await startReturningStub({ apiKey, communityId: 'demo-community' })
  console.log(`WIDGET_API_KEY is unset: Returning.AI is a local stub at ${stub.url}`)
  return { baseUrl: stub.url, apiKey, communityId: 'demo-community', widgetId: 'demo-store' }
}

async function carameloStub() {
  const secretToken = randomBytes(24).toString('base64url')
  const stub = await startCarameloStub({ secretToken, projectId: 'demo-project' })
  console.log(`CARAMELO_SECRET_TOKEN is unset: Caramelo AI is a local stub at ${stub.apiUrl}`)
  return { apiUrl: stub.apiUrl, sdkUrl: stub.sdkUrl, projectId: 'demo-project', secretToken }
}
