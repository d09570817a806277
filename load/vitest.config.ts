/**
 * The load-and-fault suite (`npm run test:load`): production server child
 * processes against loopback vendors. Separate from the unit config, whose
 * tests must stay fast; this one needs a build and real processes.
 */
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['load/**/*.test.ts'],
    globalSetup: ['load/global-setup.ts'],
    // One file at a time: on 2 cores, the load test's memory samples and the
    // fault cases' deadline bounds should not compete with another file's
    // servers. Within the fault file, cases run concurrently (see there).
    fileParallelism: false,
    maxConcurrency: 4,
    // Generous: a case waits for server starts, vendor deadlines and shutdowns.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
})
