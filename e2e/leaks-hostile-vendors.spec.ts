/**
 * SPEC invariant 6 — vendor values are encoded for their context: a hostile
 * widget page or token cannot run script in our page or break out of the
 * `srcdoc` attribute; values the runtime refuses give the fallback.
 */
import type { Page } from '@playwright/test'
import {
  chatbot,
  expect,
  lazyWidget,
  lazyWidgetSrc,
  lazyWidgetStatus,
  logIn,
  sdkWidget,
  sdkWidgetStatus,
  test,
  widgetStatus,
} from './fixtures.ts'
import { ALICE, expectFallbacks, expectHome, expectNowhere, fallbackCauses, inlineScripts } from './leak-helpers.ts'
import { logEntries, type Recorder } from '../testing/index.ts'

// Swapped widget pages must reach every render: the stub's page says it is
// never cacheable here, and the server is told to honour that.
test.use({
  stackOptions: {
    returning: { widgetPageCacheControl: 'no-store' },
    env: { EMBEDS_WIDGET_PAGE_CACHE: 'vendor' },
  },
})

test.afterEach(({ stack }) => {
  stack.returning.setWidgetPage(undefined)
  stack.returning.setTokenOverride(undefined)
  stack.returningSdk.setTokenOverride(undefined)
  stack.caramelo.setTokenOverride(undefined)
})

/**
 * Nothing ran in or was added to our page: no dialog, no `window.pwned`, no image, no frame but one
 * lazy widget and at most one eager one. Checked once the page has loaded, before anything else.
 */
async function expectNoInjection(page: Page, recorder: Recorder): Promise<void> {
  await page.waitForLoadState('load')
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Alice!')
  expect(
    recorder.of('dialog').map((entry) => `${entry.where}: ${entry.text}`),
    'dialogs',
  ).toEqual([])
  expect(await page.evaluate(() => (window as { pwned?: unknown }).pwned), 'window.pwned in our page').toBeUndefined()
  expect(await page.locator('img').count(), 'images in our page').toBe(0)
  expect(await page.locator('iframe:not(.eta-embeds-widget)').count(), 'foreign frames').toBe(0)
  expect(await page.locator('iframe.eta-embeds-widget[loading="lazy"]').count(), 'lazy widget frames').toBe(1)
  expect(await page.locator('iframe.eta-embeds-widget[srcdoc]').count(), 'eager widget frames').toBeLessThanOrEqual(1)
  // The SDK widget is an element of our page: nothing may have closed it early or added a sibling of its kind.
  expect(await page.locator('[embed-token]').count(), 'elements with an embed token').toBeLessThanOrEqual(1)
  expect(await page.locator('[embed-token]:not(rai-currency-widget)').count(), 'other embed-token holders').toBe(0)
  expect(await page.locator('script[src*="/sdk/widget-sdk.js"]').count(), 'Widget SDK scripts').toBeLessThanOrEqual(1)
}

const HOSTILE_PAGE = `<!doctype html><html><head><title>w</title></head><body>
</iframe><script>window.pwned=1;alert(1)</script><img src=x onerror="window.pwned=2;alert(2)">
<p id="widget-status">hostile page shown</p>
<script>window.__WIDGET_INIT__ = { token: "", note: "\\"</script><script>window.pwned=4;alert(4)</script>" };</script>
<a href='x' title="'&quot;></iframe>">'</a>
</body></html>`

test('a widget page with markup that would end the iframe, and a " and </script> in the token script', async ({
  page,
  recorder,
  stack,
}) => {
  stack.returning.setWidgetPage(HOSTILE_PAGE)
  await logIn(page, ALICE.email)
  await expectNoInjection(page, recorder)
  const frame = page.frameLocator('iframe.eta-embeds-widget[srcdoc]')
  await expect(frame.locator('#widget-status')).toHaveText('hostile page shown')
  await lazyWidget(page).scrollIntoViewIfNeeded()
  await expect(lazyWidgetStatus(page)).toHaveText('hostile page shown')
  await expect(chatbot(page)).toHaveText('Hi Alice! How can I help?')
  await expectNoInjection(page, recorder)
  await expect(page.locator('iframe.eta-embeds-widget[srcdoc]')).toHaveCount(1)
  // The vendor's scripts run only in the widget's own opaque origin.
  for (const child of page.mainFrame().childFrames()) {
    expect(await child.evaluate(() => window.origin), child.url()).toBe('null')
  }
})

for (const [name, html] of [
  ['no token placeholder', HOSTILE_PAGE.replace('token: ""', 'token: null')],
  ['two token placeholders', HOSTILE_PAGE.replace('note:', 'token: "", note:')],
] as const) {
  test(`a widget page with ${name} is refused: fallback, never a widget without its token`, async ({
    page,
    recorder,
    stack,
  }) => {
    stack.returning.setWidgetPage(html)
    await logIn(page, ALICE.email)
    await expectNoInjection(page, recorder)
    await expectFallbacks(page, { widget: true, sdk: false, caramelo: false })
    await expectNoInjection(page, recorder)
    stack.returning.setWidgetPage(undefined)
    await page.reload()
    await expectHome(page, ALICE)
  })
}

for (const token of ['"</script><script>window.pwned=3;alert(3)</script>', '<!--<script>\'\\u2028";window.pwned=6//']) {
  test(`a Caramelo token ${JSON.stringify(token)} reaches the SDK intact and runs nothing`, async ({
    page,
    recorder,
    stack,
  }) => {
    stack.caramelo.setTokenOverride(token)
    await logIn(page, ALICE.email)
    await expectNoInjection(page, recorder)
    // The chat accepted the token: it arrived at the vendor byte for byte.
    await expect(chatbot(page)).toHaveText('Hi Alice! How can I help?')
    expect(stack.caramelo.sockets.at(-1)).toMatchObject({ token, accepted: true })
    await expectNoInjection(page, recorder)
    expect(await inlineScripts(page, 'carameloaiChatbot')).toBe(1)
  })
}

test('a Caramelo token with U+2028 is refused: the chat fallback', async ({ page, recorder, stack }) => {
  stack.caramelo.setTokenOverride('line\u2028separator-token')
  await logIn(page, ALICE.email)
  await expectNoInjection(page, recorder)
  await expectFallbacks(page, { widget: false, sdk: false, caramelo: true })
  await expect(widgetStatus(page)).toHaveText(`Signed in as ${ALICE.email}`)
  await expectNoInjection(page, recorder)
})

test('a Returning.AI token that is not JWT-shaped is refused: the widget fallbacks', async ({
  page,
  recorder,
  stack,
}) => {
  stack.returning.setTokenOverride('not-a-jwt"</script><script>window.pwned=5;alert(5)</script>')
  await logIn(page, ALICE.email)
  await expectNoInjection(page, recorder)
  await expectFallbacks(page, { widget: true, sdk: false, caramelo: false })
  await expectNoInjection(page, recorder)
  stack.returning.setTokenOverride(undefined)
  await page.reload()
  await expectHome(page, ALICE)
})

// The Widget SDK flow puts the embed token in an attribute of an element of OUR page (no frame around
// it): a value that is not a JWT is refused before it gets there, whatever it holds.
for (const token of [
  '"><script>window.pwned=7;alert(7)</script>',
  "' onfocus='window.pwned=8' autofocus x='",
  '</rai-currency-widget><script>window.pwned=9;alert(9)</script><rai-currency-widget>',
  'a.b.c" onload="window.pwned=10',
]) {
  test(`a Widget SDK embed token ${JSON.stringify(token)} is refused: the SDK widget's fallback, nothing runs`, async ({
    page,
    recorder,
    stack,
  }) => {
    stack.returningSdk.setTokenOverride(token)
    const from = stack.logs.length
    await logIn(page, ALICE.email)
    await expectNoInjection(page, recorder)
    await expectFallbacks(page, { widget: false, sdk: true, caramelo: false })
    await expect(widgetStatus(page)).toHaveText(`Signed in as ${ALICE.email}`)
    await expect(chatbot(page)).toHaveText('Hi Alice! How can I help?')
    await expect.poll(() => fallbackCauses(stack, from)).toEqual(['returning-sdk:ERR_VENDOR_BODY'])
    await expectNoInjection(page, recorder)
    // Nothing of the token reached the browser or a log line, not even escaped.
    expectNowhere([...(await recorder.finish()), ...logEntries(stack.logs)], token, 'the refused token')
    stack.returningSdk.setTokenOverride(undefined)
    await page.reload()
    await expectHome(page, ALICE)
  })
}

test('a JWT-shaped Widget SDK token with every character a JWT may hold arrives in the attribute byte for byte', async ({
  page,
  recorder,
  stack,
}) => {
  // Only URL-safe base64 and dots: nothing to escape, and the SDK must get exactly what the vendor minted.
  const token = 'eyJ-_hostile.A-_09az.AZ-_09-_'
  stack.returningSdk.setTokenOverride(token)
  const from = stack.returningSdk.validated.length
  await logIn(page, ALICE.email)
  await expectNoInjection(page, recorder)
  await expect(sdkWidgetStatus(page)).toHaveText(`Signed in as ${ALICE.email}`)
  await expect(sdkWidget(page)).toHaveAttribute('embed-token', token)
  expect(stack.returningSdk.validated.slice(from)).toEqual([expect.objectContaining({ token, valid: true })])
  await expectNoInjection(page, recorder)
})

// The lazy route serves the vendor's page with our nonce on its scripts. Opened as a top-level
// page (a link, a cross-site navigation: the session cookie is SameSite=Lax), the vendor's code
// must still not run in OUR origin, where it could read the user's page and tokens: the route's
// `Content-Security-Policy: sandbox …` makes the document an opaque origin, as the iframe's own
// `sandbox` attribute does inside the page.
test('the lazy route’s widget document runs in an opaque origin even when opened top-level', async ({ page }) => {
  await logIn(page, ALICE.email)
  await page.goto(await lazyWidgetSrc(page))
  await expect(page.locator('#widget-status')).toHaveText(`Signed in as ${ALICE.email}`)
  expect(await page.evaluate(() => window.origin)).toBe('null')
})
