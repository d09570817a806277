/**
 * Builds the production output once before any worker starts a production
 * server, so every `prod` test runs against a fresh `vite build` + `tsc`.
 */
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export default function globalSetup(): void {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' })
}
