/**
 * Canary secrets never reach the browser (SPEC invariant 1, first cut): every
 * request, response and WebSocket frame the browser sees during a full
 * session is recorded and scanned, and so is the server's log.
 */
import { CANARIES } from './stack.ts'
import { chatbot, expect, test, widgetStatus } from './fixtures.ts'

test('vendor secrets appear in nothing the browser sends or receives, nor in the log', async ({
  page,
  context,
  stack,
  login,
}) => {
  const seen: string[] = []
  context.on('request', (request) => {
    seen.push(request.url(), JSON.stringify(request.headers()), request.postData() ?? '')
  })
  context.on('response', async (response) => {
    seen.push(JSON.stringify(response.headers()))
    // Redirects and aborted loads have no body to read.
    seen.push(await response.text().catch(() => ''))
  })
  page.on('websocket', (ws) => {
    ws.on('framesent', (frame) => seen.push(String(frame.payload)))
    ws.on('framereceived', (frame) => seen.push(String(frame.payload)))
  })

  await login('alice@example.com')
  await expect(widgetStatus(page)).toHaveText('Signed in as alice@example.com')
  await expect(chatbot(page)).toHaveText('Hi Alice! How can I help?')
  await page.getByRole('button', { name: 'Log out' }).click()
  await expect(page).toHaveURL(/\/login$/)

  // The recorder did record the session (a scan of nothing proves nothing).
  const everything = seen.join('\n')
  expect(everything).toContain('Hello, Alice!')
  const minted = [...stack.returning.minted, ...stack.caramelo.minted].map((m) => m.token)
  expect(minted.length).toBeGreaterThan(0)

  for (const canary of Object.values(CANARIES)) {
    expect(everything, `canary ${canary} reached the browser`).not.toContain(canary)
    expect(stack.logs.join('\n'), `canary ${canary} reached the server log`).not.toContain(canary)
  }
  for (const token of minted) {
    expect(stack.logs.join('\n'), 'a vendor token reached the server log').not.toContain(token)
  }
})
