// Whether `dist/` must be (re)built: missing, or older than anything it is
// built from. Shared by `npm start` and the load suite. Plain JavaScript,
// because `npm start` runs it before anything is compiled.
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'

const OUTPUTS = ['dist/node/server/main.js', 'dist/server/templates.js', 'dist/client/.vite/manifest.json']
const SOURCES = [
  'plugin',
  'server',
  'stubs',
  'templates',
  'client',
  'vite.config.ts',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
]

function newest(root, entry) {
  const full = path.join(root, entry)
  if (!existsSync(full)) return 0
  const stat = statSync(full)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...readdirSync(full).map((name) => newest(root, path.join(entry, name))))
}

/** True when any build output under `root` is missing or older than the newest source. */
export function buildIsStale(root) {
  const oldestOutput = Math.min(
    ...OUTPUTS.map((file) => (existsSync(path.join(root, file)) ? statSync(path.join(root, file)).mtimeMs : 0)),
  )
  return oldestOutput < Math.max(...SOURCES.map((entry) => newest(root, entry)))
}
