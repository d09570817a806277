/**
 * The page's client tags follow Vite's backend integration guide (issue 13):
 * CSS of the entries and of every chunk they import, the entry scripts, a
 * modulepreload for each imported chunk; the chunk a dynamic import loads
 * comes with its CSS through Vite's preload helper.
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Manifest } from 'vite'
import { createBuilder } from 'vite'
import { afterEach, describe, expect, it } from 'vitest'
import { buildAssets, CLIENT_ENTRIES, devAssets, entryFiles } from './assets.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

// The guide's own example manifest (docs/guide/backend-integration.md).
const GUIDE_MANIFEST: Manifest = {
  '_shared-B7PI925R.js': { file: 'assets/shared-B7PI925R.js', name: 'shared', css: ['assets/shared-ChJ_j-JJ.css'] },
  '_shared-ChJ_j-JJ.css': { file: 'assets/shared-ChJ_j-JJ.css', src: '_shared-ChJ_j-JJ.css' },
  'baz.js': { file: 'assets/baz-B2H3sXNv.js', name: 'baz', src: 'baz.js', isDynamicEntry: true },
  'views/bar.js': {
    file: 'assets/bar-gkvgaI9m.js',
    name: 'bar',
    src: 'views/bar.js',
    isEntry: true,
    imports: ['_shared-B7PI925R.js'],
    dynamicImports: ['baz.js'],
  },
  'views/foo.js': {
    file: 'assets/foo-BRBmoGS9.js',
    name: 'foo',
    src: 'views/foo.js',
    isEntry: true,
    imports: ['_shared-B7PI925R.js'],
    css: ['assets/foo-5UjPuW-k.css'],
  },
}

describe('entryFiles', () => {
  it("gives the guide's tags for each of its entries", () => {
    expect(entryFiles(GUIDE_MANIFEST, ['views/foo.js'])).toEqual({
      css: ['assets/foo-5UjPuW-k.css', 'assets/shared-ChJ_j-JJ.css'],
      scripts: ['assets/foo-BRBmoGS9.js'],
      preloads: ['assets/shared-B7PI925R.js'],
    })
    expect(entryFiles(GUIDE_MANIFEST, ['views/bar.js'])).toEqual({
      css: ['assets/shared-ChJ_j-JJ.css'],
      scripts: ['assets/bar-gkvgaI9m.js'],
      preloads: ['assets/shared-B7PI925R.js'],
    })
  })

  it('lists a file both entries need once', () => {
    const files = entryFiles(GUIDE_MANIFEST, ['views/foo.js', 'views/bar.js'])
    expect(files.css).toEqual(['assets/foo-5UjPuW-k.css', 'assets/shared-ChJ_j-JJ.css'])
    expect(files.preloads).toEqual(['assets/shared-B7PI925R.js'])
  })

  it('names a missing entry', () => {
    expect(() => entryFiles(GUIDE_MANIFEST, ['views/nope.js'])).toThrow(
      "the build manifest has no entry views/nope.js: rebuild with 'npm run build'",
    )
  })
})

describe("the demo's client build", () => {
  let outDir: string | undefined
  afterEach(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true })
  })

  it("links the shared chunk's CSS, preloads the chunk, and ships the dynamic chunk's CSS with its import", async () => {
    outDir = await mkdtemp(path.join(tmpdir(), 'eta-embeds-client-'))
    const builder = await createBuilder({
      root: ROOT,
      logLevel: 'silent',
      environments: { client: { build: { outDir, emptyOutDir: true } } },
    })
    await builder.build(builder.environments['client']!)
    const manifest = JSON.parse(readFileSync(path.join(outDir, '.vite/manifest.json'), 'utf8')) as Manifest
    const tags = buildAssets(outDir)('n0nce+/=')

    const theme = Object.values(manifest).find((chunk) => chunk.name === 'theme' && chunk.file.endsWith('.js'))
    const themeCss = theme?.css?.[0] ?? 'no css for the shared chunk'
    expect(tags.split('\n')).toEqual([
      '<meta property="csp-nonce" nonce="n0nce+/=">',
      `<link rel="stylesheet" href="/${themeCss}">`,
      `<script type="module" async nonce="n0nce+/=" src="/${manifest['client/main.ts']?.file}"></script>`,
      `<script type="module" async nonce="n0nce+/=" src="/${manifest['client/help.ts']?.file}"></script>`,
      `<link rel="modulepreload" nonce="n0nce+/=" href="/${theme?.file}">`,
    ])
    // The dynamically imported chunk is loaded by the entry, its CSS with it.
    const tips = manifest['client/help-tips.ts']
    expect(tips?.isDynamicEntry).toBe(true)
    const help = readFileSync(path.join(outDir, manifest['client/help.ts']?.file ?? ''), 'utf8')
    for (const file of [tips?.file, ...(tips?.css ?? [])]) expect(help).toContain(path.basename(file ?? '?'))
    expect(tips?.css).toHaveLength(1)
  })

  it('in development, loads each entry from source (the runtime adds Vite’s client)', () => {
    expect(devAssets()('n').split('\n')).toEqual([
      ...CLIENT_ENTRIES.map((entry) => `<script type="module" async nonce="n" src="/${entry}"></script>`),
    ])
  })
})
