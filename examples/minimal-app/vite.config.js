import { defineConfig } from 'vite'
import { etaEmbeds } from 'vite-plugin-eta-embeds'

export default defineConfig({
  plugins: [etaEmbeds()],
})
