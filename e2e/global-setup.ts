/**
 * Builds the production output once before any worker starts a production
 * server, so every `prod` test runs against a fresh `vite build` + `tsc`.
 * The build runs with the canary secrets in its environment, as a careless
 * deployment would: the leak suite then proves none of them lands in `dist/`.
 */
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CANARY_SECRETS } from './stack.ts'

export default function globalSetup(): void {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
  const env = { ...process.env, ...CANARY_SECRETS }
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', env })
}
