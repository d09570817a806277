/**
 * Out-of-order streaming, the demo's mode (issue 12), in Chromium: the page's
 * own content — up to its footer — shows while every vendor is still
 * answering, each embed's room already held; once the vendors answer, both
 * widget flows and the chatbot work in place, nothing on the page moved, and
 * the page's CSP saw no violation. Without JavaScript, the fallbacks show
 * where the embeds would be. The vendors are held by the stubs until the test
 * releases them: no timer decides what the browser sees first.
 */
import type { Page } from '@playwright/test'
import { chatbot, expect, sdkWidgetStatus, test, watchCspViolations, widgetStatus } from './fixtures.ts'
import type { Hold } from '../stubs/index.ts'
import type { Stack } from './stack.ts'

// A held vendor must not reach its deadline before the test lets it answer,
// however busy the machine: the deadline is far beyond the test's own time.
test.use({ stackOptions: { env: { EMBEDS_TIMEOUT_MS: '60000' } } })

/** Holds every vendor's answers; `release()` lets them all go. */
function holdVendors(stack: Stack) {
  const holds: Record<string, Hold> = {
    'returning-proxy': stack.returning.hold(),
    'returning-sdk': stack.returningSdk.hold(),
    caramelo: stack.caramelo.hold(),
  }
  return {
    /** Each vendor's requests arrived and not answered, by vendor. */
    waiting: () => Object.fromEntries(Object.entries(holds).map(([vendor, hold]) => [vendor, hold.waiting > 0])),
    release: () => Object.values(holds).forEach((hold) => hold.release()),
  }
}

const STILL_ANSWERING = { 'returning-proxy': true, 'returning-sdk': true, caramelo: true }

/** The section of the home page that holds the card titled `title`. */
function card(page: Page, title: string) {
  return page.locator('section.card').filter({ has: page.getByRole('heading', { level: 2, name: title }) })
}

test('the footer shows while every vendor is still answering; then both widgets and the chatbot work, nothing moved', async ({
  page,
  stack,
  login,
}) => {
  const violations = await watchCspViolations(page)
  const vendors = holdVendors(stack)
  let footerBefore: { x: number; y: number; width: number; height: number } | null
  const footer = page.getByRole('contentinfo')
  try {
    await login('alice@example.com')
    await expect(footer).toBeVisible()
    await expect(footer).toContainText('Eta embeds demo')
    // Styled (the demo's bars are flex boxes), and the page's own script done (the help card's tips,
    // a dynamic import that adds a line): the layout measured below is the final one's but for the embeds.
    await expect(footer).toHaveCSS('display', 'flex')
    await expect(page.locator('html')).toHaveAttribute('data-help', 'ready')
    // Every vendor has the page's request and has not answered it.
    await expect.poll(vendors.waiting).toEqual(STILL_ANSWERING)
    await expect(page.locator('iframe.eta-embeds-widget[srcdoc]')).toHaveCount(0)
    await expect(page.locator('rai-currency-widget')).toHaveCount(0)
    // The room each embed will take is held: the widgets' heights; the chatbot floats and takes none.
    await expect(card(page, 'Your rewards').locator('eta-embeds-slot')).toHaveCSS('min-height', '260px')
    await expect(card(page, 'Currency').locator('eta-embeds-slot')).toHaveCSS('min-height', '200px')
    await expect(page.locator('main + eta-embeds-slot')).toHaveCSS('display', 'contents')
    footerBefore = await footer.boundingBox()
    expect(vendors.waiting()).toEqual(STILL_ANSWERING)
  } finally {
    vendors.release()
  }

  await expect(widgetStatus(page)).toHaveText('Signed in as alice@example.com')
  await expect(sdkWidgetStatus(page)).toHaveText('Signed in as alice@example.com')
  await expect(chatbot(page)).toHaveText('Hi Alice! How can I help?')
  await page.waitForLoadState('load')
  // In their slots, where the directives stand.
  await expect(card(page, 'Your rewards').locator('eta-embeds-slot > iframe.eta-embeds-widget[srcdoc]')).toHaveCount(1)
  await expect(card(page, 'Currency').locator('eta-embeds-slot > rai-currency-widget')).toHaveCount(1)
  // No layout shift: the footer is where it was while the embeds were on their way.
  expect(await footer.boundingBox()).toEqual(footerBefore)
  // The mover cleaned up after itself: no template, no move call, no mover left in the page.
  await expect(page.locator('template')).toHaveCount(0)
  expect(
    await page
      .locator('script:not([src])')
      .evaluateAll((scripts) => scripts.filter((script) => script.textContent.includes('__etaEmbedsMove'))),
  ).toEqual([])
  expect(violations).toEqual([])
})

test('a vendor answering late lands in its slot while the others already work', async ({ page, stack, login }) => {
  const violations = await watchCspViolations(page)
  const chat = stack.caramelo.hold()
  try {
    await login('bob@example.com')
    await expect(widgetStatus(page)).toHaveText('Signed in as bob@example.com')
    await expect(sdkWidgetStatus(page)).toHaveText('Signed in as bob@example.com')
    await expect.poll(() => chat.waiting).toBe(1)
    await expect(chatbot(page)).toHaveCount(0)
  } finally {
    chat.release()
  }
  await expect(chatbot(page)).toHaveText('Hi Bob! How can I help?')
  expect(violations).toEqual([])
})

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false })

  test('the page is whole and readable: each fallback shows where its embed would be', async ({
    page,
    stack,
    login,
  }) => {
    const vendors = holdVendors(stack)
    try {
      await login('alice@example.com')
      await expect(page.getByRole('contentinfo')).toBeVisible()
      // CSS locators: Playwright's text and role engines never look inside <noscript>.
      const widgetFallback = /^Rewards are unavailable right now/
      await expect(card(page, 'Your rewards').locator('eta-embeds-slot [data-fallback="widget"]')).toBeVisible()
      await expect(card(page, 'Your rewards').locator('eta-embeds-slot [data-fallback="widget"]')).toHaveText(
        widgetFallback,
      )
      await expect(card(page, 'Currency').locator('eta-embeds-slot [data-fallback="widget"]')).toHaveText(
        widgetFallback,
      )
      await expect(card(page, 'Currency').locator('eta-embeds-slot [data-fallback="widget"]')).toBeVisible()
      await expect(page.locator('main + eta-embeds-slot [data-fallback="caramelo"]')).toBeVisible()
      await expect.poll(vendors.waiting).toEqual(STILL_ANSWERING)
    } finally {
      vendors.release()
    }
    // The embeds arrive, and stay inert in their templates: the page reads the same.
    await page.waitForLoadState('load')
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Alice!')
    await expect(page.locator('eta-embeds-slot [data-fallback]:visible')).toHaveCount(3)
    await expect(page.locator('iframe.eta-embeds-widget[srcdoc]')).toHaveCount(0)
    await expect(page.getByRole('contentinfo')).toBeVisible()
  })
})
