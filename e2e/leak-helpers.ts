/**
 * What the leak suite's scenarios share: the demo users, page checks that
 * fail loudly, and questions to the stack (what was minted, what was logged).
 * Recording, scanning and the leak checks are the testing kit's
 * (`vite-plugin-eta-embeds/testing`, from its source).
 */
import type { Browser, Page } from '@playwright/test'
import {
  describeFound,
  EmbedsRun,
  markStubs,
  Recorder,
  scan,
  taggedUserAgent,
  witnessEntries,
  type Entry,
  type Leak,
  type RunOptions,
  type SessionUser,
  type StubMark,
} from '../testing/index.ts'
import { chatbot, expect, lazyWidget, lazyWidgetStatus, sdkWidget, sdkWidgetStatus, widgetStatus } from './fixtures.ts'
import type { Stack } from './stack.ts'

export type User = SessionUser

export const ALICE: User = { email: 'alice@example.com', name: 'Alice', id: 'usr_alice_5f1c2a' }
export const BOB: User = { email: 'bob@example.com', name: 'Bob', id: 'usr_bob_9d7e40' }

/**
 * The home page is complete for `user`: greeting, every widget (proxy flow eager and lazy, Widget SDK)
 * signed in as them, the chatbot greeting them.
 */
export async function expectHome(page: Page, user: User): Promise<void> {
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Hello, ${user.name}!`)
  await expect(widgetStatus(page)).toHaveText(`Signed in as ${user.email}`)
  await expect(sdkWidgetStatus(page)).toHaveText(`Signed in as ${user.email}`)
  await expect(chatbot(page)).toHaveText(`Hi ${user.name}! How can I help?`)
  await lazyWidget(page).scrollIntoViewIfNeeded()
  await expect(lazyWidgetStatus(page)).toHaveText(`Signed in as ${user.email}`)
}

export async function logOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Log out' }).click()
  await expect(page).toHaveURL(/\/login$/)
}

/** Fails with every place `needle` was found, and the encoding it wore there (`needle` masked as `what`). */
export function expectNowhere(haystack: Iterable<Entry>, needle: string, what: string): void {
  expect(describeFound(scan(haystack, needle, what)), `${what} was found`).toEqual([])
}

/** Fails with every leak's message, grouped as the kit's `LeakError` would. */
export function expectNoLeaks(leaks: readonly Leak[]): void {
  expect(
    leaks.map((leak) => `${leak.check}: ${leak.message}`),
    'the testing kit found leaks',
  ).toEqual([])
}

/** The testing kit's view of the demo, for one test: sessions, probes and checks. */
export function embedsRun(browser: Browser, stack: Stack, options: RunOptions = {}): EmbedsRun {
  // The demo's only page with directives is the home page; the lazy route is the runtime's default.
  return new EmbedsRun(browser, stack, { pages: ['/'], ...options })
}

/** The kinds of entry `needle` was found in. */
export function kindsHolding(haystack: Iterable<Entry>, needle: string): string[] {
  return [...new Set(scan(haystack, needle).map((found) => found.entry.kind))].sort()
}

/** Where the vendors' lists stand; `tokens()` gives every token minted after (the kit's `markStubs`). */
export function mintMark(stack: Stack): StubMark {
  return markStubs(stack.vendors.witnesses)
}

/** The server's log lines since `from`, parsed; pino writes one JSON object per line. */
export function logRecords(stack: Stack, from = 0): Record<string, unknown>[] {
  return stack.logs.slice(from).flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>]
    } catch {
      return []
    }
  })
}

/** `vendor:cause` of every fallback the server logged since `from`. */
export function fallbackCauses(stack: Stack, from: number): string[] {
  return logRecords(stack, from)
    .filter((r) => r['msg'] === 'vendor call failed; rendered the fallback')
    .map((r) => `${String(r['vendor'])}:${String(r['cause'])}`)
}

export async function newSession(browser: Browser, stack: Stack, label: string) {
  const context = await browser.newContext({
    baseURL: stack.url,
    serviceWorkers: 'block',
    userAgent: taggedUserAgent(label),
  })
  const recorder = new Recorder(label, context)
  const page = await context.newPage()
  return { context, recorder, page }
}

/** Which of the home page's directives must show their fallback (the others are not looked at). */
export interface Fallbacks {
  /** The proxy flow's widgets: the eager one and the lazy frame. */
  widget: boolean
  /** The Widget SDK flow's widget (and then no SDK script). */
  sdk: boolean
  caramelo: boolean
}

/** The section of the home page that holds the card titled `title`. */
function card(page: Page, title: string) {
  return page.locator('section.card').filter({ has: page.getByRole('heading', { level: 2, name: title }) })
}

/** The fallbacks of the demo's home page: the eager widget's, the lazy frame's, the SDK widget's, the chatbot's. */
export async function expectFallbacks(page: Page, which: Fallbacks): Promise<void> {
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Alice!')
  const lazyFrame = page.frameLocator('iframe.eta-embeds-widget[loading="lazy"]')
  if (which.widget) {
    await expect(card(page, 'Your rewards').locator('[data-fallback="widget"]')).toHaveCount(1)
    await expect(page.locator('iframe.eta-embeds-widget[srcdoc]')).toHaveCount(0)
    await lazyWidget(page).scrollIntoViewIfNeeded()
    await expect(lazyFrame.locator('[data-fallback="widget"]')).toBeVisible()
  }
  if (which.sdk) {
    await expect(card(page, 'Currency').locator('[data-fallback="widget"]')).toBeVisible()
    await expect(sdkWidget(page)).toHaveCount(0)
    // The SDK script comes only after an SDK widget that rendered: none did.
    await expect(page.locator('script[src*="/sdk/widget-sdk.js"]')).toHaveCount(0)
  }
  if (which.caramelo) {
    await expect(page.locator('[data-fallback="caramelo"]')).toBeVisible()
    expect(await inlineScripts(page, 'carameloaiChatbot')).toBe(0)
    await expect(chatbot(page)).toHaveCount(0)
  }
}

/** Every request the vendor stubs received from a browser since the stack started (the kit's `witnessEntries`). */
export function vendorWitness(stack: Stack): Entry[] {
  return stack.vendors.witnesses.flatMap((witness) => witnessEntries(witness))
}

/** How many inline scripts of the page hold `text` (a locator's `hasText` never looks inside scripts). */
export function inlineScripts(page: Page, text: string): Promise<number> {
  return page
    .locator('script:not([src])')
    .evaluateAll((scripts, wanted) => scripts.filter((script) => script.textContent.includes(wanted)).length, text)
}
