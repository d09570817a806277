/**
 * The whole chain in a real browser: log in, and both vendor widgets work
 * with tokens minted for this user by the server.
 */
import { chatbot, expect, lazyWidget, lazyWidgetSrc, test, widgetStatus } from './fixtures.ts'
import { CANARIES } from './stack.ts'

test('an anonymous visitor is sent to the login page and no vendor is called', async ({ page, stack }) => {
  const before = stack.returning.received.length + stack.caramelo.received.length
  await page.goto('/')
  await expect(page).toHaveURL(/\/login$/)
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible()
  expect(stack.returning.received.length + stack.caramelo.received.length).toBe(before)
})

test('alice sees the widget signed in as herself and the chatbot greets her', async ({ page, stack, login }) => {
  const violations: string[] = []
  page.on('console', (message) => {
    if (/Content.Security.Policy|Refused to/i.test(message.text())) violations.push(message.text())
  })
  await login('alice@example.com')

  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Alice!')
  await expect(widgetStatus(page)).toHaveText('Signed in as alice@example.com')
  await expect(chatbot(page)).toHaveText('Hi Alice! How can I help?')
  // The client bundle ran: the page's CSP admits our own scripts too.
  await expect(page.locator('html')).toHaveAttribute('data-client', 'ready')

  const signin = stack.returning.received.filter((r) => r.path === '/widget/e2e-community/signin').at(-1)
  expect(signin?.headers['email']).toBe('alice@example.com')
  const auth = stack.caramelo.received.filter((r) => r.path.endsWith('/intranet-auth')).at(-1)
  expect(JSON.parse(auth?.body ?? '{}')).toMatchObject({ email: 'alice@example.com', name: 'Alice', lang: 'en' })
  expect(stack.caramelo.sockets.at(-1)?.accepted).toBe(true)
  expect(violations).toEqual([])
})

test('bob gets his own tokens, and a reload mints a new chatbot token', async ({ page, stack, login }) => {
  await login('bob@example.com')
  await expect(widgetStatus(page)).toHaveText('Signed in as bob@example.com')
  await expect(chatbot(page)).toHaveText('Hi Bob! How can I help?')
  const first = stack.caramelo.minted.at(-1)?.token

  await page.reload()
  await expect(chatbot(page)).toHaveText('Hi Bob! How can I help?')
  const second = stack.caramelo.minted.at(-1)?.token
  expect(second).toBeDefined()
  expect(second).not.toBe(first)
  expect(stack.caramelo.minted.at(-1)?.externalCustomerId).toBe('usr_bob_9d7e40')
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
    /^\/_embeds\/widget\?type=milestone&id=demo-milestones&fallback=partials%2Fwidget-unavailable&sig=[\w-]{43}$/,
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

test('the lazy route serves only frames the server signed: another id or a template name is refused', async ({
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
  expect(metrics).toMatch(/^eta_embeds_vendor_calls_total\{vendor="returning"\} [1-9]\d*$/m)
  expect(metrics).toMatch(/^eta_embeds_vendor_calls_total\{vendor="caramelo"\} [1-9]\d*$/m)
  expect(metrics).toMatch(/^eta_embeds_cache_misses_total\{kind="widget_page"\} [1-9]\d*$/m)
  expect(metrics).toContain('eta_embeds_breaker_state{vendor="returning",state="closed"} 1')
})
