// `npm start`: the production server, building first when `dist/` is missing
// or older than the sources it is built from. Plain JavaScript, because it
// runs before anything is compiled.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { buildIsStale } from './build-state.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
if (buildIsStale(root)) {
  console.log('[start] building (dist/ is missing or older than the sources)…')
  const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' })
  if (build.status !== 0) process.exit(build.status ?? 1)
}

// The demo on a fresh checkout has no SESSION_KEYS, and the production server
// refuses to start without them. For the demo only, make one for this run and
// say so; a deployment sets SESSION_KEYS (see README, "Security model").
const dotenv = path.join(root, '.env')
if (existsSync(dotenv)) process.loadEnvFile(dotenv)
if (!process.env.SESSION_KEYS) {
  process.env.SESSION_KEYS = randomBytes(32).toString('base64url')
  console.log('[start] SESSION_KEYS is unset: the demo uses a random key for this run (sessions end when it stops)')
}

const { runCli } = await import(pathToFileURL(path.join(root, 'dist/node/server/main.js')).href)
await runCli([])
