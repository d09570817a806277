/**
 * The `<script>`/`<link>` tags of the client bundle: Vite's dev entry in
 * development, the hashed files from the build manifest in production.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'

/**
 * Builds the tags for one page, each script carrying the page's nonce. The
 * client entry is `async`: it runs once loaded, not once the document has
 * been parsed — out of order, the page's own content is there long before
 * its last embed, and so should its styles be (in development Vite injects
 * them from JavaScript).
 */
export type AssetTags = (nonce: string) => string

const CLIENT_ENTRY = 'client/main.ts'

export function devAssets(): AssetTags {
  return (nonce) =>
    `<script type="module" nonce="${nonce}" src="/@vite/client"></script>\n` +
    `<script type="module" async nonce="${nonce}" src="/${CLIENT_ENTRY}"></script>`
}

interface ManifestChunk {
  file: string
  css?: string[]
}

export function buildAssets(clientDir: string): AssetTags {
  const manifestFile = path.join(clientDir, '.vite', 'manifest.json')
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, ManifestChunk>
  const entry = manifest[CLIENT_ENTRY]
  if (!entry) throw new Error(`${manifestFile} has no entry for ${CLIENT_ENTRY}: rebuild with 'npm run build'`)
  const css = (entry.css ?? []).map((href) => `<link rel="stylesheet" href="/${href}">`).join('\n')
  return (nonce) => `${css}\n<script type="module" async nonce="${nonce}" src="/${entry.file}"></script>`
}
