/**
 * The client bundle's tags in a server-rendered page, as Vite's backend
 * integration guide has them: in development the entries' sources (the
 * runtime adds Vite's client to every page); in production, from the build
 * manifest, each entry's CSS and the CSS of every chunk it imports, the
 * entry scripts, then `modulepreload` for those chunks — so a bundle split into shared and dynamically imported
 * chunks works in a page Vite never saw.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { Manifest, ManifestChunk } from 'vite'
import { escapeHtml } from '../plugin/runtime/index.ts'

/**
 * Builds the tags for one page, each script carrying the page's nonce. The
 * client entry is `async`: it runs once loaded, not once the document has
 * been parsed — out of order, the page's own content is there long before
 * its last embed, and so should its styles be (in development Vite injects
 * them from JavaScript).
 */
export type AssetTags = (nonce: string) => string

/** The demo's client entries, on every page in this order (`environments.client` input in vite.config.ts). */
export const CLIENT_ENTRIES: readonly string[] = ['client/main.ts', 'client/help.ts']

/**
 * Vite's preload helper reads the page's nonce from this meta tag and puts it
 * on the `<link>` tags it adds for a dynamic import's chunks and CSS.
 */
const nonceMeta = (nonce: string): string => `<meta property="csp-nonce" nonce="${escapeHtml(nonce)}">`

/**
 * Each entry from source. Vite's client and the `csp-nonce` meta are not
 * here: the runtime puts them in every page it renders with `viteDev()`.
 */
export function devAssets(entries: readonly string[] = CLIENT_ENTRIES): AssetTags {
  return (nonce) => {
    const n = escapeHtml(nonce)
    return entries.map((src) => `<script type="module" async nonce="${n}" src="/${src}"></script>`).join('\n')
  }
}

/** What a page needs for `entries`, in the guide's order, each file once. */
export interface EntryFiles {
  css: string[]
  scripts: string[]
  preloads: string[]
}

/**
 * The files `entries` (manifest keys, `client/main.ts`) need: their CSS and
 * the CSS of every chunk they import (recursively), their scripts, and those
 * imported chunks to preload. A dynamically imported chunk is none of these:
 * Vite's preload helper loads it, and its CSS, when the import runs.
 */
export function entryFiles(manifest: Manifest, entries: readonly string[]): EntryFiles {
  const out: EntryFiles = { css: [], scripts: [], preloads: [] }
  const seen = new Set<string>()
  for (const name of entries) {
    const entry = manifest[name]
    if (!entry) throw new Error(`the build manifest has no entry ${name}: rebuild with 'npm run build'`)
    const imported = importedChunks(manifest, entry, seen)
    for (const chunk of [entry, ...imported]) out.css.push(...(chunk.css ?? []))
    out.scripts.push(entry.file)
    out.preloads.push(...imported.map((chunk) => chunk.file))
  }
  const once = (files: string[]) => [...new Set(files)]
  return { css: once(out.css), scripts: once(out.scripts), preloads: once(out.preloads) }
}

/** The chunks `chunk` imports statically, depth first, skipping those in `seen` (which this fills). */
function importedChunks(manifest: Manifest, chunk: ManifestChunk, seen: Set<string>): ManifestChunk[] {
  const chunks: ManifestChunk[] = []
  for (const key of chunk.imports ?? []) {
    const imported = manifest[key]
    if (!imported || seen.has(key)) continue
    seen.add(key)
    chunks.push(...importedChunks(manifest, imported, seen), imported)
  }
  return chunks
}

/** The tags of a built client (`<clientDir>/.vite/manifest.json`), served from `/`. */
export function buildAssets(clientDir: string, entries: readonly string[] = CLIENT_ENTRIES): AssetTags {
  const manifestFile = path.join(clientDir, '.vite', 'manifest.json')
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest
  const files = entryFiles(manifest, entries)
  const href = (file: string): string => escapeHtml(`/${file}`)
  const css = files.css.map((file) => `<link rel="stylesheet" href="${href(file)}">`)
  return (nonce) => {
    const n = escapeHtml(nonce)
    return [
      nonceMeta(nonce),
      ...css,
      ...files.scripts.map((file) => `<script type="module" async nonce="${n}" src="${href(file)}"></script>`),
      // A preload is a script request too: under the page's CSP it needs the nonce.
      ...files.preloads.map((file) => `<link rel="modulepreload" nonce="${n}" href="${href(file)}">`),
    ].join('\n')
  }
}
