/**
 * The demo server's configuration, from the SPEC's fixed environment names.
 * A vendor whose secret is unset is served by its built-in local stub,
 * started here in-process, so a fresh checkout works with no setup.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import {
  carameloFromEnv,
  returningFromEnv,
  type CarameloOptions,
  type ReturningOptions,
  type WidgetPageCacheOptions,
} from '../plugin/runtime/index.ts'
import { startCarameloStub, startReturningStub } from '../stubs/index.ts'
import { loadUsersFromEnv } from './accounts.ts'

type Env = Record<string, string | undefined>

export interface ServerConfig {
  host: string
  port: number
  sessionKeys: string[]
  /** `TRUST_PROXY`: how many reverse proxies are in front (see `proxyHops`); 0 trusts no X-Forwarded-*. */
  proxy: number
  demoPassword: string
  /**
   * `DEMO_LOAD_USERS`: extra demo accounts for the load suite only (see
   * `loadUsersFromEnv` in accounts.ts). 0 unless asked for; the production
   * server refuses it without `DEMO_LOAD_MODE=1`.
   */
  loadUsers: number
  returning: ReturningOptions
  caramelo: CarameloOptions
  timeoutMs: number | undefined
  /**
   * `EMBEDS_WIDGET_PAGE_CACHE`: unset caches the widget page for the
   * runtime's TTL, `vendor` lets the vendor's `Cache-Control` decide (the
   * hostile-vendor tests swap pages that say `no-store`), `off` never caches.
   */
  widgetPageCache: WidgetPageCacheOptions | false
  /** `METRICS_TOKEN` (demo only): the bearer token `/metrics` asks for; unset, there is no `/metrics`. */
  metricsToken: string | undefined
  /** Closes whatever stubs were started. */
  close(): Promise<void>
}

/** Reads `.env` from `root` when present; variables already set win, as with dotenv. */
export function loadDotEnv(root: string): void {
  const file = path.join(root, '.env')
  if (existsSync(file)) process.loadEnvFile(file)
}

function port(env: Env): number {
  const raw = env['PORT'] ?? '3000'
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new TypeError(`PORT must be a port number, got '${raw}'`)
  return n
}

/** The most proxies `TRUST_PROXY` may name: more is a typo, not a deployment. */
const MAX_PROXY_HOPS = 10

/**
 * `TRUST_PROXY`: the number of reverse proxies in front of the server, each
 * appending to `X-Forwarded-For`. The client's address is then the one the
 * outermost of them saw. A word such as `true` is refused rather than
 * guessed at: trusting one hop too many lets a client pick its own address.
 */
export function proxyHops(env: Env): number {
  const raw = env['TRUST_PROXY']?.trim() ?? ''
  if (raw === '') return 0
  const n = Number(raw)
  if (!/^\d+$/.test(raw) || n > MAX_PROXY_HOPS) {
    throw new TypeError(
      `TRUST_PROXY must be the number of reverse proxies in front of the server (0 to ${MAX_PROXY_HOPS}; 1 for one), got '${raw}'`,
    )
  }
  return n
}

/**
 * Session signing keys. Production refuses to start without real ones;
 * development makes a random key for the run and says so.
 */
export function sessionKeys(env: Env, log: Logger, dev: boolean): string[] {
  const keys = (env['SESSION_KEYS'] ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
  if (keys.length) {
    const short = keys.findIndex((k) => k.length < 16)
    if (short !== -1 && !dev) {
      throw new TypeError(`SESSION_KEYS entry ${short + 1} is shorter than 16 characters: use random keys of 32 bytes`)
    }
    return keys
  }
  if (!dev) {
    throw new TypeError(
      'SESSION_KEYS is required in production: one or more comma-separated random keys, the first signs ' +
        "(e.g. node -e \"console.log(require('crypto').randomBytes(32).toString('base64url'))\")",
    )
  }
  log.warn('SESSION_KEYS is unset: development uses a random key for this run (sessions end when the server stops)')
  return [randomBytes(32).toString('base64url')]
}

function widgetPageCache(env: Env): WidgetPageCacheOptions | false {
  const raw = env['EMBEDS_WIDGET_PAGE_CACHE'] ?? ''
  if (raw === '') return {}
  if (raw === 'vendor') return { honorVendorCacheControl: true }
  if (raw === 'off') return false
  throw new TypeError(`EMBEDS_WIDGET_PAGE_CACHE must be 'vendor' or 'off' when set, got '${raw}'`)
}

/**
 * The keys that sign lazy widget URLs, derived from the session keys: every
 * instance that shares `SESSION_KEYS` accepts the frames the others
 * rendered, with nothing more to configure, and a key that signs cookies is
 * never used as is for anything else.
 */
export function lazySigningKeys(sessionKeys: readonly string[]): string[] {
  return sessionKeys.map((key) => createHmac('sha256', key).update('eta-embeds lazy widget urls').digest('base64url'))
}

/**
 * `METRICS_TOKEN`, a demo-only name: the runtime checks the value. Unset, the
 * demo serves no counters rather than make up a token nobody knows. Only
 * whether it is set is logged, never the value.
 */
export function metricsToken(env: Env, log: Logger): string | undefined {
  const token = env['METRICS_TOKEN']?.trim() || undefined
  log.info(
    token
      ? 'METRICS_TOKEN is set: /metrics answers requests that send it as a bearer token'
      : 'METRICS_TOKEN is unset: /metrics is off',
  )
  return token
}

/** Resolves the configuration, starting a local stub for every vendor without a secret. */
export async function loadConfig(env: Env, log: Logger, dev: boolean): Promise<ServerConfig> {
  // First: a production server without session keys, or with a bad TRUST_PROXY, must not start anything.
  const keys = sessionKeys(env, log, dev)
  const pageCache = widgetPageCache(env)
  const proxy = proxyHops(env)
  const metrics = metricsToken(env, log)
  // Also before anything starts: the production server is production whatever NODE_ENV says.
  const loadUsers = loadUsersFromEnv(env, !dev || env['NODE_ENV'] === 'production')
  if (loadUsers > 0) {
    log.warn({ loadUsers }, 'DEMO_LOAD_USERS: load-test accounts with the demo password are enabled (load tests only)')
  }
  const closers: (() => Promise<void>)[] = []
  let returning = returningFromEnv(env)
  if (!returning) {
    const apiKey = randomBytes(24).toString('base64url')
    const stub = await startReturningStub({ apiKey, communityId: env['WIDGET_COMMUNITY_ID'] || 'demo-community' })
    closers.push(() => stub.close())
    returning = {
      baseUrl: stub.url,
      apiKey,
      communityId: env['WIDGET_COMMUNITY_ID'] || 'demo-community',
      widgetType: 'store',
      widgetId: env['WIDGET_ID'] || 'demo-store',
    }
    log.info({ vendor: 'returning', url: stub.url }, 'WIDGET_API_KEY is unset: Returning.AI is the built-in local stub')
  }
  let caramelo = carameloFromEnv(env)
  if (!caramelo) {
    const secretToken = randomBytes(24).toString('base64url')
    const projectId = env['CARAMELO_PROJECT_ID'] || 'demo-project'
    const stub = await startCarameloStub({ secretToken, projectId })
    closers.push(() => stub.close())
    caramelo = { apiUrl: stub.apiUrl, sdkUrl: stub.sdkUrl, projectId, secretToken }
    log.info(
      { vendor: 'caramelo', url: stub.apiUrl },
      'CARAMELO_SECRET_TOKEN is unset: Caramelo AI is the built-in local stub',
    )
  }
  const timeout = env['EMBEDS_TIMEOUT_MS']
  return {
    host: env['HOST'] || '127.0.0.1',
    port: port(env),
    sessionKeys: keys,
    proxy,
    demoPassword: env['DEMO_PASSWORD'] || 'demo-password',
    loadUsers,
    returning,
    caramelo,
    timeoutMs: timeout ? Number(timeout) : undefined,
    widgetPageCache: pageCache,
    metricsToken: metrics,
    close: async () => {
      await Promise.all(closers.map((c) => c()))
    },
  }
}
