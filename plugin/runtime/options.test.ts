import { MockAgent } from 'undici'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { caramelo } from '../vendors/caramelo/index.ts'
import { defineVendor } from '../vendors/define.ts'
import { returningProxy } from '../vendors/returning/proxy.ts'
import { returningSdk } from '../vendors/returning/sdk.ts'
import { resolveOptions, type EmbedsOptions } from './options.ts'
import { createRuntime } from './runtime.ts'
import { MemoryStore } from './store/memory.ts'
import { recordingLogger, TEST_VENDORS } from './test-helpers.ts'

// Counts the pools and loggers made anywhere in the runtime, to show that
// resolving options makes none and `createRuntime` is where they come from.
const made = vi.hoisted(() => ({ agents: 0, loggers: 0 }))
vi.mock('undici', async (importOriginal) => {
  const actual = await importOriginal<typeof import('undici')>()
  class CountedAgent extends actual.Agent {
    constructor(...args: ConstructorParameters<typeof actual.Agent>) {
      super(...args)
      made.agents++
    }
  }
  return { ...actual, Agent: CountedAgent }
})
vi.mock('pino', async (importOriginal) => {
  const actual = await importOriginal<typeof import('pino')>()
  const pino = (...args: Parameters<typeof actual.pino>) => {
    made.loggers++
    return actual.pino(...args)
  }
  return { ...actual, pino }
})

let agent: MockAgent

beforeEach(() => {
  agent = new MockAgent()
  agent.disableNetConnect()
  made.agents = 0
  made.loggers = 0
})

afterEach(async () => {
  await agent.close()
})

describe('resolveOptions: defaults', () => {
  it('fills the documented defaults and configures no vendor', () => {
    const resolved = resolveOptions({})

    expect(resolved).toEqual({
      vendors: [],
      timeoutMs: 2000,
      maxResponseBytes: 1024 * 1024,
      dispatcher: undefined,
      logger: undefined,
      lazyPath: '/_embeds/widget',
      lazySigningKeys: undefined,
      lazyRateLimit: { requests: 60, perMs: 60_000 },
      breaker: { failureThreshold: 5, cooldownMs: 30_000 },
      now: Date.now,
      shared: undefined,
      metrics: { registry: undefined },
      tracing: { propagateToVendors: false },
    })
  })

  it("fills each vendor's documented defaults, in the order given", () => {
    const resolved = resolveOptions({
      vendors: [
        caramelo({ secretToken: 's' }),
        returningProxy({ apiKey: 'k', communityId: 'c' }),
        returningSdk({ sdkUrl: 'https://cdn.test/sdk.js', accessId: 'i', accessKey: 'ak', communityId: 'c' }),
      ],
    })

    expect(resolved.vendors.map((v) => v.definition)).toEqual([
      caramelo.definition,
      returningProxy.definition,
      returningSdk.definition,
    ])
    expect(resolved.vendors.map((v) => v.config)).toEqual([
      {
        apiUrl: 'https://api.carameloai.com',
        sdkUrl: 'https://static.carameloai.com/sdk/latest/authenticated.js',
        projectId: undefined,
        secretToken: 's',
      },
      {
        baseUrl: 'https://prod-widgets.returning.ai',
        origin: 'https://prod-widgets.returning.ai',
        apiKey: 'k',
        communityId: 'c',
        widgetType: 'store',
        widgetId: undefined,
        pageCache: {},
        reuseTokens: false,
      },
      {
        apiUrl: 'https://api-v2.returning.ai',
        sdkUrl: 'https://cdn.test/sdk.js',
        accessId: 'i',
        accessKey: 'ak',
        communityId: 'c',
        widgetType: 'store',
        channelId: undefined,
        userIdentifiers: [
          ['data-email', 'email'],
          ['data-user-id', 'id'],
        ],
        bundleUrl: undefined,
        reuseTokens: false,
      },
    ])
  })

  it('fills the defaults of nested options given as true or {}', () => {
    const resolved = resolveOptions({
      vendors: [returningProxy({ ...TEST_VENDORS.returning, reuseTokens: true, pageCache: false })],
      breaker: {},
      lazyRateLimit: {},
    })
    expect(resolved.vendors[0]?.config).toMatchObject({
      pageCache: false,
      reuseTokens: { maxEntries: 1000, refreshBeforeExpiryMs: 30_000 },
    })
    expect(resolved.breaker).toEqual({ failureThreshold: 5, cooldownMs: 30_000 })
    expect(resolved.lazyRateLimit).toEqual({ requests: 60, perMs: 60_000 })
  })

  it('turns the breaker and the lazy budget off with false', () => {
    const resolved = resolveOptions({ breaker: false, lazyRateLimit: false })
    expect(resolved.breaker).toBe(false)
    expect(resolved.lazyRateLimit).toBe(false)
  })

  it('drops trailing slashes from URLs and keeps the origin for the CSP', () => {
    const resolved = resolveOptions({
      vendors: [returningProxy({ ...TEST_VENDORS.returning, baseUrl: 'https://w.test:8443/base//' })],
    })

    expect(resolved.vendors[0]?.config).toMatchObject({
      baseUrl: 'https://w.test:8443/base',
      origin: 'https://w.test:8443',
    })
  })
})

describe('resolveOptions: creates nothing', () => {
  const options = (): EmbedsOptions => ({
    vendors: [returningProxy(TEST_VENDORS.returning), caramelo(TEST_VENDORS.caramelo)],
    lazySigningKeys: ['lazy-key-0123456789abcdef'],
  })

  it('holds no pool, logger, state or cache: only checked values, and what the caller passed', () => {
    const logger = recordingLogger()
    const resolved = resolveOptions({ ...options(), dispatcher: agent, logger })

    expect(Object.keys(resolved).sort()).toEqual([
      'breaker',
      'dispatcher',
      'lazyPath',
      'lazyRateLimit',
      'lazySigningKeys',
      'logger',
      'maxResponseBytes',
      'metrics',
      'now',
      'shared',
      'timeoutMs',
      'tracing',
      'vendors',
    ])
    expect(resolved.dispatcher).toBe(agent)
    expect(resolved.logger).toBe(logger)
    expect(resolveOptions(options()).dispatcher).toBeUndefined()
    expect(resolveOptions(options()).logger).toBeUndefined()
    for (const vendor of resolved.vendors) expect(Object.keys(vendor).sort()).toEqual(['config', 'definition'])
  })

  it('makes no pool and no logger however often it is called; createRuntime makes one of each', async () => {
    resolveOptions(options())
    const resolved = resolveOptions(options())
    expect(made).toEqual({ agents: 0, loggers: 0 })

    const runtime = createRuntime(resolved)
    expect(made).toEqual({ agents: 1, loggers: 1 })
    await runtime.close()
  })

  it("never calls an adapter's create: the runtime does, once", () => {
    const create = vi.fn(() => undefined)
    const acme = defineVendor<{ key: string }, { key: string }>({
      name: 'acme',
      directive: 'acme',
      title: 'Acme',
      attributes: {},
      resolve: (o) => ({ key: o.key }),
      create,
      embed: () => Promise.resolve(''),
    })
    const resolved = resolveOptions({ vendors: [acme({ key: 'k' })], dispatcher: agent, logger: recordingLogger() })
    resolveOptions({ vendors: [acme({ key: 'k' })] })
    expect(create).not.toHaveBeenCalled()

    createRuntime(resolved)
    expect(create).toHaveBeenCalledTimes(1)
    expect(create).toHaveBeenCalledWith({ key: 'k' }, expect.objectContaining({ dispatcher: agent }))
  })
})

describe('resolveOptions: errors name the option by its full path', () => {
  const proxy = TEST_VENDORS.returning
  const sdk = TEST_VENDORS.returningSdk
  const chat = TEST_VENDORS.caramelo

  it.each([
    [{ timeoutMs: 0 }, 'options.timeoutMs must be a positive integer, got 0'],
    [{ timeoutMs: -5 }, 'options.timeoutMs must be a positive integer, got -5'],
    [{ timeoutMs: 1.5 }, 'options.timeoutMs must be a positive integer, got 1.5'],
    [{ timeoutMs: Number.NaN }, 'options.timeoutMs must be a positive integer, got NaN'],
    [{ maxResponseBytes: 0 }, 'options.maxResponseBytes must be a positive integer, got 0'],
    [{ breaker: { cooldownMs: -1 } }, 'options.breaker.cooldownMs must be a positive integer, got -1'],
    [{ breaker: { failureThreshold: 0 } }, 'options.breaker.failureThreshold must be a positive integer, got 0'],
    [{ breaker: 'on' as never }, 'options.breaker must be an object, got on'],
    [{ lazyRateLimit: { requests: 0 } }, 'options.lazyRateLimit.requests must be a positive integer, got 0'],
    [{ lazyRateLimit: { perMs: 500 } }, 'options.lazyRateLimit.perMs must be an integer of at least 1000, got 500'],
    [{ lazyPath: 'widget' }, "options.lazyPath must be an absolute URL path such as '/_embeds/widget', got 'widget'"],
    [{ lazySigningKeys: [] }, 'options.lazySigningKeys must be a non-empty array of strings'],
    [{ metrics: 'prometheus' as never }, 'options.metrics must be an object, got prometheus'],
    [
      { metrics: { registry: {} as never } },
      "options.metrics.registry must be a prom-client Registry, such as prom-client's register",
    ],
    [{ tracing: { propagateToVendors: 'yes' as never } }, 'options.tracing.propagateToVendors must be true or false'],
    [
      { shared: { store: new MemoryStore(), secretKeys: ['s'.repeat(32)], breakerSyncMs: 0 } },
      'options.shared.breakerSyncMs must be a positive integer, got 0',
    ],
    [
      { lazySigningKeys: ['lazy-key-0123456789abcdef', 'short'] },
      'options.lazySigningKeys[1] must be at least 16 characters (use 32 random bytes)',
    ],
    [{ vendors: {} as never }, 'options.vendors must be an array of configured vendor adapters'],
    [
      { vendors: [{ apiKey: 'k' }] as never },
      'options.vendors[0] must be a configured vendor adapter, such as returningProxy({ … })',
    ],
    [{ vendors: [returningProxy(null as never)] }, 'options.vendors[0] must be an object, got null'],
    [
      { vendors: [caramelo as never] },
      'options.vendors[0] is an adapter that was not configured: call it with its options, such as caramelo({ … })',
    ],
    [
      { vendors: [returningProxy({ ...proxy, pageCache: { ttlMs: 0 } })] },
      'options.vendors[0].pageCache.ttlMs must be a positive integer, got 0',
    ],
    [
      { vendors: [returningProxy({ ...proxy, pageCache: { maxEntries: -3 } })] },
      'options.vendors[0].pageCache.maxEntries must be a positive integer, got -3',
    ],
    [
      { vendors: [returningProxy({ ...proxy, reuseTokens: { refreshBeforeExpiryMs: -1 } })] },
      'options.vendors[0].reuseTokens.refreshBeforeExpiryMs must be a non-negative integer, got -1',
    ],
    [
      { vendors: [caramelo(chat), returningProxy({ ...proxy, apiKey: '' })] },
      'options.vendors[1].apiKey is required (a non-empty string)',
    ],
    [
      { vendors: [caramelo(chat), returningProxy({ ...proxy, communityId: '' })] },
      'options.vendors[1].communityId is required (a non-empty string)',
    ],
    [
      { vendors: [returningProxy({ ...proxy, baseUrl: 'widgets.test' })] },
      "options.vendors[0].baseUrl must be an absolute http(s) URL, got 'widgets.test'",
    ],
    [
      { vendors: [returningProxy({ ...proxy, baseUrl: 'ftp://widgets.test' })] },
      "options.vendors[0].baseUrl must be an http(s) URL, got 'ftp://widgets.test'",
    ],
    [
      { vendors: [returningProxy({ ...proxy, widgetType: 'admin' as never })] },
      "options.vendors[0].widgetType must be one of store, channel, milestone, social, currency, minigames, got 'admin'",
    ],
    [
      { vendors: [caramelo({ ...chat, secretToken: '' })] },
      'options.vendors[0].secretToken is required (a non-empty string)',
    ],
    [
      { vendors: [caramelo({ ...chat, sdkUrl: 'javascript:alert(1)' })] },
      "options.vendors[0].sdkUrl must be an http(s) URL, got 'javascript:alert(1)'",
    ],
    [
      { vendors: [returningProxy(proxy), returningSdk({ ...sdk, accessKey: '' })] },
      'options.vendors[1].accessKey is required (a non-empty string)',
    ],
    [
      { vendors: [returningSdk({ ...sdk, widgetType: 'minigames' as never })] },
      "options.vendors[0].widgetType must be one of store, channel, milestone, social, currency, got 'minigames'",
    ],
    [
      { vendors: [returningSdk({ ...sdk, userIdentifiers: { email: 'email' } as never })] },
      "options.vendors[0].userIdentifiers key 'email' must be a data-* name such as 'data-email'",
    ],
    [
      { vendors: [returningSdk({ ...sdk, userIdentifiers: { 'data-email': 'password' as never } })] },
      "options.vendors[0].userIdentifiers['data-email'] must be one of id, email, name, lang, got 'password'",
    ],
  ] satisfies [EmbedsOptions, string][])('rejects %o', (options, message) => {
    expect(() => resolveOptions(options)).toThrow(new TypeError(message))
  })

  it('refuses one adapter configured twice, naming the second', () => {
    expect(() =>
      resolveOptions({
        vendors: [caramelo(chat), returningProxy(proxy), caramelo({ ...chat, projectId: 'other' })],
      }),
    ).toThrow(new TypeError("options.vendors[2]: vendor 'caramelo' is configured twice"))
  })

  it('takes both flows of one directive: they are two adapters', () => {
    const resolved = resolveOptions({ vendors: [returningProxy(proxy), returningSdk(sdk)] })
    expect(resolved.vendors.map((v) => v.definition.name)).toEqual(['returning-proxy', 'returning-sdk'])
  })
})

describe('resolveOptions: vendor URLs never carry credentials', () => {
  // A URL's user-info would reach every browser through `<base href>` or a
  // script's `src`, and Node's fetch refuses it anyway: refuse it at start,
  // without repeating the password in the message.
  it.each([
    [returningProxy({ ...TEST_VENDORS.returning, baseUrl: 'https://user:hunter2-pw@widgets.test' }), 'baseUrl'],
    [returningProxy({ ...TEST_VENDORS.returning, baseUrl: 'https://hunter2-pw@widgets.test/x' }), 'baseUrl'],
    [caramelo({ ...TEST_VENDORS.caramelo, apiUrl: 'http://api:hunter2-pw@chat.test' }), 'apiUrl'],
    [caramelo({ ...TEST_VENDORS.caramelo, sdkUrl: 'https://:hunter2-pw@cdn.test/sdk.js' }), 'sdkUrl'],
    [returningSdk({ ...TEST_VENDORS.returningSdk, apiUrl: 'https://id:hunter2-pw@api.test' }), 'apiUrl'],
    [returningSdk({ ...TEST_VENDORS.returningSdk, sdkUrl: 'https://id:hunter2-pw@cdn.test/sdk.js' }), 'sdkUrl'],
    [returningSdk({ ...TEST_VENDORS.returningSdk, bundleUrl: 'https://hunter2-pw@cdn.test/b.js' }), 'bundleUrl'],
  ])('refuses user-info in %o', (vendor, name) => {
    const resolving = () => resolveOptions({ vendors: [vendor] })
    expect(resolving).toThrow(TypeError)
    expect(resolving).toThrow(`options.vendors[0].${name} must not contain a user name or password`)
    expect(resolving).not.toThrow('hunter2')
  })

  it('does not echo a credential in any other URL error either', () => {
    expect(() =>
      resolveOptions({
        vendors: [returningProxy({ ...TEST_VENDORS.returning, baseUrl: 'ftp://u:hunter2-pw@widgets.test' })],
      }),
    ).toThrow(/^options\.vendors\[0\]\.baseUrl must be an http\(s\) URL, got 'ftp:\/\/\*\*\*@widgets\.test\/?'$/)
  })
})
