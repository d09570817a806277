/**
 * The load suite runs the production server from `dist/`: build it first when
 * it is missing or older than its sources (the rule `npm start` uses), so a
 * fresh clone needs nothing but `npm ci && npm run test:load`, and a second
 * run does not rebuild under the feet of other suites using `dist/`.
 */
import { execFileSync } from 'node:child_process'
import { buildIsStale } from '../scripts/build-state.mjs'
import { ROOT } from './server.ts'

export default function globalSetup(): void {
  if (!buildIsStale(ROOT)) return
  console.log('[load] building (dist/ is missing or older than the sources)…')
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' })
}
