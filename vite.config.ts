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
        // Two entries sharing a chunk (the styles), one with a dynamic import: the
        // server links what each needs from the manifest (server/assets.ts).
        rolldownOptions: { input: ['client/main.ts', 'client/help.ts'] },
      },
    },
  },
})
