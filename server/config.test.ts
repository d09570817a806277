import { connect } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { CarameloOptions, ReturningProxyOptions, ReturningSdkOptions } from '../plugin/runtime/index.ts'
import { resolveOptions } from '../plugin/runtime/options.ts'
import { renderPage } from '../plugin/runtime/render/render.ts'
import {
  compileTemplates,
  recordingLogger as runtimeLogger,
  TEST_NONCE,
  TEST_USER,
  testRuntime,
} from '../plugin/runtime/test-helpers.ts'
import { BUILTIN_VENDORS } from '../plugin/vendors/registry.ts'
import type { LocalVendorStarter } from '../stubs/local.ts'
import {
  lazySigningKeys,
  loadConfig,
  metricsToken,
  proxyHops,
  redisUrl,
  storeSecretKeys,
  redisTimeoutMs,
  streamMode,
  type ServerConfig,
} from './config.ts'
import { recordingLogger } from './test-helpers.ts'

/** Every local stub the demo starts, by adapter name, with where it listens. */
const started = vi.hoisted(() => [] as { name: string; url: string }[])

// The demo's own stubs, recorded as they start, so a test can check that each was closed.
vi.mock(import('../stubs/local.ts'), async (importOriginal) => {
  const actual = await importOriginal()
  const recorded = Object.entries(actual.LOCAL_VENDORS).map(([name, start]): [string, LocalVendorStarter] => [
    name,
    async (env) => {
      const stub = await start(env)
      started.push({ name, url: stub.url })
      return stub
    },
  ])
  return { ...actual, LOCAL_VENDORS: Object.fromEntries(recorded) }
})

describe('TRUST_PROXY', () => {
  it('is the number of reverse proxies in front; unset, empty or 0 trusts none', () => {
    expect(proxyHops({})).toBe(0)
    expect(proxyHops({ TRUST_PROXY: '' })).toBe(0)
    expect(proxyHops({ TRUST_PROXY: '0' })).toBe(0)
    expect(proxyHops({ TRUST_PROXY: '1' })).toBe(1)
    expect(proxyHops({ TRUST_PROXY: ' 2 ' })).toBe(2)
  })

  it.each(['true', 'yes', '-1', '1.5', '1,2', '99'])("refuses '%s', saying what it must be", (value) => {
    expect(() => proxyHops({ TRUST_PROXY: value })).toThrow(
      `TRUST_PROXY must be the number of reverse proxies in front of the server (0 to 10; 1 for one), got '${value}'`,
    )
  })
})

describe('EMBEDS_STREAM', () => {
  it('is out of order unless set to in-order or off (the whole page)', () => {
    expect(streamMode({})).toBe('out-of-order')
    expect(streamMode({ EMBEDS_STREAM: 'out-of-order' })).toBe('out-of-order')
    expect(streamMode({ EMBEDS_STREAM: ' in-order ' })).toBe('in-order')
    expect(streamMode({ EMBEDS_STREAM: 'off' })).toBe(false)
  })

  it.each(['true', 'whole', 'In-Order'])("refuses '%s', saying what it must be", (value) => {
    expect(() => streamMode({ EMBEDS_STREAM: value })).toThrow(
      `EMBEDS_STREAM must be 'out-of-order', 'in-order' or 'off' when set, got '${value}'`,
    )
  })
})

describe('REDIS_TIMEOUT_MS', () => {
  it("is RedisStore's default unless set to a whole number of milliseconds", () => {
    expect(redisTimeoutMs({})).toBeUndefined()
    expect(redisTimeoutMs({ REDIS_TIMEOUT_MS: ' 2000 ' })).toBe(2000)
  })

  it.each(['0', '-5', '1.5', '60001', 'soon'])("refuses '%s'", (value) => {
    expect(() => redisTimeoutMs({ REDIS_TIMEOUT_MS: value })).toThrow(
      `REDIS_TIMEOUT_MS must be a whole number of milliseconds from 1 to 60000, got '${value}'`,
    )
  })
})

describe('METRICS_TOKEN', () => {
  it('is read trimmed, and only whether it is set is logged', () => {
    const { logger, lines } = recordingLogger()
    expect(metricsToken({ METRICS_TOKEN: ' demo-metrics-token-0123456789 ' }, logger)).toBe(
      'demo-metrics-token-0123456789',
    )
    expect(metricsToken({}, logger)).toBeUndefined()
    expect(lines.map((l) => l['msg'])).toEqual([
      'METRICS_TOKEN is set: /metrics answers requests that send it as a bearer token',
      'METRICS_TOKEN is unset: /metrics is off',
    ])
    expect(JSON.stringify(lines)).not.toContain('demo-metrics-token')
  })
})

describe('REDIS_URL', () => {
  it('is a redis:// or rediss:// URL, logged with its password masked; unset, memory is said', () => {
    const { logger, lines } = recordingLogger()
    expect(redisUrl({ REDIS_URL: ' redis://:pw-0123456789@10.0.0.5:6379/2 ' }, logger)).toBe(
      'redis://:pw-0123456789@10.0.0.5:6379/2',
    )
    expect(redisUrl({ REDIS_URL: 'rediss://default:pw-0123456789@cache.internal:6380' }, logger)).toBe(
      'rediss://default:pw-0123456789@cache.internal:6380',
    )
    expect(redisUrl({}, logger)).toBeUndefined()
    expect(lines.map((l) => [l['msg'], l['redis']])).toEqual([
      ['REDIS_URL is set: instances share their state through this Redis', 'redis://***@10.0.0.5:6379/2'],
      ['REDIS_URL is set: instances share their state through this Redis', 'rediss://***@cache.internal:6380'],
      ['REDIS_URL is unset: caches, breakers, login throttle and session revocations stay in this instance', undefined],
    ])
    expect(JSON.stringify(lines)).not.toContain('pw-0123456789')
  })

  it.each([
    ['http://:pw-0123456789@10.0.0.5:6379', 'http://***@10.0.0.5:6379'],
    ['10.0.0.5:6379', '10.0.0.5:6379'],
    ['redis//oops', 'redis//oops'],
  ])("refuses '%s', quoting it masked", (value, quoted) => {
    const { logger } = recordingLogger()
    expect(() => redisUrl({ REDIS_URL: value }, logger)).toThrow(
      `REDIS_URL must be a redis:// or rediss:// (TLS) URL such as redis://127.0.0.1:6379/0, got '${quoted}'`,
    )
  })

  it('refuses a bad REDIS_URL before any stub starts', async () => {
    const { logger } = recordingLogger()
    await expect(loadConfig({ REDIS_URL: 'http://x' }, logger, true)).rejects.toThrow('REDIS_URL must be')
    expect(started).toEqual([])
  })
})

describe('storeSecretKeys', () => {
  it('derives one store secret per session key, in order, long enough however short the key, and apart from the lazy keys', () => {
    const keys = storeSecretKeys(['short', 'old-key-0123456789abcdef'])
    expect(keys).toHaveLength(2)
    for (const key of keys) expect(key.length).toBeGreaterThanOrEqual(32)
    // Instances with the same SESSION_KEYS agree; rotation keeps the old key's secret second.
    expect(storeSecretKeys(['new-key-0123456789abcdef', 'old-key-0123456789abcdef'])[1]).toBe(keys[1])
    expect(keys).not.toContain('short')
    expect(keys.some((k) => lazySigningKeys(['short', 'old-key-0123456789abcdef']).includes(k))).toBe(false)
  })
})

const configs: ServerConfig[] = []
afterEach(async () => {
  await Promise.all(configs.splice(0).map((c) => c.close()))
  started.length = 0
})

/** `loadConfig` for the development server, closed after the test. */
async function devConfig(env: Record<string, string>): Promise<{ config: ServerConfig; lines: LogRecord[] }> {
  const { logger, lines } = recordingLogger()
  const config = await loadConfig(env, logger, true)
  configs.push(config)
  return { config, lines }
}

type LogRecord = Record<string, unknown>

/** The "…is the built-in local stub" lines, as `[vendor, message]`. */
function stubLines(lines: LogRecord[]): [unknown, unknown][] {
  return lines
    .filter((l) => String(l['msg']).endsWith('is the built-in local stub'))
    .map((l) => [l['vendor'], l['msg']])
}

/** The options the demo gave one adapter, by adapter name. */
function optionsOf<T>(config: ServerConfig, name: string): T {
  const vendor = config.vendors.find((v) => v.definition.name === name)
  if (!vendor) throw new Error(`no vendor '${name}' configured`)
  return vendor.options as T
}

/** `'accepted'`, or the error code of a connection to `url` (`'ECONNREFUSED'` once a stub is closed). */
function tryConnect(url: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname)
    socket.once('connect', () => {
      socket.destroy()
      resolve('accepted')
    })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'))
  })
}

const ALL_STUB_LINES: [string, string][] = [
  ['returning-proxy', 'WIDGET_API_KEY is unset: Returning.AI (proxy flow) is the built-in local stub'],
  ['returning-sdk', 'RAI_ACCESS_KEY is unset: Returning.AI (Widget SDK flow) is the built-in local stub'],
  ['caramelo', 'CARAMELO_SECRET_TOKEN is unset: Caramelo AI is the built-in local stub'],
]

/** Each vendor's secret set, pointing at hosts that are never called here. */
const REAL_ENV = {
  WIDGET_BASE_URL: 'https://widgets.vendor.test',
  WIDGET_API_KEY: 'real-widget-api-key-0123',
  WIDGET_COMMUNITY_ID: 'real-community',
  WIDGET_ID: 'real-store',
  RAI_V2_API_URL: 'https://api-v2.vendor.test',
  RAI_SDK_URL: 'https://cdn.vendor.test/widget-sdk.js',
  RAI_ACCESS_ID: 'real-access-id',
  RAI_ACCESS_KEY: 'real-access-key-4567',
  CARAMELO_API_URL: 'https://api.caramelo.test',
  CARAMELO_SDK_URL: 'https://cdn.caramelo.test/authenticated.js',
  CARAMELO_PROJECT_ID: 'real-project',
  CARAMELO_SECRET_TOKEN: 'real-caramelo-secret-89ab',
}

describe('the demo configures every built-in vendor adapter', () => {
  it('from its local stub when its secret is unset, says so, and the stubs answer the flows', async () => {
    const { config, lines } = await devConfig({})

    expect(config.vendors.map((v) => v.definition.name)).toEqual(BUILTIN_VENDORS.map((a) => a.definition.name))
    expect(stubLines(lines)).toEqual(ALL_STUB_LINES)
    expect(started.map((s) => s.name)).toEqual(['returning-proxy', 'returning-sdk', 'caramelo'])
    // Each log line names where its stub listens, and never a credential it was given.
    expect(lines.filter((l) => l['url']).map((l) => l['url'])).toEqual(started.map((s) => s.url))
    const credentials = [
      optionsOf<ReturningProxyOptions>(config, 'returning-proxy').apiKey,
      optionsOf<ReturningSdkOptions>(config, 'returning-sdk').accessKey,
      optionsOf<CarameloOptions>(config, 'caramelo').secretToken,
    ]
    for (const secret of credentials) expect(JSON.stringify(lines)).not.toContain(secret)

    // The adapters, configured so, get their tokens from the stubs.
    const logger = runtimeLogger()
    const runtime = testRuntime({ vendors: config.vendors, logger })
    try {
      const templates = await compileTemplates({ home: '<<widget>>|<<widget flow="sdk">>|<<caramelo>>' })
      const page = await renderPage(
        runtime,
        templates,
        'home',
        {},
        { user: TEST_USER, nonce: TEST_NONCE, acceptLanguage: undefined },
      )
      expect(logger.lines).toEqual([])
      const [proxy, sdk, chat] = page.split('|')
      expect(proxy).toMatch(/^<iframe [^>]* srcdoc="[^"]*token: &quot;ey/)
      expect(sdk).toMatch(/^<rai-store-widget class="eta-embeds-widget" [^>]*embed-token="ey/)
      expect(chat).toContain('var carameloaiChatbot = {')
    } finally {
      await runtime.close()
    }

    await config.close()
    for (const { url } of started) expect(await tryConnect(url), url).toBe('ECONNREFUSED')
  })

  it('from its environment when its secret is set, starting no stub', async () => {
    const { config, lines } = await devConfig(REAL_ENV)

    expect(stubLines(lines)).toEqual([])
    expect(started).toEqual([])
    expect(optionsOf<ReturningProxyOptions>(config, 'returning-proxy')).toMatchObject({
      baseUrl: REAL_ENV.WIDGET_BASE_URL,
      apiKey: REAL_ENV.WIDGET_API_KEY,
      communityId: REAL_ENV.WIDGET_COMMUNITY_ID,
      widgetId: REAL_ENV.WIDGET_ID,
    })
    expect(optionsOf<ReturningSdkOptions>(config, 'returning-sdk')).toMatchObject({
      apiUrl: REAL_ENV.RAI_V2_API_URL,
      sdkUrl: REAL_ENV.RAI_SDK_URL,
      accessId: REAL_ENV.RAI_ACCESS_ID,
      accessKey: REAL_ENV.RAI_ACCESS_KEY,
      communityId: REAL_ENV.WIDGET_COMMUNITY_ID,
    })
    expect(optionsOf<CarameloOptions>(config, 'caramelo')).toMatchObject({
      apiUrl: REAL_ENV.CARAMELO_API_URL,
      projectId: REAL_ENV.CARAMELO_PROJECT_ID,
      secretToken: REAL_ENV.CARAMELO_SECRET_TOKEN,
    })
    // What the runtime will accept: every option checks out.
    expect(resolveOptions({ vendors: config.vendors }).vendors).toHaveLength(3)
  })

  it('real and stub side by side: only the vendors without a secret get a stub', async () => {
    const { RAI_V2_API_URL, RAI_SDK_URL, RAI_ACCESS_ID, RAI_ACCESS_KEY, WIDGET_COMMUNITY_ID } = REAL_ENV
    const env = { RAI_V2_API_URL, RAI_SDK_URL, RAI_ACCESS_ID, RAI_ACCESS_KEY, WIDGET_COMMUNITY_ID }
    const { config, lines } = await devConfig(env)

    expect(stubLines(lines)).toEqual([ALL_STUB_LINES[0], ALL_STUB_LINES[2]])
    expect(started.map((s) => s.name)).toEqual(['returning-proxy', 'caramelo'])
    expect(optionsOf<ReturningSdkOptions>(config, 'returning-sdk')).toMatchObject({
      apiUrl: RAI_V2_API_URL,
      accessKey: RAI_ACCESS_KEY,
    })
    // The proxy stub serves the app's community, the one the real SDK flow uses.
    expect(optionsOf<ReturningProxyOptions>(config, 'returning-proxy').communityId).toBe(WIDGET_COMMUNITY_ID)
  })
})

describe('the demo closes the stubs it started when a vendor cannot be configured', () => {
  it('a later vendor whose environment is incomplete', async () => {
    const { logger } = recordingLogger()
    const { RAI_ACCESS_KEY, RAI_ACCESS_ID, WIDGET_COMMUNITY_ID } = REAL_ENV
    const env = { RAI_ACCESS_KEY, RAI_ACCESS_ID, WIDGET_COMMUNITY_ID }

    await expect(loadConfig(env, logger, true)).rejects.toThrow('RAI_SDK_URL is required when RAI_ACCESS_KEY is set')
    expect(started.map((s) => s.name)).toEqual(['returning-proxy'])
    for (const { url } of started) expect(await tryConnect(url), url).toBe('ECONNREFUSED')
  })

  it('the stubbed vendor itself, configured from a bad EMBEDS_WIDGET_PAGE_CACHE', async () => {
    const { logger } = recordingLogger()

    await expect(loadConfig({ EMBEDS_WIDGET_PAGE_CACHE: 'sometimes' }, logger, true)).rejects.toThrow(
      "EMBEDS_WIDGET_PAGE_CACHE must be 'vendor' or 'off' when set, got 'sometimes'",
    )
    expect(started.map((s) => s.name)).toEqual(['returning-proxy'])
    for (const { url } of started) expect(await tryConnect(url), url).toBe('ECONNREFUSED')
  })

  it('starts nothing when the production server has no SESSION_KEYS', async () => {
    const { logger } = recordingLogger()

    await expect(loadConfig({}, logger, false)).rejects.toThrow('SESSION_KEYS is required in production')
    expect(started).toEqual([])
  })
})

describe("the demo's EMBEDS_ switches reach the adapters' options", () => {
  it.each([
    ['stubs', {}],
    ['real vendors', REAL_ENV],
  ])('EMBEDS_REUSE_WIDGET_TOKENS=1 turns token reuse on in both Returning.AI flows (%s)', async (_what, env) => {
    const on = (await devConfig({ ...env, EMBEDS_REUSE_WIDGET_TOKENS: '1' })).config
    const off = (await devConfig({ ...env })).config

    for (const name of ['returning-proxy', 'returning-sdk']) {
      expect(optionsOf<{ reuseTokens?: unknown }>(on, name).reuseTokens, name).toBe(true)
      expect(optionsOf<{ reuseTokens?: unknown }>(off, name).reuseTokens, name).toBe(false)
    }
    // Caramelo's tokens are single-use: never reused, whatever the switch says.
    expect(optionsOf<object>(on, 'caramelo')).not.toHaveProperty('reuseTokens')
    const resolved = resolveOptions({ vendors: on.vendors }).vendors
    expect(resolved.map((v) => (v.config as { reuseTokens?: unknown }).reuseTokens)).toEqual([
      { maxEntries: 1000, refreshBeforeExpiryMs: 30_000 },
      { maxEntries: 1000, refreshBeforeExpiryMs: 30_000 },
      undefined,
    ])
  })

  it.each([
    [undefined, {}],
    ['vendor', { honorVendorCacheControl: true }],
    ['off', false],
  ])('EMBEDS_WIDGET_PAGE_CACHE=%s sets the proxy flow pageCache', async (value, pageCache) => {
    const switches: Record<string, string> = value === undefined ? {} : { EMBEDS_WIDGET_PAGE_CACHE: value }
    for (const env of [switches, { ...REAL_ENV, ...switches }]) {
      const { config } = await devConfig(env)
      expect(optionsOf<ReturningProxyOptions>(config, 'returning-proxy').pageCache).toEqual(pageCache)
    }
  })
})
