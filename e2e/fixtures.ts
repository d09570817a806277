/**
 * Playwright fixtures: a worker-scoped `stack` (stubs + server in the
 * project's mode, changed per file with `test.use({ stackOptions })`) and
 * page helpers that fail loudly.
 */
import { test as base, expect, type Page } from '@playwright/test'
import { Recorder } from '../testing/index.ts'
import { startStack, type Mode, type Stack, type StackOptions } from './stack.ts'

export const test = base.extend<
  { login: (email: string) => Promise<void>; recorder: Recorder },
  { stack: Stack; mode: Mode; stackOptions: StackOptions }
>({
  mode: ['dev', { option: true, scope: 'worker' }],
  stackOptions: [{}, { option: true, scope: 'worker' }],
  stack: [
    async ({ mode, stackOptions }, use) => {
      const stack = await startStack(mode, undefined, stackOptions)
      await use(stack)
      await stack.close()
    },
    { scope: 'worker', timeout: 90_000 },
  ],
  baseURL: async ({ stack }, use) => use(stack.url),
  login: async ({ page }, use) => {
    await use((email) => logIn(page, email))
  },
  /** Records everything the test's `context` sends, receives and keeps (the testing kit's recorder). */
  recorder: async ({ context }, use) => {
    await use(new Recorder('page', context))
  },
})

/**
 * Every Content-Security-Policy violation in any frame of `page` from now on:
 * the `securitypolicyviolation` events documents fire, and the errors Chromium
 * logs for them. Call it before the first navigation to watch.
 */
export async function watchCspViolations(page: Page): Promise<string[]> {
  const violations: string[] = []
  page.on('console', (message) => {
    if (/Content.Security.Policy|Refused to/i.test(message.text())) violations.push(`console: ${message.text()}`)
  })
  // A binding and an init script reach every document, CSP or not, and run before its own scripts.
  await page.exposeBinding('__e2eCspViolation', (_source, text: string) => {
    violations.push(text)
  })
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      const report = (window as unknown as { __e2eCspViolation: (text: string) => void }).__e2eCspViolation
      report(`${event.violatedDirective} blocked '${event.blockedURI}' in ${event.documentURI}`)
    })
  })
  return violations
}

/** Logs `page` in through the login form as `email` and waits for the home page's greeting. */
export async function logIn(page: Page, email: string): Promise<void> {
  await page.goto('/login')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill('demo-password')
  await page.getByRole('button', { name: 'Log in' }).click()
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Hello')
}

/** The eager widget's own status line, inside its srcdoc iframe. */
export function widgetStatus(page: Page) {
  return page.frameLocator('iframe.eta-embeds-widget[srcdoc]').locator('#widget-status')
}

/** The lazy widget's iframe, loaded from our own route when it nears the viewport. */
export function lazyWidget(page: Page) {
  return page.locator('iframe.eta-embeds-widget[loading="lazy"]')
}

/**
 * The lazy frame's `src` as the page rendered it: the only lazy-route URLs
 * the server accepts are those it signed (a hand-written one is refused).
 */
export async function lazyWidgetSrc(page: Page): Promise<string> {
  const src = await lazyWidget(page).getAttribute('src')
  if (!src) throw new Error('the page has no lazy widget frame with a src')
  return src
}

/** The lazy widget's own status line, inside the frame our route answered. */
export function lazyWidgetStatus(page: Page) {
  return page.frameLocator('iframe.eta-embeds-widget[loading="lazy"]').locator('#widget-status')
}

/**
 * The Widget SDK flow's element on the home page (`<<widget flow="sdk" type="currency">>`),
 * rendered in our page itself: no frame between it and us.
 */
export function sdkWidget(page: Page) {
  return page.locator('rai-currency-widget.eta-embeds-widget')
}

/** The SDK widget's status line, inside its open shadow root (Playwright's CSS locators pierce it). */
export function sdkWidgetStatus(page: Page) {
  return sdkWidget(page).locator('.rai-widget-status')
}

/** The chatbot bubble the Caramelo SDK adds to the page. */
export function chatbot(page: Page) {
  return page.locator('#carameloai-chatbot')
}

export { expect }
