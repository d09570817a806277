/**
 * Scans one environment's finished bundle — every chunk, asset and source map —
 * for secrets, just before it is written (SPEC invariant 1: no secret in any
 * file under `dist/`).
 */
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
