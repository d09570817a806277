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
  reporter: process.env['CI'] ? [['list']] : [['list']],
  use: {
    browserName: 'chromium',
    launchOptions: { executablePath, args: CHROMIUM_ARGS },
    serviceWorkers: 'block',
    trace: 'off',
  },
  projects: [
    { name: 'dev', use: { mode: 'dev' } },
    { name: 'prod', use: { mode: 'prod' } },
  ],
})
