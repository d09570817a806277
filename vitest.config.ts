import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: {
    // The examples import the package by its name, as an app does (tsconfig.json maps it the same way).
    alias: [
      { find: /^vite-plugin-eta-embeds$/, replacement: new URL('./plugin/index.ts', import.meta.url).pathname },
      {
        find: /^vite-plugin-eta-embeds\/runtime$/,
        replacement: new URL('./plugin/runtime/index.ts', import.meta.url).pathname,
      },
    ],
  },
  test: {
    include: [
      'plugin/**/*.test.ts',
      'stubs/**/*.test.ts',
      'testing/**/*.test.ts',
      'server/**/*.test.ts',
      'examples/**/*.test.ts',
    ],
    // Unit tests never reach past loopback; vendors are MockAgents or local stubs.
    testTimeout: 10_000,
  },
})
