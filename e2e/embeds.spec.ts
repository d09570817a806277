/**
 * The whole chain in a real browser: log in, and every vendor flow works
 * with tokens minted for this user by the server — the Returning.AI widget
 * through the proxy flow and through the Widget SDK, and the chatbot.
 */
import type { Page } from '@playwright/test'
import {
  chatbot,
  expect,
  lazyWidget,
  lazyWidgetSrc,
  sdkWidget,
  sdkWidgetStatus,
  test,
  watchCspViolations,
  widgetStatus,
} from './fixtures.ts'
import { CANARIES, type Stack } from './stack.ts'

const vendorCalls = (stack: Stack): number =>
  stack.returning.received.length + stack.returningSdk.received.length + stack.caramelo.received.length

/** Every request `page` makes for the Widget SDK script from now on (cache hits included). */
function sdkScriptRequests(page: Page, stack: Stack): string[] {
  const requests: string[] = []
  page.on('request', (request) => {
    if (request.url() === stack.returningSdk.sdkUrl) requests.push(`${request.frame().url()} → ${request.url()}`)
  })
  return requests
}

test('an anonymous visitor is sent to the login page and no vendor is called', async ({ page, stack }) => {
  const before = vendorCalls(stack)
  await page.goto('/')
  await expect(page).toHaveURL(/\/login$/)
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible()
  expect(vendorCalls(stack)).toBe(before)
})

test('alice sees both widget flows signed in as herself and the chatbot greets her, with no CSP violation', async ({
  page,
  stack,
  login,
}) => {
  const violations = await watchCspViolations(page)
  const sdkScripts = sdkScriptRequests(page, stack)
  const from = { minted: stack.returningSdk.minted.length, validated: stack.returningSdk.validated.length }
  await login('alice@example.com')

  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Alice!')
  await expect(widgetStatus(page)).toHaveText('Signed in as alice@example.com')
  await expect(sdkWidgetStatus(page)).toHaveText('Signed in as alice@example.com')
  await expect(chatbot(page)).toHaveText('Hi Alice! How can I help?')
  // The client bundle ran: the page's CSP admits our own scripts too.
  await expect(page.locator('html')).toHaveAttribute('data-client', 'ready')

  const signin = stack.returning.received.filter((r) => r.path === '/widget/e2e-community/signin').at(-1)
  expect(signin?.headers['email']).toBe('alice@example.com')
  const auth = stack.caramelo.received.filter((r) => r.path.endsWith('/intranet-auth')).at(-1)
  expect(JSON.parse(auth?.body ?? '{}')).toMatchObject({ email: 'alice@example.com', name: 'Alice', lang: 'en' })
  expect(stack.caramelo.sockets.at(-1)?.accepted).toBe(true)

  // The SDK flow: one embed token for the session's user, in the element, validated by the SDK from our page.
  const minted = stack.returningSdk.minted.slice(from.minted)
  expect(minted.map((m) => m.identifiers)).toEqual([
    { 'data-email': 'alice@example.com', 'data-user-id': 'usr_alice_5f1c2a' },
  ])
  await expect(sdkWidget(page)).toHaveAttribute('embed-token', minted[0]?.token ?? 'none minted')
  await expect(sdkWidget(page)).toHaveAttribute('community-id', 'e2e-community')
  expect(stack.returningSdk.validated.slice(from.validated)).toEqual([
    expect.objectContaining({ token: minted[0]?.token, valid: true, origin: new URL(stack.url).origin }),
  ])
  // Once per page, from the page itself.
  expect(sdkScripts).toEqual([`${stack.url}/ → ${stack.returningSdk.sdkUrl}`])
  await expect(page.locator(`script[src="${stack.returningSdk.sdkUrl}"]`)).toHaveCount(1)

  expect(violations).toEqual([])
  // The watch works: a violation of this very page's policy is reported.
  await page.evaluate(() => {
    const base = document.createElement('base')
    base.href = 'https://not-allowed.invalid/'
    document.head.append(base)
  })
  await expect.poll(() => violations.join('\n')).toContain('base-uri')
})

test('both client entries run under the page’s CSP: the shared styles, and a dynamically imported chunk with its CSS', async ({
  page,
  login,
}) => {
  const violations = await watchCspViolations(page)
  const tipsCss = page.waitForResponse((response) => /\/help-tips[-.\w]*\.css(\?|$)/.test(response.url()))
  await login('alice@example.com')

  // The styles live in a chunk both entries share: the server linked its CSS (production) or Vite injected it (dev).
  await expect(page.locator('header.bar')).toHaveCSS('background-color', 'rgb(255, 255, 255)')
  await expect(page.locator('html')).toHaveAttribute('data-client', 'ready')
  // The second entry imported the tips on demand; their own CSS came with them.
  const tips = page.locator('[data-help] .help-tips')
  await expect(tips).toHaveText('Tip: ask the assistant about your rewards and milestones.')
  await expect(tips).toHaveCSS('border-left-color', 'rgb(37, 99, 235)')
  await expect(page.locator('html')).toHaveAttribute('data-help', 'ready')
  expect((await tipsCss).ok()).toBe(true)
  expect(violations).toEqual([])
})

test('bob gets his own tokens, and a reload mints a new chatbot token and a new embed token', async ({
  page,
  stack,
  login,
}) => {
  const sdkScripts = sdkScriptRequests(page, stack)
  await login('bob@example.com')
  await expect(widgetStatus(page)).toHaveText('Signed in as bob@example.com')
  await expect(sdkWidgetStatus(page)).toHaveText('Signed in as bob@example.com')
  await expect(chatbot(page)).toHaveText('Hi Bob! How can I help?')
  const first = { chat: stack.caramelo.minted.at(-1)?.token, embed: stack.returningSdk.minted.at(-1)?.token }

  await page.reload()
  await expect(chatbot(page)).toHaveText('Hi Bob! How can I help?')
  await expect(sdkWidgetStatus(page)).toHaveText('Signed in as bob@example.com')
  const second = stack.caramelo.minted.at(-1)?.token
  expect(second).toBeDefined()
  expect(second).not.toBe(first.chat)
  expect(stack.caramelo.minted.at(-1)?.externalCustomerId).toBe('usr_bob_9d7e40')
  const embed = stack.returningSdk.minted.at(-1)
  expect(embed?.identifiers).toEqual({ 'data-email': 'bob@example.com', 'data-user-id': 'usr_bob_9d7e40' })
  expect(embed?.token).not.toBe(first.embed)
  await expect(sdkWidget(page)).toHaveAttribute('embed-token', embed?.token ?? 'none minted')
  // Once per page load.
  expect(sdkScripts).toHaveLength(2)
})

test('the home page’s own content ends with a footer that follows every directive', async ({ page, stack, login }) => {
  await login('alice@example.com')
  await expect(widgetStatus(page)).toHaveText('Signed in as alice@example.com')
  await expect(sdkWidgetStatus(page)).toHaveText('Signed in as alice@example.com')
  await expect(chatbot(page)).toHaveText('Hi Alice! How can I help?')
  // Out of order, the footer arrives first: the whole document is in once it has loaded.
  await page.waitForLoadState('load')
  const footer = page.getByRole('contentinfo')
  await expect(footer).toContainText('Eta embeds demo')

  // What each directive rendered: both widgets of the proxy flow, the SDK's element and script, the chatbot's two scripts.
  const rendered = {
    'eager widget': 'iframe.eta-embeds-widget[srcdoc]',
    'lazy widget': 'iframe.eta-embeds-widget[loading="lazy"]',
    'SDK widget': 'rai-currency-widget.eta-embeds-widget',
    'SDK script': `script[src="${stack.returningSdk.sdkUrl}"]`,
    'chatbot settings': 'script:not([src])',
    'chatbot SDK': `script[src="${stack.caramelo.sdkUrl}"]`,
  }
  const placed = await footer.evaluate((end, selectors) => {
    return Object.entries(selectors).map(([what, selector]) => {
      const found = [...document.querySelectorAll(selector)].filter(
        (element) => what !== 'chatbot settings' || element.textContent.includes('carameloaiChatbot'),
      )
      const before = found.filter((element) => end.compareDocumentPosition(element) & Node.DOCUMENT_POSITION_PRECEDING)
      return `${what}: ${found.length} found, ${before.length} before the footer`
    })
  }, rendered)
  expect(placed).toEqual(Object.keys(rendered).map((what) => `${what}: 1 found, 1 before the footer`))
  // Nothing of the page's own follows it: the footer is the last element the template wrote in <body>.
  expect(
    await footer.evaluate((end) => {
      const after: string[] = []
      for (let next = end.nextElementSibling; next; next = next.nextElementSibling) after.push(next.outerHTML)
      return after.filter((html) => !html.startsWith('<div id="carameloai-chatbot"'))
    }),
  ).toEqual([])
})

test('a wrong password is refused with a message', async ({ page }) => {
  await page.goto('/login')
  await page.getByLabel('Email').fill('alice@example.com')
  await page.getByLabel('Password').fill('not-the-password')
  await page.getByRole('button', { name: 'Log in' }).click()
  await expect(page.getByRole('alert')).toHaveText('Wrong email or password.')
  await expect(page).toHaveURL(/\/login$/)
})

test('logging out ends the session', async ({ page, login }) => {
  await login('alice@example.com')
  await page.getByRole('button', { name: 'Log out' }).click()
  await expect(page).toHaveURL(/\/login$/)
  await page.goto('/')
  await expect(page).toHaveURL(/\/login$/)
})

test('the home page is not stored and carries a per-response CSP nonce', async ({ page, login }) => {
  await login('alice@example.com')
  const first = await page.request.get('/')
  const second = await page.request.get('/')
  expect(first.headers()['cache-control']).toBe('no-store')
  expect(first.headers()['vary']).toMatch(/cookie/i)
  expect(first.headers()['referrer-policy']).toBe('no-referrer')
  const nonce = (csp: string | undefined) => /'nonce-([^']+)'/.exec(csp ?? '')?.[1]
  expect(nonce(first.headers()['content-security-policy'])).toBeTruthy()
  expect(nonce(first.headers()['content-security-policy'])).not.toBe(nonce(second.headers()['content-security-policy']))
})

test('a lazy widget loads from our session-authenticated route, with no token in its URL', async ({ page, login }) => {
  await login('alice@example.com')
  const frame = lazyWidget(page)
  await expect(frame).toHaveAttribute(
    'src',
    /^\/_embeds\/widget\?vendor=returning-proxy&fallback=partials%2Fwidget-unavailable&height=200&id=demo-milestones&title=Milestones&type=milestone&sig=[\w-]{43}$/,
  )
  await frame.scrollIntoViewIfNeeded()
  await expect(page.frameLocator('iframe.eta-embeds-widget[loading="lazy"]').locator('#widget-status')).toHaveText(
    'Signed in as alice@example.com',
  )
  const direct = await page.request.get(await lazyWidgetSrc(page))
  expect(direct.status()).toBe(200)
  expect(direct.headers()['cache-control']).toBe('no-store')
  expect(direct.headers()['content-security-policy']).toContain("frame-ancestors 'self'")
})

test('the lazy route serves only frames the server signed: another id, vendor, template name or parameter is refused', async ({
  page,
  login,
  stack,
}) => {
  await login('alice@example.com')
  const signed = await lazyWidgetSrc(page)
  const before = stack.returning.received.length
  for (const forged of [
    '/_embeds/widget?type=store&id=nope-1',
    signed.replace('id=demo-milestones', 'id=nope-1'),
    '/_embeds/widget?fallback=login',
    signed.replace('partials%2Fwidget-unavailable', 'login'),
    signed.replace('vendor=returning-proxy', 'vendor=returning-sdk'),
    `${signed}&id=nope-1`,
    `${signed}&email=bob%40example.com`,
  ]) {
    const response = await page.request.get(forged)
    expect(response.status(), forged).toBe(403)
    expect(await response.text(), forged).not.toContain('Password')
  }
  // The page's own widgets keep talking to the vendor meanwhile: look for the forged id only.
  expect(stack.returning.received.slice(before).filter((r) => r.path.includes('nope-1'))).toEqual([])
})

test('the lazy route answers nobody without a session and calls no vendor', async ({ playwright, stack }) => {
  const anonymous = await playwright.request.newContext({ baseURL: stack.url })
  const before = stack.returning.received.length
  const response = await anonymous.get('/_embeds/widget?type=store&id=e2e-store')
  expect(response.status()).toBe(401)
  expect(stack.returning.received.length).toBe(before)
  await anonymous.dispose()
})

test('the runtime counts vendor calls and cache use at /metrics, for the bearer of METRICS_TOKEN only', async ({
  page,
  login,
  playwright,
  stack,
}) => {
  await login('alice@example.com')
  await expect(widgetStatus(page)).toHaveText('Signed in as alice@example.com')
  await expect(sdkWidgetStatus(page)).toHaveText('Signed in as alice@example.com')
  // A logged-in user is not the operator: the browser's own session gets no counters.
  const asUser = await page.request.get('/metrics')
  expect(asUser.status()).toBe(401)
  expect(asUser.headers()['www-authenticate']).toBe('Bearer realm="metrics"')
  expect(await asUser.text()).not.toContain('eta_embeds')

  // The scraper: its own client, outside the browser, with the token.
  const scraper = await playwright.request.newContext({
    baseURL: stack.url,
    extraHTTPHeaders: { authorization: `Bearer ${CANARIES.metricsToken}` },
  })
  const response = await scraper.get('/metrics')
  expect(response.status()).toBe(200)
  const metrics = await response.text()
  await scraper.dispose()
  // Labelled by adapter name: each flow of <<widget>> is a vendor of its own.
  for (const vendor of ['returning-proxy', 'returning-sdk', 'caramelo']) {
    expect(metrics).toMatch(new RegExp(`^eta_embeds_vendor_calls_total\\{vendor="${vendor}"\\} [1-9]\\d*$`, 'm'))
    expect(metrics).toContain(`eta_embeds_breaker_state{vendor="${vendor}",state="closed"} 1`)
  }
  expect(metrics).toMatch(/^eta_embeds_cache_misses_total\{kind="widget_page"\} [1-9]\d*$/m)
  expect(metrics).toMatch(/^eta_embeds_cache_misses_total\{kind="sdk_token"\} \d+$/m)
})
