/**
 * The load suite runs the production server from `dist/`: build it first when
 * it is missing or older than its sources (the rule `npm start` uses), so a
 * fresh clone needs nothing but `npm ci && npm run test:load`, and a second
 * run does not rebuild under the feet of other suites using `dist/`.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { ROOT } from './server.ts'

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

function newest(entry: string): number {
  const full = path.join(ROOT, entry)
  if (!existsSync(full)) return 0
  const stat = statSync(full)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...readdirSync(full).map((name) => newest(path.join(entry, name))))
}

function oldestOutput(): number {
  return Math.min(
    ...OUTPUTS.map((file) => (existsSync(path.join(ROOT, file)) ? statSync(path.join(ROOT, file)).mtimeMs : 0)),
  )
}

export default function globalSetup(): void {
  if (oldestOutput() >= Math.max(...SOURCES.map(newest))) return
  console.log('[load] building (dist/ is missing or older than the sources)…')
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' })
}
