/**
 * SPEC invariant 1: no secret in any file under `dist/`. Two scans: the
 * finished bundle — every chunk, asset and source map — just before it is
 * written, so a leaking chunk never reaches the disk; then the output folder
 * itself once written (issue 9, hole 4), because the bundle is not all that
 * lands there: Vite copies `public/` in at `renderStart`, other plugins write
 * files in `writeBundle`, and an output folder that is not emptied keeps old files.
 */
import { existsSync, type Dirent } from 'node:fs'
import { readdir, readFile, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { normalizePath, type Rolldown } from 'vite'
import { findSecrets, type Needle } from './scan.ts'

/**
 * The bytes of every file the bundle will write. Rolldown lists `.map` files as
 * assets when `build.sourcemap` is `true` or `'hidden'`, and with `'inline'`
 * the map is already in the chunk's code as a base64 data URL; a chunk's `map`
 * is scanned too, as its own file, in case a bundler writes it later.
 */
function* outputFiles(bundle: Rolldown.OutputBundle): Generator<[fileName: string, content: string | Uint8Array]> {
  for (const output of Object.values(bundle)) {
    if (output.type === 'asset') {
      yield [output.fileName, output.source]
      continue
    }
    yield [output.fileName, output.code]
    const mapFile = `${output.fileName}.map`
    if (output.map && !(mapFile in bundle)) yield [mapFile, output.map.toString()]
  }
}

/**
 * One message per secret per file, naming the variable and the file, never the
 * value: `secret WIDGET_API_KEY found in dist/client/assets/main-abc.js (as base64): …`.
 */
export function scanBundle(
  bundle: Rolldown.OutputBundle,
  root: string,
  outDir: string,
  needles: readonly Needle[],
): string[] {
  if (!needles.length) return []
  const messages: string[] = []
  for (const [fileName, content] of outputFiles(bundle)) {
    const file = normalizePath(path.relative(root, path.resolve(root, outDir, fileName)))
    for (const hit of findSecrets(content, needles)) {
      messages.push(
        `secret ${hit.label} found in ${file} (as ${hit.encoding}): the build output must never contain vendor secrets`,
      )
    }
  }
  return messages
}

/** Every file under `dir`, symlinked files included; `.git` (which Vite's `emptyOutDir` keeps) and symlinked folders skipped. */
async function* filesUnder(dir: string): AsyncGenerator<string> {
  let entries: Dirent[]
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch {
    return // never written: an environment with nothing to write
  }
  for (const entry of entries) {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) {
      if (entry.name !== '.git') yield* filesUnder(file)
    } else if (entry.isFile() || (entry.isSymbolicLink() && (await stat(file).catch(() => undefined))?.isFile())) {
      yield file
    }
  }
}

/** `, copied from public/…` when `file` has a twin in the public folder: the place to take the secret out. */
function publicOrigin(root: string, outDir: string, publicDir: string, file: string): string {
  if (!publicDir) return ''
  const source = path.join(publicDir, path.relative(outDir, file))
  return existsSync(source) ? `, copied from ${normalizePath(path.relative(root, source))}` : ''
}

/**
 * Scans every file in `outDir` as it is on disk, and deletes each one that
 * holds a secret: the build fails, but `dist/` is what a later `npm start`
 * serves, so a leaking file must not stay. One message per secret per file,
 * naming the variable, the file and where it came from, never the value.
 */
export async function sweepOutDir(
  root: string,
  outDir: string,
  publicDir: string,
  needles: readonly Needle[],
): Promise<string[]> {
  if (!needles.length) return []
  const messages: string[] = []
  for await (const file of filesUnder(outDir)) {
    // One file in memory at a time: public folders can hold large media.
    const hits = findSecrets(await readFile(file), needles)
    if (!hits.length) continue
    await rm(file, { force: true })
    const shown = normalizePath(path.relative(root, file))
    const origin = publicOrigin(root, outDir, publicDir, file)
    for (const hit of hits) {
      messages.push(
        `secret ${hit.label} found in ${shown} (as ${hit.encoding}${origin}): ` +
          'the build output must never contain vendor secrets; the file was deleted',
      )
    }
  }
  return messages
}
