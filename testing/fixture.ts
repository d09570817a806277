/**
 * The Playwright fixtures: `embedsApp` (per worker: the vendor stubs with canary secrets, and your app
 * started against them) and `embeds` (per test: recorded sessions and the checks). Configure them with the
 * `embedsOptions` option, in `playwright.config` or with `test.use()`.
 */
import path from 'node:path'
import { test as base } from '@playwright/test'
import { startApp, type AppCommand } from './app.ts'
import { EmbedsRun, type RunOptions } from './run.ts'
import { startCanaryVendors, type CanaryOptions, type CanaryVendors } from './vendors.ts'

/** What the kit needs to start and check your app: the `embedsOptions` option. */
export interface EmbedsOptions extends AppCommand, CanaryOptions, RunOptions {}

/** Your app, running against the stubs, for every test of a worker. */
export interface EmbedsApp {
  /** Its origin, also every session's `baseURL`. */
  url: string
  /** Everything it printed so far. */
  logs: readonly string[]
  /** The stubs, the secrets planted in them and the environment the app was given. */
  vendors: CanaryVendors
}

/** The per-test fixtures. */
export interface EmbedsTestFixtures {
  /** Sessions (recorded browser contexts), identity probes and the checks, for this test. */
  embeds: EmbedsRun
}

/** The per-worker fixtures and option. */
export interface EmbedsWorkerFixtures {
  /** How to start your app; required (unset: every test that uses the kit fails, saying so). */
  embedsOptions: EmbedsOptions | undefined
  embedsApp: EmbedsApp
}

const NO_OPTIONS =
  "the embeds kit does not know how to start your app: set `embedsOptions: { command: ['node', 'server.js'] }` " +
  'in the `use` of playwright.config or with test.use()'

/**
 * Playwright's `test` with the kit's fixtures. Set `embedsOptions` (at least `command`), then in a test:
 * `const { page } = await embeds.session(user)`, log in, load your pages, `await embeds.check()`.
 */
export const test = base.extend<EmbedsTestFixtures, EmbedsWorkerFixtures>({
  embedsOptions: [undefined, { option: true, scope: 'worker' }],
  embedsApp: [
    async ({ embedsOptions }, use) => {
      if (!embedsOptions) throw new Error(NO_OPTIONS)
      const vendors = await startCanaryVendors(embedsOptions)
      try {
        const app = await startApp(embedsOptions, vendors.env)
        try {
          await use({ url: app.url, logs: app.logs, vendors })
        } finally {
          await app.close()
        }
      } finally {
        await vendors.close()
      }
    },
    { scope: 'worker', timeout: 90_000 },
  ],
  baseURL: async ({ embedsApp }, use) => use(embedsApp.url),
  embeds: async ({ browser, contextOptions, embedsApp, embedsOptions }, use) => {
    if (!embedsOptions) throw new Error(NO_OPTIONS)
    const cwd = embedsOptions.cwd ?? process.cwd()
    const run = new EmbedsRun(
      browser,
      embedsApp,
      {
        ...embedsOptions,
        ...(embedsOptions.dist === undefined ? {} : { dist: path.resolve(cwd, embedsOptions.dist) }),
      },
      contextOptions,
    )
    await use(run)
    await run.close()
  },
})

export { expect } from '@playwright/test'
