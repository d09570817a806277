import { defineConfig } from 'vite'
import { etaEmbeds } from './plugin/index.ts'

export default defineConfig({
  // METRICS_TOKEN is the demo's own secret (see server/config.ts): the build must not contain it either.
  plugins: [etaEmbeds({ secretEnvNames: ['METRICS_TOKEN'] })],
  environments: {
    client: {
      build: {
        outDir: 'dist/client',
        manifest: true,
        rolldownOptions: { input: 'client/main.ts' },
      },
    },
  },
})
