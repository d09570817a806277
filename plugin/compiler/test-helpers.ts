/**
 * Test support only: an app's own vendor adapter, as a user writes one with
 * the public `defineVendor`, for the tests of what the compiler and the Vite
 * plugin take from an adapter (its directive, rules, one-per-page reason and
 * secret environment names). It never runs: these tests do not render.
 */
import { defineVendor, oneOf } from '../vendors/public.ts'
import { definitionsOf } from '../vendors/registry.ts'
import { Vocabulary } from '../vendors/vocabulary.ts'

/** The secret environment name the test adapter declares. */
export const ACME_SECRET_ENV = 'ACME_BANNER_KEY'

/** `<<banner size="small|large">>`, at most one per page, with a secret of its own. */
export const acmeBanner = defineVendor<{ key: string }, { key: string }>({
  name: 'acme-banner',
  directive: 'banner',
  title: 'Acme banner',
  attributes: { size: oneOf(['small', 'large']) },
  onePerPage: 'a page shows at most one Acme banner',
  secretEnvNames: [ACME_SECRET_ENV],
  resolve: (options) => options,
  embed: () => Promise.resolve('<div class="acme-banner"></div>'),
})

/** The built-in vocabulary plus the test adapter's directive, as the plugin makes it for `vendors: [acmeBanner]`. */
export const ACME_VOCABULARY = new Vocabulary(definitionsOf([acmeBanner]))
