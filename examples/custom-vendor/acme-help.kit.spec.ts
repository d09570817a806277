/**
 * Issue 14: an app's own vendor is covered by the testing kit's checks once its adapter brings its stub
 * (`acmeHelpStub`): the kit starts it with a canary key beside the built-in stubs, the app (`server.ts`)
 * renders an Acme panel and a Widget SDK widget for the session's user, and the checks pass. The same app
 * logging its panels fails them: `acme-help-leaky.kit.spec.ts`.
 */
import { canaryFor, expect, test } from 'vite-plugin-eta-embeds/testing'
import { ACME_KIT, ADA, visit } from './acme-kit.ts'

test.use({ embedsOptions: ACME_KIT })

test('the kit starts Acme’s stub with a canary key, and the app’s Acme tokens pass every check', async ({
  embeds,
  embedsApp,
}) => {
  expect(embedsApp.vendors.env['ACME_HELP_API_KEY']).toBe(canaryFor('ACME_HELP_API_KEY'))
  expect(embedsApp.vendors.secrets['ACME_HELP_API_KEY']).toBe(canaryFor('ACME_HELP_API_KEY'))
  const { page } = await visit(embeds)
  await embeds.probeIdentity(page)
  await embeds.check()
  // Acme minted for Ada (after the login and the probe), and its tokens were among those checked.
  const acme = embedsApp.vendors.witnesses.find((w) => w.vendor === 'acme-help')
  expect(acme?.minted().map((m) => m.user)).toEqual([{ id: ADA.id }, { id: ADA.id }])
})
