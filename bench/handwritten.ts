/**
 * The reference that `npm run bench` (bench/http.ts) measures the demo against
 * (issue 6): the vendors' own sample flows written by hand in one plain Koa
 * middleware, as a competent developer would from the vendors' docs — one call after
 * the other with global `fetch`, nothing cached, nothing shared between page
 * views. It answers the same shape as the demo's home page (templates/home.eta),
 * so that both do the same vendor work per view: the widget document (token
 * injected, `<base href>` added, the page's nonce on its scripts) in an
 * `<iframe srcdoc>`; the milestones widget as a lazy frame whose document is
 * served by a route of its own (no vendor call while rendering the page); the
 * currency widget's `<rai-currency-widget>` element with a fresh embed token
 * and the Widget SDK script; the chatbot's config script followed by the
 * authenticated SDK.
 *
 * It is simpler than the demo server, and that favours it: a fixed user (alice)
 * instead of a signed session cookie, no request log, no deadlines, no
 * fallbacks (a vendor failure is a 500), a lazy frame URL that is a fixed path
 * (no signature to compute, one widget only) and no per-user budget on it.
 *
 * Reads the demo's environment names (README "Configuration"). bench/http.ts
 * transpiles this file to plain JavaScript and runs it under `node`, like the
 * production server, so neither side carries a TypeScript loader.
 */
import { randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import Koa from 'koa'

/** The demo's alice (server/accounts.ts), fixed: this server has no sessions. */
const USER = { id: 'usr_alice_5f1c2a', email: 'alice@example.com', name: 'Alice', lang: 'en' }

type Env = Record<string, string | undefined>

interface Vendors {
  widgetBaseUrl: string
  widgetApiKey: string
  communityId: string
  widgetType: string
  widgetId: string
  sdkApiUrl: string
  sdkUrl: string
  accessId: string
  accessKey: string
  carameloApiUrl: string
  carameloSdkUrl: string
  carameloProjectId: string
  carameloSecretToken: string
}

function required(env: Env, name: string): string {
  const value = env[name]
  if (!value) throw new TypeError(`${name} is required`)
  return value
}

function vendorsFromEnv(env: Env): Vendors {
  return {
    widgetBaseUrl: required(env, 'WIDGET_BASE_URL'),
    widgetApiKey: required(env, 'WIDGET_API_KEY'),
    communityId: required(env, 'WIDGET_COMMUNITY_ID'),
    widgetType: env['WIDGET_TYPE'] || 'store',
    widgetId: required(env, 'WIDGET_ID'),
    sdkApiUrl: env['RAI_V2_API_URL'] || 'https://api-v2.returning.ai',
    sdkUrl: required(env, 'RAI_SDK_URL'),
    accessId: required(env, 'RAI_ACCESS_ID'),
    accessKey: required(env, 'RAI_ACCESS_KEY'),
    carameloApiUrl: required(env, 'CARAMELO_API_URL'),
    carameloSdkUrl: required(env, 'CARAMELO_SDK_URL'),
    carameloProjectId: required(env, 'CARAMELO_PROJECT_ID'),
    carameloSecretToken: required(env, 'CARAMELO_SECRET_TOKEN'),
  }
}

async function okResponse(what: string, answer: Promise<Response>): Promise<Response> {
  const response = await answer
  if (!response.ok) throw new Error(`${what} answered ${response.status}`)
  return response
}

/** The widget the page's lazy frame shows (home.eta's second `<<widget>>`), the only one its route serves. */
const LAZY_WIDGET = { type: 'milestone', id: 'demo-milestones' }
const LAZY_PATH = `/widgets/${LAZY_WIDGET.type}/${LAZY_WIDGET.id}`
const SANDBOX = 'allow-scripts allow-forms allow-popups'

/**
 * Returning.AI's proxy flow: sign in, fetch the widget page, put the token in.
 * The document inherits the page's CSP (srcdoc) or gets the same one (the lazy
 * route), so its scripts need the nonce.
 */
async function widgetDocument(v: Vendors, type: string, id: string, nonce: string): Promise<string> {
  const signin = await okResponse(
    'returning signin',
    fetch(`${v.widgetBaseUrl}/widget/${v.communityId}/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'returningai-api-key': v.widgetApiKey, email: USER.email },
    }),
  )
  const { token } = (await signin.json()) as { token: string }
  const documentUrl = `${v.widgetBaseUrl}/${type}/${id}`
  const page = await (await okResponse('returning widget page', fetch(`${documentUrl}?color=light`))).text()
  return page
    .replace('token: ""', `token: ${JSON.stringify(token)}`)
    .replace('<head>', `<head><base href="${documentUrl}">`)
    .replaceAll('<script', `<script nonce="${nonce}"`)
}

/** Returning.AI's Widget SDK flow (Access Key Embed): an embed token for the user, server-to-server. */
async function embedToken(v: Vendors): Promise<string> {
  const answer = await okResponse(
    'returning embed token',
    fetch(`${v.sdkApiUrl}/v2/api/widget-access-keys/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        accessId: v.accessId,
        accessKey: v.accessKey,
        userIdentifiers: { 'data-email': USER.email, 'data-user-id': USER.id },
      }),
    }),
  )
  const { data } = (await answer.json()) as { data: { embedToken: string } }
  return data.embedToken
}

/** Caramelo's authenticated flow: a fresh connection token for this page. */
async function chatbotToken(v: Vendors): Promise<string> {
  const auth = await okResponse(
    'caramelo intranet-auth',
    fetch(`${v.carameloApiUrl}/api/chatbox/project/${v.carameloProjectId}/intranet-auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        secret_token: v.carameloSecretToken,
        external_customer_id: USER.id,
        name: USER.name,
        email: USER.email,
        lang: USER.lang,
      }),
    }),
  )
  const { real_time_access_token } = (await auth.json()) as { real_time_access_token: string }
  return real_time_access_token
}

function attribute(value: string): string {
  return value.replaceAll('&', '&amp;').replaceAll('"', '&quot;')
}

/** What the page's vendor calls answered. */
interface Embeds {
  widget: string
  embedToken: string
  chatToken: string
}

function page(v: Vendors, nonce: string, { widget, embedToken, chatToken }: Embeds): string {
  const chatbot = JSON.stringify({ secure_connection_token: chatToken, project_id: v.carameloProjectId })
  return `<!doctype html>
<html lang="${USER.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Home · Eta embeds demo</title>
<link rel="stylesheet" href="/assets/main.css">
<script type="module" nonce="${nonce}" src="/assets/main.js"></script></head>
<body>
<header class="bar">
  <h1>Hello, ${USER.name}!</h1>
  <form method="post" action="/logout"><button type="submit">Log out</button></form>
</header>
<main>
  <section class="card">
    <h2>Your rewards</h2>
    <iframe title="Rewards store" height="260" sandbox="${SANDBOX}" referrerpolicy="no-referrer" srcdoc="${attribute(widget)}"></iframe>
  </section>
  <section class="card">
    <h2>Milestones</h2>
    <iframe title="Milestones" height="200" sandbox="${SANDBOX}" referrerpolicy="no-referrer" loading="lazy" src="${LAZY_PATH}"></iframe>
  </section>
  <section class="card">
    <h2>Currency</h2>
    <rai-currency-widget community-id="${attribute(v.communityId)}" embed-token="${attribute(embedToken)}" theme="light" height="200" title="Your currency" v2-api-url="${attribute(v.sdkApiUrl)}"></rai-currency-widget><script nonce="${nonce}" src="${attribute(v.sdkUrl)}"></script>
  </section>
  <section class="card">
  <h2>Need help?</h2>
  <p>Our assistant sits in the corner of this page.</p>
</section>
</main>
<script nonce="${nonce}">var carameloaiChatbot = ${chatbot};</script><script nonce="${nonce}" src="${v.carameloSdkUrl}"></script>
<footer class="bar">
  <p>Eta embeds demo · the widgets and the assistant are served by their vendors.</p>
</footer>
</body>
</html>
`
}

function setPageHeaders(ctx: Koa.Context, nonce: string, extraCsp = ''): void {
  ctx.set('Cache-Control', 'no-store')
  ctx.set('Content-Security-Policy', `script-src 'nonce-${nonce}' 'strict-dynamic'; object-src 'none'${extraCsp}`)
  ctx.type = 'html'
}

/** The hand-written app: `GET /`, and the lazy frame's document. */
export function handwrittenApp(env: Env): Koa {
  const vendors = vendorsFromEnv(env)
  const app = new Koa()
  app.use(async (ctx) => {
    if (ctx.method !== 'GET') return
    const nonce = randomBytes(16).toString('base64')
    if (ctx.path === LAZY_PATH) {
      const document = await widgetDocument(vendors, LAZY_WIDGET.type, LAZY_WIDGET.id, nonce)
      setPageHeaders(ctx, nonce, `; sandbox ${SANDBOX}`)
      ctx.body = document
      return
    }
    if (ctx.path !== '/') return
    // Sequential, as in the vendors' samples: one flow after the other, in the page's order.
    const widget = await widgetDocument(vendors, vendors.widgetType, vendors.widgetId, nonce)
    const token = await embedToken(vendors)
    const chatToken = await chatbotToken(vendors)
    setPageHeaders(ctx, nonce)
    ctx.body = page(vendors, nonce, { widget, embedToken: token, chatToken })
  })
  return app
}

const isMain = process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url
if (isMain) {
  const host = process.env['HOST'] || '127.0.0.1'
  const server = handwrittenApp(process.env).listen(Number(process.env['PORT'] ?? 3001), host, () => {
    console.log(`handwritten listening on ${JSON.stringify(server.address())}`)
  })
  // An orderly exit on SIGTERM, so that `node --cpu-prof` writes its profile.
  process.once('SIGTERM', () => process.exit(0))
}
