import { defineConfig } from 'vite'
import { etaEmbeds } from './plugin/index.ts'

export default defineConfig({
  plugins: [etaEmbeds()],
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
