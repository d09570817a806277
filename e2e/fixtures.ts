/**
 * Playwright fixtures: a worker-scoped `stack` (stubs + server in the
 * project's mode) and page helpers that fail loudly.
 */
import { test as base, expect, type Page } from '@playwright/test'
import { startStack, type Mode, type Stack } from './stack.ts'

export const test = base.extend<{ login: (email: string) => Promise<void> }, { stack: Stack; mode: Mode }>({
  mode: ['dev', { option: true, scope: 'worker' }],
  stack: [
    async ({ mode }, use) => {
      const stack = await startStack(mode)
      await use(stack)
      await stack.close()
    },
    { scope: 'worker', timeout: 90_000 },
  ],
  baseURL: async ({ stack }, use) => use(stack.url),
  login: async ({ page }, use) => {
    await use(async (email) => {
      await page.goto('/login')
      await page.getByLabel('Email').fill(email)
      await page.getByLabel('Password').fill('demo-password')
      await page.getByRole('button', { name: 'Log in' }).click()
      await expect(page.getByRole('heading', { level: 1 })).toContainText('Hello')
    })
  },
})

/** The eager widget's own status line, inside its srcdoc iframe. */
export function widgetStatus(page: Page) {
  return page.frameLocator('iframe.eta-embeds-widget[srcdoc]').locator('#widget-status')
}

/** The lazy widget's iframe, loaded from our own route when it nears the viewport. */
export function lazyWidget(page: Page) {
  return page.locator('iframe.eta-embeds-widget[loading="lazy"]')
}

/** The chatbot bubble the Caramelo SDK adds to the page. */
export function chatbot(page: Page) {
  return page.locator('#carameloai-chatbot')
}

export { expect }
