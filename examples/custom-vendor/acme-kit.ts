/**
 * What the example's two kit specs share: how the kit starts the example app (`server.ts`) with Acme's
 * stub beside the built-in ones, and a visit of its page by the app's user.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, type EmbedsOptions, type EmbedsRun, type Session } from 'vite-plugin-eta-embeds/testing'
import { acmeHelp } from './acme-help.ts'
import { acmeHelpStub } from './acme-stub.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** The example app's one user. */
export const ADA = { id: 'usr_ada_1815', email: 'ada@example.com', name: 'Ada' }

/** The app, and Acme's adapter with its stub: the kit covers it like a built-in vendor. */
export const ACME_KIT: EmbedsOptions = {
  command: [process.execPath, '--import', 'tsx', 'examples/custom-vendor/server.ts'],
  cwd: root,
  pages: ['/'],
  vendors: [{ adapter: acmeHelp, stub: acmeHelpStub }],
}

/** Ada logged in, her Acme panel and her Widget SDK widget on the page. */
export async function visit(embeds: EmbedsRun): Promise<Session> {
  const session = await embeds.session(ADA)
  const { page } = session
  await page.goto('/')
  await page.getByRole('button', { name: 'Log in' }).click()
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Ada!')
  await expect(page.locator('acme-help-panel')).toHaveAttribute('session', /^[\w-]{16,}$/)
  await expect(page.locator('rai-currency-widget .rai-widget-status')).toHaveText(`Signed in as ${ADA.email}`)
  return session
}
