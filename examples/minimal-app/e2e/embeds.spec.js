import { expect, test } from 'vite-plugin-eta-embeds/testing'

// The app's one user, as server.js knows them.
const ADA = { id: 'usr_ada_1815', email: 'ada@example.com', name: 'Ada' }

test('secrets stay on the server, tokens in their page, identity in the session', async ({ embeds }) => {
  // A browser context the kit records: requests, responses, frames, console, cookies and storage.
  const { page } = await embeds.session(ADA)
  await page.goto('/')
  await page.getByRole('button', { name: 'Log in' }).click()
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Ada!')
  await expect(page.frameLocator('iframe').locator('#widget-status')).toHaveText('Signed in as ada@example.com')
  await expect(page.locator('#carameloai-chatbot')).toHaveText('Hi Ada! How can I help?')

  // Someone else's identity in the query, a form and headers: the vendors must hear only of Ada.
  await embeds.probeIdentity(page)

  // Fails with every leak: where it was, the form it had there, an excerpt with the value masked.
  await embeds.check()
})
