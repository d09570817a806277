/**
 * The runtime's other ways of sending a page, end to end with the demo
 * switched to each (`EMBEDS_STREAM`, one spec file per mode: a stack of its
 * own): in document order, and the whole page at once. The demo's own mode,
 * out of order, is what every other spec file runs.
 */
import { chatbot, expect, sdkWidgetStatus, test, watchCspViolations, widgetStatus } from './fixtures.ts'

/** The test of a file whose stack runs the demo with `EMBEDS_STREAM` for `sent` (its own `test.use`). */
export function documentOrderTest(sent: 'streamed' | 'whole'): void {
  test(`the page comes ${sent} in document order, and both widgets and the chatbot work`, async ({ page, login }) => {
    const violations = await watchCspViolations(page)
    await login('alice@example.com')
    await expect(widgetStatus(page)).toHaveText('Signed in as alice@example.com')
    await expect(sdkWidgetStatus(page)).toHaveText('Signed in as alice@example.com')
    await expect(chatbot(page)).toHaveText('Hi Alice! How can I help?')
    expect(violations).toEqual([])

    // This mode, not the default: no slot, no template, each directive where it stands.
    const response = await page.request.get('/')
    const body = await response.text()
    expect(body).not.toMatch(/eta-embeds-slot|<template|__etaEmbedsMove/)
    expect(body.indexOf('carameloaiChatbot')).toBeLessThan(body.indexOf('<footer'))
    expect(response.headers()['content-length'] === undefined ? 'streamed' : 'whole').toBe(sent)
  })
}
