/**
 * The demo server's configuration, from the SPEC's fixed environment names.
 * A vendor whose secret is unset is served by its built-in local stub,
 * started here in-process, so a fresh checkout works with no setup.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import { withoutUserInfo } from '../plugin/runtime/check.ts'
import type { AnyVendorAdapter, ConfiguredVendor, StreamMode } from '../plugin/runtime/index.ts'
import { BUILTIN_VENDORS } from '../plugin/vendors/registry.ts'
import { LOCAL_VENDORS } from '../stubs/local.ts'
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
  /** Every built-in vendor: from its environment variables when its secret is set, else its local stub. */
  vendors: ConfiguredVendor[]
  timeoutMs: number | undefined
  /** `EMBEDS_STREAM`: how pages are sent (the runtime's `stream` option); out of order unless set. */
  stream: StreamMode | false
  /** `METRICS_TOKEN` (demo only): the bearer token `/metrics` asks for; unset, there is no `/metrics`. */
  metricsToken: string | undefined
  /**
   * `REDIS_URL`: the Redis that every instance shares its caches, breakers,
   * login throttle and session revocations through; unset, each instance
   * keeps them in its own memory.
   */
  redisUrl: string | undefined
  /** `REDIS_TIMEOUT_MS` (demo only): each Redis command's deadline; unset, `RedisStore`'s 100 ms. */
  redisTimeoutMs: number | undefined
  /** Closes whatever stubs were started. */
  close(): Promise<void>
}

/**
 * Reads `.env` from `root` when present — that file only, not Vite's
 * `.env.local` or `.env.[mode]` — into `process.env`. A variable already set
 * wins, even an empty one, as with dotenv: the environment a deployment sets
 * overrides a developer's file.
 */
export function loadDotEnv(root: string): void {
  const file = path.join(root, '.env')
  if (existsSync(file)) process.loadEnvFile(file)
}

/**
 * `PORT`: where the demo listens; 0 picks a free port (the tests' choice).
 * Blank is unset, as for every other name: a `PORT=` line left in a `.env`
 * copied from an example must not make the server listen on a random port.
 */
export function listenPort(env: Env): number {
  const raw = env['PORT']?.trim() || '3000'
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

/**
 * The keys that sign lazy widget URLs, derived from the session keys: every
 * instance that shares `SESSION_KEYS` accepts the frames the others
 * rendered, with nothing more to configure, and a key that signs cookies is
 * never used as is for anything else.
 */
export function lazySigningKeys(sessionKeys: readonly string[]): string[] {
  return derivedKeys(sessionKeys, 'eta-embeds lazy widget urls')
}

/**
 * The secrets of the shared store (`shared.secretKeys`: what seals values
 * and names keys in Redis), derived from the session keys like
 * `lazySigningKeys` but with a label of their own: instances that share
 * `SESSION_KEYS` agree with nothing more to configure, and rotating
 * `SESSION_KEYS` (a new key first, the old one kept) rotates these the same way.
 * Each is 43 characters, past the store's 32-character minimum whatever the
 * length of the session key (development accepts short ones).
 */
export function storeSecretKeys(sessionKeys: readonly string[]): string[] {
  return derivedKeys(sessionKeys, 'eta-embeds shared store')
}

/** One key per session key, in the ring's order: an HMAC of `label`, so each purpose has keys of its own. */
function derivedKeys(sessionKeys: readonly string[], label: string): string[] {
  return sessionKeys.map((key) => createHmac('sha256', key).update(label).digest('base64url'))
}

/**
 * `REDIS_URL`: a `redis://` or `rediss://` (TLS) URL, or unset. Logged, and
 * quoted when refused, with any user name and password masked.
 */
export function redisUrl(env: Env, log: Logger): string | undefined {
  const raw = env['REDIS_URL']?.trim() ?? ''
  if (raw === '') {
    log.info('REDIS_URL is unset: caches, breakers, login throttle and session revocations stay in this instance')
    return undefined
  }
  let protocol: string | undefined
  try {
    protocol = new URL(raw).protocol
  } catch {
    protocol = undefined
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new TypeError(
      `REDIS_URL must be a redis:// or rediss:// (TLS) URL such as redis://127.0.0.1:6379/0, got '${withoutUserInfo(raw)}'`,
    )
  }
  log.info({ redis: withoutUserInfo(raw) }, 'REDIS_URL is set: instances share their state through this Redis')
  return raw
}

/**
 * `REDIS_TIMEOUT_MS`, a demo-only name: the deadline of each Redis command
 * (`RedisStore`'s `timeoutMs`), a whole number of milliseconds from 1 to
 * 60000; unset, the store's default (100 ms). A command past it is a failed
 * one, and the instance works from memory for it.
 */
export function redisTimeoutMs(env: Env): number | undefined {
  const raw = env['REDIS_TIMEOUT_MS']?.trim() ?? ''
  if (raw === '') return undefined
  const ms = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN
  if (!(ms >= 1 && ms <= 60_000)) {
    throw new TypeError(`REDIS_TIMEOUT_MS must be a whole number of milliseconds from 1 to 60000, got '${raw}'`)
  }
  return ms
}

/**
 * `EMBEDS_STREAM`, a demo-only name: `out-of-order` (unset: the demo's
 * choice), `in-order`, or `off` (the whole page at once). For comparing the
 * modes (`npm run bench:streaming`) and trying them in a browser.
 */
export function streamMode(env: Env): StreamMode | false {
  const raw = env['EMBEDS_STREAM']?.trim() ?? ''
  if (raw === '' || raw === 'out-of-order') return 'out-of-order'
  if (raw === 'in-order') return 'in-order'
  if (raw === 'off') return false
  throw new TypeError(`EMBEDS_STREAM must be 'out-of-order', 'in-order' or 'off' when set, got '${raw}'`)
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
  const proxy = proxyHops(env)
  const metrics = metricsToken(env, log)
  const redis = redisUrl(env, log)
  const redisTimeout = redisTimeoutMs(env)
  const stream = streamMode(env)
  // Also before anything starts: the production server is production whatever NODE_ENV says.
  const loadUsers = loadUsersFromEnv(env, !dev || env['NODE_ENV'] === 'production')
  if (loadUsers > 0) {
    log.warn({ loadUsers }, 'DEMO_LOAD_USERS: load-test accounts with the demo password are enabled (load tests only)')
  }
  const closers: (() => Promise<void>)[] = []
  const vendors: ConfiguredVendor[] = []
  try {
    for (const adapter of BUILTIN_VENDORS) vendors.push(await configureVendor(adapter, env, log, closers))
  } catch (error) {
    await Promise.all(closers.map((c) => c()))
    throw error
  }
  const timeout = env['EMBEDS_TIMEOUT_MS']
  return {
    host: env['HOST'] || '127.0.0.1',
    port: listenPort(env),
    sessionKeys: keys,
    proxy,
    demoPassword: env['DEMO_PASSWORD'] || 'demo-password',
    loadUsers,
    vendors,
    timeoutMs: timeout ? Number(timeout) : undefined,
    stream,
    metricsToken: metrics,
    redisUrl: redis,
    redisTimeoutMs: redisTimeout,
    close: async () => {
      await Promise.all(closers.map((c) => c()))
    },
  }
}

/**
 * One built-in vendor: real when its secret is set (SPEC), else its local
 * stub, started here, and the server says so. Either way the adapter reads
 * the same environment names, so the stub is configured as the vendor would be.
 */
async function configureVendor(
  adapter: AnyVendorAdapter,
  env: Env,
  log: Logger,
  closers: (() => Promise<void>)[],
): Promise<ConfiguredVendor> {
  const { definition } = adapter
  const real: unknown = definition.fromEnv?.(env)
  if (real !== undefined) return adapter(real)
  const startStub = LOCAL_VENDORS[definition.name]
  if (!startStub) throw new Error(`internal: the built-in vendor '${definition.name}' has no local stub`)
  const stub = await startStub(env)
  closers.push(() => stub.close())
  const options: unknown = definition.fromEnv?.({ ...env, ...stub.env })
  if (options === undefined) throw new Error(`internal: the local stub of '${definition.name}' did not configure it`)
  const secret = definition.secretEnvNames?.[0] ?? 'its secret'
  log.info(
    { vendor: definition.name, url: stub.url },
    `${secret} is unset: ${definition.title} is the built-in local stub`,
  )
  return adapter(options)
}
