import { defineConfig } from '@playwright/test'
import { CHROMIUM_ARGS, chromiumExecutable } from './e2e/browser.ts'
import type { Mode } from './e2e/stack.ts'

const executablePath = chromiumExecutable()

export default defineConfig<{ mode: Mode }>({
  testDir: 'e2e',
  globalSetup: './e2e/global-setup.ts',
  forbidOnly: !!process.env['CI'],
  retries: 0,
  workers: 2,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  reporter: 'list',
  use: {
    browserName: 'chromium',
    launchOptions: { executablePath, args: CHROMIUM_ARGS },
    serviceWorkers: 'block',
    trace: 'off',
  },
  projects: [
    // A production build's failing templates are production's own.
    { name: 'dev', use: { mode: 'dev' }, testIgnore: /(package|render-errors)\.spec\.ts/ },
    // Editing templates and Vite's overlay only exist in development.
    { name: 'prod', use: { mode: 'prod' }, testIgnore: /(package|dev-experience)\.spec\.ts/ },
    // The npm tarball installed into examples/minimal-app outside the repo; needs no demo stack.
    { name: 'package', testMatch: /package\.spec\.ts/ },
    // The examples' own apps checked with the testing kit from its source; no demo stack either.
    { name: 'examples', testDir: 'examples', testMatch: /\.kit\.spec\.ts$/ },
  ],
})
