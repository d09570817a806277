import { defineConfig } from '@playwright/test'

export default defineConfig({
  testDir: 'e2e',
  // Builds the app once, with the kit's canary secrets in its environment.
  globalSetup: './e2e/global-setup.js',
  use: {
    // How the kit starts the app (against its vendor stubs), and what it checks.
    embedsOptions: { command: ['node', 'server.js'], dist: 'dist', pages: ['/'] },
  },
})
