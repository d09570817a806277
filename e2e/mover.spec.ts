/**
 * The out-of-order mover in Chromium, on a page made of the runtime's own
 * markup under the runtime's CSP, served by the test itself: it runs exactly
 * the scripts that carry the page's nonce, in document order (each external
 * one loaded before the next, one directive after another), and nothing a
 * hostile vendor slipped in — not a script without the nonce or with a wrong
 * one, not an external script (which `'strict-dynamic'` would otherwise let a
 * trusted script add), not an SVG script, not one in a nested template.
 */
import { test } from '@playwright/test'
import { moved, moverDefinition, slot } from '../plugin/runtime/render/mover.ts'
import { expect, watchCspViolations } from './fixtures.ts'

const ORIGIN = 'http://mover.test'
const NONCE = 'bW92ZXItdGVzdC1ub25jZQ=='
const A = '0123456789abcdef01234567-0'
const B = '0123456789abcdef01234567-1'

const HOSTILE =
  '<script>window.pwned = 1</script>' +
  '<script nonce="d3JvbmctZ3Vlc3M=">window.pwned = 2</script>' +
  '<script src="/evil.js"></script>' +
  '<svg><script>window.pwned = 4</script></svg>' +
  `<template><script nonce="${NONCE}">window.pwned = 5</script></template>`

const PAGE =
  `<!doctype html><html><head><script nonce="${NONCE}">window.ran = []</script></head><body>` +
  `<main>${slot(A, 120, '<p>no script</p>')}${slot(B, undefined, '')}</main><footer>end</footer>` +
  moverDefinition(NONCE) +
  // B arrives first: an external script, then an inline one that needs it.
  moved(
    B,
    `<p id="b">B</p><script nonce="${NONCE}" src="/first.js"></script><script nonce="${NONCE}">window.ran.push('after first.js')</script>`,
    NONCE,
  ) +
  moved(A, `<p id="a">A</p>${HOSTILE}<script nonce="${NONCE}">window.ran.push('A')</script>`, NONCE) +
  '</body></html>'

test('runs the nonce-carrying scripts in order and nothing else, under the page’s CSP', async ({ page }) => {
  const violations = await watchCspViolations(page)
  const requested: string[] = []
  let loadFirst: () => void = () => undefined
  const firstMayLoad = new Promise<void>((resolve) => (loadFirst = resolve))
  await page.route(`${ORIGIN}/**`, async (route) => {
    const { pathname } = new URL(route.request().url())
    requested.push(pathname)
    if (pathname === '/') {
      return route.fulfill({
        contentType: 'text/html',
        headers: { 'content-security-policy': `script-src 'nonce-${NONCE}' 'strict-dynamic'; object-src 'none'` },
        body: PAGE,
      })
    }
    if (pathname === '/first.js') await firstMayLoad
    const body = pathname === '/first.js' ? "window.ran.push('/first.js')" : 'window.pwned = 3'
    return route.fulfill({ contentType: 'text/javascript', body })
  })

  await page.goto(`${ORIGIN}/`, { waitUntil: 'commit' })
  // B's HTML is in its slot, its external script is loading: nothing after it has run, A waits its turn.
  await expect(page.locator('#eta-embeds-' + B + ' > #b')).toHaveText('B')
  await expect.poll(() => requested).toContain('/first.js')
  expect(await page.evaluate(() => (window as { ran?: string[] }).ran)).toEqual([])
  await expect(page.locator('#a')).toHaveCount(0)

  loadFirst()
  await expect
    .poll(() => page.evaluate(() => (window as { ran?: string[] }).ran))
    .toEqual(['/first.js', 'after first.js', 'A'])
  await expect(page.locator('#eta-embeds-' + A + ' > #a')).toHaveText('A')
  await page.waitForLoadState('load')

  expect(await page.evaluate(() => (window as { pwned?: unknown }).pwned)).toBeUndefined()
  expect(requested).not.toContain('/evil.js')
  // The slot kept its room and lost its no-script copy; the mover left nothing behind.
  await expect(page.locator(`#eta-embeds-${A}`)).toHaveCSS('min-height', '120px')
  await expect(page.locator(`#eta-embeds-${A} noscript`)).toHaveCount(0)
  await expect(page.locator('body > template, body > script')).toHaveCount(0)
  // The hostile scripts were taken out, never run: not one reached the CSP to be refused.
  expect(violations).toEqual([])
})
