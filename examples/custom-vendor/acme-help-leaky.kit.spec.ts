/**
 * Issue 14: the example app with a mistake in its use of its own vendor — it logs every Acme panel it
 * renders, session token included (`ACME_LEAKY=1`) — fails the testing kit's token check, which names the
 * log line and masks the token. Its own file: another server environment is another worker.
 */
import { expect, LeakError, test } from 'vite-plugin-eta-embeds/testing'
import { ACME_KIT, visit } from './acme-kit.ts'

test.use({ embedsOptions: { ...ACME_KIT, env: { ACME_LEAKY: '1' } } })

test('an Acme token in a log line fails the token check, with the line and the token masked', async ({ embeds }) => {
  await visit(embeds)
  await expect(embeds.check()).rejects.toThrow(LeakError)
  const leaks = (await embeds.findLeaks()).map((leak) => `${leak.check}: ${leak.message}`)
  expect(leaks).toEqual([
    expect.stringMatching(
      /^tokens: acme-help token #1 \(minted for id=usr_ada_1815\) in server log line \d+ \[raw\]: ….*panel topic="billing" session="⟦token⟧"><\/acme-help-panel>…$/,
    ),
  ])
})
