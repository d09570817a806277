/**
 * The production demo as the benchmarks run it: built when `dist/` is stale,
 * configured so that every vendor is one of the bench's stubs (none starts
 * inside the measured server), and logged in as alice.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { VENDOR_IDS, type Vendors } from './vendors.ts'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
/** Where the benchmarks write their servers' logs and scratch files (ignored by git). */
export const LOG_DIR = path.join(ROOT, 'node_modules', '.cache', 'eta-embeds-bench')
export const SERVER_ENTRY = path.join(ROOT, 'dist', 'node', 'server', 'main.js')
/** What `npm start` (scripts/start.mjs) checks: the production build and what it is built from. */
const BUILD_OUTPUTS = ['dist/node/server/main.js', 'dist/server/templates.js', 'dist/client/.vite/manifest.json']
const BUILD_SOURCES = ['plugin', 'server', 'stubs', 'templates', 'client', 'vite.config.ts', 'package-lock.json']

function newestMs(entry: string): number {
  if (!existsSync(entry)) return 0
  const stat = statSync(entry)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...readdirSync(entry).map((name) => newestMs(path.join(entry, name))))
}

/** Builds `dist/` when it is missing or older than its sources, as `npm start` does. */
export function ensureBuild(): void {
  const oldest = Math.min(...BUILD_OUTPUTS.map((f) => newestMs(path.join(ROOT, f))))
  if (oldest >= Math.max(...BUILD_SOURCES.map((s) => newestMs(path.join(ROOT, s))))) return
  console.error('[bench] dist/ is missing or older than the sources: npm run build')
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit', timeout: 300_000 })
  if (build.status !== 0) throw new Error('npm run build failed')
}

/**
 * Every vendor's secret is set: a vendor left out would be served by a local
 * stub inside the measured server (server/config.ts), its work counted as the
 * server's and its calls missing from the vendor counts.
 */
export function serverEnv(vendors: Vendors, redisUrl?: string): Record<string, string> {
  return {
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    NODE_ENV: 'production',
    SESSION_KEYS: 'bench-session-key-6d1f0b',
    WIDGET_BASE_URL: vendors.returningUrl,
    WIDGET_API_KEY: VENDOR_IDS.apiKey,
    WIDGET_COMMUNITY_ID: VENDOR_IDS.communityId,
    WIDGET_ID: VENDOR_IDS.widgetId,
    WIDGET_TYPE: 'store',
    RAI_V2_API_URL: vendors.returningSdkApiUrl,
    RAI_SDK_URL: vendors.returningSdkUrl,
    RAI_ACCESS_ID: VENDOR_IDS.accessId,
    RAI_ACCESS_KEY: VENDOR_IDS.accessKey,
    CARAMELO_API_URL: vendors.carameloApiUrl,
    CARAMELO_SDK_URL: vendors.carameloSdkUrl,
    CARAMELO_PROJECT_ID: VENDOR_IDS.projectId,
    CARAMELO_SECRET_TOKEN: VENDOR_IDS.secretToken,
  }
}

/** Logs alice in once: the `sid` and `sid.sig` cookies the load then sends. */
export async function login(serverUrl: string): Promise<string> {
  const answer = await fetch(`${serverUrl}/login`, {
    method: 'POST',
    body: new URLSearchParams({ email: 'alice@example.com', password: 'demo-password' }),
    redirect: 'manual',
  })
  const cookie = answer.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ')
  if (answer.status !== 302 || !cookie.includes('sid.sig=')) throw new Error(`login answered ${answer.status}`)
  return cookie
}
