import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['plugin/**/*.test.ts', 'stubs/**/*.test.ts', 'server/**/*.test.ts'],
    // Unit tests never reach past loopback; vendors are MockAgents or local stubs.
    testTimeout: 10_000,
  },
})
