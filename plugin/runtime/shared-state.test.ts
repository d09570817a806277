/**
 * Several runtimes sharing one store act as one (issue 11): token reuse, the
 * circuit breakers and the widget page cache, through a `MemoryStore` and
 * through a real `redis-server`. Vendors are MockAgent interceptors: a call
 * that was not declared fails the render, a declared one left over fails the test.
 */
import { Redis } from 'ioredis'
import { MockAgent } from 'undici'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { caramelo } from '../vendors/caramelo/index.ts'
import { returningProxy, type ReturningProxyOptions } from '../vendors/returning/proxy.ts'
import { returningSdk } from '../vendors/returning/sdk.ts'
import type { EmbedsOptions } from './options.ts'
import { renderPage, type TemplateMap } from './render/render.ts'
import type { Runtime } from './runtime.ts'
import { MemoryStore } from './store/memory.ts'
import { RedisStore } from './store/redis.ts'
import { Sealer } from './store/seal.ts'
import type { SharedStore } from './store/store.ts'
import { useRedisServer } from './store/test-helpers.ts'
import {
  compileTemplates,
  mockAgentPerTest,
  recordingLogger,
  TEST_NONCE,
  TEST_USER,
  TEST_VENDORS,
  testRuntime,
} from './test-helpers.ts'

const { baseUrl: WIDGETS, communityId: COMMUNITY } = TEST_VENDORS.returning
const { apiUrl: SDK_API } = TEST_VENDORS.returningSdk
const { apiUrl: CARAMELO, projectId: PROJECT } = TEST_VENDORS.caramelo
const SIGNIN = { path: `/widget/${COMMUNITY}/signin`, method: 'POST' }
const SDK_TOKEN = { path: '/v2/api/widget-access-keys/token', method: 'POST' }
const PAGE = { path: '/store/w1?color=light', method: 'GET' }
const AUTH = { path: `/api/chatbox/project/${PROJECT}/intranet-auth`, method: 'POST' }
const HTML = { headers: { 'content-type': 'text/html' } }
const WIDGET_PAGE = '<html><head></head><body><script>init({ token: "" })</script></body></html>'
const SECRET_KEYS = ['shared-secret-key-0123456789-abcdefghij']
/**
 * The Redis stores' command deadline, far above the default 100 ms: every
 * case counts on Redis answering (a late answer is a failed call, and the
 * instance then rightly fetches or mints for itself). Killed, Redis fails
 * commands at once whatever the deadline.
 */
const REDIS_DEADLINE_MS = 5000
const BOB = { id: 'user-77', email: 'bob@example.com', name: 'Bob' } as const

/** A JWT-shaped token whose payload expires `exp` (seconds since the epoch). */
function jwt(exp: number, tag: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({ alg: 'HS256' })}.${part({ sub: tag, exp })}.c2ln`
}

let agent: MockAgent
mockAgentPerTest((a) => (agent = a))
const redis = useRedisServer()
let clock: number
let prefixes = 0
const closing: SharedStore[] = []
const runtimes: Runtime[] = []

beforeEach(() => {
  clock = 1_800_000_000_000
})
afterEach(async () => {
  // The runtimes first: their breaker sync must not outlive the store.
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.close()))
  await Promise.all(closing.splice(0).map((store) => store.close()))
})

interface StoreKind {
  name: string
  make: () => Promise<SharedStore & { prefix?: string }>
}

const STORES: StoreKind[] = [
  { name: 'MemoryStore', make: () => Promise.resolve(new MemoryStore({ now: () => clock })) },
  {
    name: 'RedisStore',
    make: async () => {
      const prefix = `test-${process.pid}-${++prefixes}:`
      const store = Object.assign(
        new RedisStore({ url: redis().url, keyPrefix: prefix, timeoutMs: REDIS_DEADLINE_MS }),
        { prefix },
      )
      closing.push(store)
      expect(await store.connect()).toBe(true)
      return store
    },
  },
]

type Logger = ReturnType<typeof recordingLogger>

/** One instance of the app: its own memory, the shared store, the test clock and the MockAgent. */
function instance(
  store: SharedStore,
  options: EmbedsOptions & { proxy?: Partial<ReturningProxyOptions>; sdk?: boolean } = {},
): Runtime & { log: Logger } {
  const { proxy, sdk, ...rest } = options
  const log = recordingLogger()
  const runtime = testRuntime({
    vendors: [
      returningProxy({ ...TEST_VENDORS.returning, reuseTokens: true, ...proxy }),
      ...(sdk ? [returningSdk({ ...TEST_VENDORS.returningSdk, reuseTokens: true })] : []),
      caramelo(TEST_VENDORS.caramelo),
    ],
    dispatcher: agent,
    logger: log,
    now: () => clock,
    shared: { store, secretKeys: SECRET_KEYS },
    ...rest,
  })
  runtimes.push(runtime)
  return Object.assign(runtime, { log })
}

function render(runtime: Runtime, templates: TemplateMap, user: typeof TEST_USER | typeof BOB = TEST_USER) {
  return renderPage(runtime, templates, 'home', {}, { user, nonce: TEST_NONCE, acceptLanguage: undefined })
}

/** `store`, recording the name of every call made through it. */
function counting<S extends SharedStore>(store: S): S & { calls: string[] } {
  const calls: string[] = []
  const methods = ['get', 'set', 'setIfAbsent', 'delete', 'increment'] as const
  const wrapped = Object.create(store) as S & { calls: string[] }
  for (const method of methods) {
    const call = store[method].bind(store) as (...args: unknown[]) => Promise<unknown>
    Object.assign(wrapped, { [method]: (...args: unknown[]) => (calls.push(method), call(...args)) })
  }
  return Object.assign(wrapped, { calls })
}

function storeLines(log: Logger, message: RegExp) {
  return log.lines.filter((line) => message.test(line.message))
}

describe.each(STORES)('token reuse across instances ($name)', ({ make }) => {
  it('signs a user in once for two instances rendering in turn (both Returning flows)', async () => {
    const templates = await compileTemplates({ home: '<<widget flow="proxy">><<widget flow="sdk">>' })
    const store = await make()
    const [a, b] = [instance(store, { sdk: true }), instance(store, { sdk: true })]
    const exp = clock / 1000 + 300
    agent.get(WIDGETS).intercept(PAGE).reply(200, WIDGET_PAGE, HTML).persist()
    agent
      .get(WIDGETS)
      .intercept(SIGNIN)
      .reply(200, { token: jwt(exp, 'proxy') })
    agent
      .get(SDK_API)
      .intercept(SDK_TOKEN)
      .reply(200, { data: { embedToken: jwt(exp, 'sdk'), expiresIn: 900 } })

    for (const runtime of [a, b, a, b]) {
      const html = await render(runtime, templates)
      expect(html).toContain(jwt(exp, 'proxy'))
      expect(html).toContain(jwt(exp, 'sdk'))
    }
    // a: one miss per flow, then local hits; b: found in the store, a hit.
    expect(await a.metrics.snapshot()).toMatchObject({ cacheMisses: { widget_token: 1, sdk_token: 1 } })
    expect(await b.metrics.snapshot()).toMatchObject({
      cacheHits: { widget_token: 2, sdk_token: 2 },
      cacheMisses: { widget_token: 0, sdk_token: 0 },
    })
  })

  it('mints once when two instances render for the same user at the same moment', async () => {
    const templates = await compileTemplates({ home: '<<widget>>' })
    const store = await make()
    const [a, b] = [instance(store), instance(store)]
    const exp = clock / 1000 + 300
    agent.get(WIDGETS).intercept(PAGE).reply(200, WIDGET_PAGE, HTML).persist()
    agent
      .get(WIDGETS)
      .intercept(SIGNIN)
      .reply(200, { token: jwt(exp, 'only') })
      .delay(100)

    const pages = await Promise.all([render(a, templates), render(b, templates)])
    for (const html of pages) expect(html).toContain(jwt(exp, 'only'))
  })

  it('mints again, once for both, when the stored token nears its expiry', async () => {
    const templates = await compileTemplates({ home: '<<widget>>' })
    const store = await make()
    const [a, b] = [instance(store), instance(store)]
    const exp = clock / 1000 + 300
    agent.get(WIDGETS).intercept(PAGE).reply(200, WIDGET_PAGE, HTML).persist()
    agent
      .get(WIDGETS)
      .intercept(SIGNIN)
      .reply(200, { token: jwt(exp, 'first') })
    agent
      .get(WIDGETS)
      .intercept(SIGNIN)
      .reply(200, { token: jwt(exp + 300, 'second') })

    await expect(render(a, templates)).resolves.toContain(jwt(exp, 'first'))
    clock += 271_000 // within 30 s of exp
    await expect(render(b, templates)).resolves.toContain(jwt(exp + 300, 'second'))
    await expect(render(a, templates)).resolves.toContain(jwt(exp + 300, 'second'))
  })
})

describe.each(STORES)('hostile values in the store ($name)', ({ make }) => {
  const sealer = new Sealer(SECRET_KEYS)
  const tokenKey = sealer.storeKey('token', 'returning-proxy', sealer.storeKey('user', TEST_USER.id, TEST_USER.email))
  const planted = jwt(2_000_000_000, 'PLANTED-CANARY')
  const cases: [string, () => Buffer][] = [
    ['garbage', () => Buffer.from(`not sealed ${planted}`)],
    [
      'a token sealed with another key',
      () => new Sealer(['another-secret-key-0123456789-abcdefg']).seal(tokenKey, Buffer.from(planted)),
    ],
    ['a token sealed for another key name', () => sealer.seal(sealer.storeKey('token', 'x'), Buffer.from(planted))],
    ['a sealed value that is not a JWT', () => sealer.seal(tokenKey, Buffer.from('PLANTED-CANARY <script>'))],
  ]

  it.each(cases)('ignores %s under the token key, logs it without its content, and mints', async (_name, value) => {
    const templates = await compileTemplates({ home: '<<widget>>' })
    const store = await make()
    await store.set(tokenKey, value(), 60_000)
    const a = instance(store)
    agent.get(WIDGETS).intercept(PAGE).reply(200, WIDGET_PAGE, HTML).persist()
    agent
      .get(WIDGETS)
      .intercept(SIGNIN)
      .reply(200, { token: jwt(2_000_000_000, 'minted') })

    const html = await render(a, templates)
    expect(html).toContain(jwt(2_000_000_000, 'minted'))
    expect(html).not.toContain('PLANTED-CANARY')
    expect(storeLines(a.log, /^ignored a value from the shared store$/)).toHaveLength(1)
    expect(JSON.stringify(a.log.lines)).not.toMatch(/PLANTED|script|not sealed/)
  })
})

describe('what Redis holds after renders', () => {
  it('has no secret, email, user id or token, raw or encoded, in any key or value', async () => {
    const templates = await compileTemplates({
      home: '<<widget flow="proxy">><<widget flow="sdk">><<caramelo>>',
    })
    const store = await STORES[1]!.make()
    const [a, b] = [instance(store, { sdk: true }), instance(store, { sdk: true })]
    const exp = clock / 1000 + 300
    const minted = [jwt(exp, 'proxy-alice'), jwt(exp, 'proxy-bob'), jwt(exp, 'sdk-alice'), jwt(exp, 'sdk-bob')]
    const chatTokens = ['rtat_alice_000000', 'rtat_bob_00000000']
    agent.get(WIDGETS).intercept(PAGE).reply(200, WIDGET_PAGE, HTML).persist()
    for (const token of minted.slice(0, 2)) agent.get(WIDGETS).intercept(SIGNIN).reply(200, { token })
    for (const token of minted.slice(2)) {
      agent
        .get(SDK_API)
        .intercept(SDK_TOKEN)
        .reply(200, { data: { embedToken: token, expiresIn: 900 } })
    }
    for (const token of [...chatTokens, ...chatTokens]) {
      agent.get(CARAMELO).intercept(AUTH).reply(200, { real_time_access_token: token })
    }

    for (const [runtime, user] of [
      [a, TEST_USER],
      [b, BOB],
      [b, TEST_USER],
      [a, BOB],
    ] as const) {
      await expect(render(runtime, templates, user)).resolves.toContain('srcdoc=')
    }

    const client = new Redis(redis().url)
    try {
      const keys = await client.keys(`${store.prefix}*`)
      expect(keys.length).toBeGreaterThan(0)
      const values = await Promise.all(keys.map((key) => client.getBuffer(key)))
      const held = [...keys, ...values.map((value) => value?.toString('latin1') ?? '')].join('\n')
      const canaries = [
        ...minted,
        ...chatTokens,
        TEST_USER.email,
        TEST_USER.id,
        BOB.email,
        BOB.id,
        TEST_VENDORS.returning.apiKey,
        TEST_VENDORS.returningSdk.accessKey,
        TEST_VENDORS.caramelo.secretToken,
        ...SECRET_KEYS,
      ]
      for (const canary of canaries) {
        for (const encoded of encodings(canary)) expect(held).not.toContain(encoded)
      }
    } finally {
      client.disconnect()
    }
  })
})

/** A value as it could sit in a store: raw, base64, base64url, hex, URL-encoded. */
function encodings(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8')
  return [
    value,
    bytes.toString('base64'),
    bytes.toString('base64url'),
    bytes.toString('hex'),
    encodeURIComponent(value),
  ]
}

describe('Redis killed mid-test', () => {
  it('keeps the embeds (vendor called directly), logs one line per outage, and uses Redis again once back', async () => {
    const templates = await compileTemplates({ home: '<<widget>>' })
    const store = await STORES[1]!.make()
    // Each instance of a fleet has its own connection, and its own account of the store's health.
    const own = new RedisStore({
      url: redis().url,
      keyPrefix: (store as unknown as { prefix: string }).prefix,
      timeoutMs: REDIS_DEADLINE_MS,
    })
    closing.push(own)
    expect(await own.connect()).toBe(true)
    const exp = clock / 1000 + 300
    const [a, b] = [instance(store), instance(own)]
    agent.get(WIDGETS).intercept(PAGE).reply(200, WIDGET_PAGE, HTML).persist()
    agent
      .get(WIDGETS)
      .intercept(SIGNIN)
      .reply(200, { token: jwt(exp, 'before') })
    await expect(render(a, templates)).resolves.toContain(jwt(exp, 'before'))

    await redis().kill()
    try {
      // b never saw the token, and the store is gone: it signs in itself, once, then reuses it locally.
      agent
        .get(WIDGETS)
        .intercept(SIGNIN)
        .reply(200, { token: jwt(exp, 'during') })
      for (let i = 0; i < 3; i++) await expect(render(b, templates, BOB)).resolves.toContain(jwt(exp, 'during'))
      expect(storeLines(b.log, /^shared store unavailable/)).toHaveLength(1)
      expect(b.log.lines.filter((line) => line.level === 'warn')).toHaveLength(1)
    } finally {
      await redis().restart()
    }
    // Until both connections answer: each reconnects on its own schedule, and b's must be back before it renders.
    // (Asked of the stores directly, so the instances' own accounts of the outage are left as they are.)
    await expect
      .poll(
        () =>
          Promise.all([store.get('probe:x'), own.get('probe:x')]).then(
            () => true,
            () => false,
          ),
        { timeout: 5000 },
      )
      .toBe(true)

    // Back: b finds alice's token nowhere (the new Redis is empty), signs her in once and shares it again.
    agent
      .get(WIDGETS)
      .intercept(SIGNIN)
      .reply(200, { token: jwt(exp, 'after') })
    await expect(render(b, templates)).resolves.toContain(jwt(exp, 'after'))
    expect(storeLines(b.log, /^shared store unavailable/)).toHaveLength(1)
    expect(storeLines(b.log, /^shared store available again$/)).toHaveLength(1)
    const c = instance(store)
    await expect(render(c, templates)).resolves.toContain(jwt(exp, 'after'))
  })
})

describe.each(STORES)('circuit breakers across instances ($name)', ({ make }) => {
  const BREAKER = { failureThreshold: 2, cooldownMs: 10_000 }

  it('refuses on instance B once instance A opened it, and lets exactly one instance probe after the cooldown', async () => {
    const templates = await compileTemplates({ home: '[<<caramelo fallback="down">>]', down: 'down' })
    const store = await make()
    const [a, b] = [instance(store, { breaker: BREAKER }), instance(store, { breaker: BREAKER })]
    agent.get(CARAMELO).intercept(AUTH).reply(503, 'busy').times(2)

    for (let i = 0; i < 2; i++) await expect(render(a, templates)).resolves.toBe('[down]')
    expect(a.vendors.get('caramelo')?.breaker?.state).toBe('open')

    // b learns it at its next sync (every breakerSyncMs; here, now), not on the page's path.
    await b.syncBreakers()
    // No interceptor is left: a call from b would fail differently (and be counted as a call).
    await expect(render(b, templates)).resolves.toBe('[down]')
    expect((await b.metrics.snapshot()).vendorCalls['caramelo'] ?? 0).toBe(0)
    expect((await b.metrics.snapshot()).vendorFailures['caramelo']).toEqual({ ERR_VENDOR_CIRCUIT_OPEN: 1 })

    clock += 10_000
    // Slow enough that both renders are under way while the probe runs.
    agent.get(CARAMELO).intercept(AUTH).reply(200, { real_time_access_token: 'rtat_probe_000000' }).delay(50)
    const [fromA, fromB] = await Promise.all([render(a, templates), render(b, templates)])
    expect([fromA, fromB].filter((html) => html.includes('rtat_probe_000000'))).toHaveLength(1)
    expect([fromA, fromB].filter((html) => html === '[down]')).toHaveLength(1)
    const calls = async (r: Runtime) => (await r.metrics.snapshot()).vendorCalls['caramelo'] ?? 0
    expect((await calls(a)) + (await calls(b))).toBe(3)

    // The probe worked: closed for both (the other instance at its next sync).
    await Promise.all([a.syncBreakers(), b.syncBreakers()])
    agent.get(CARAMELO).intercept(AUTH).reply(200, { real_time_access_token: 'rtat_after_000000' }).times(2)
    await expect(render(a, templates)).resolves.toContain('rtat_after_000000')
    await expect(render(b, templates)).resolves.toContain('rtat_after_000000')
  })

  it('makes no store call on the page path while the circuit is closed, or open across the fleet', async () => {
    const templates = await compileTemplates({ home: '[<<caramelo fallback="down">>]', down: 'down' })
    const store = counting(await make())
    const [a, b] = [instance(store, { breaker: BREAKER }), instance(store, { breaker: BREAKER })]
    await Promise.all([a.syncBreakers(), b.syncBreakers()])

    agent.get(CARAMELO).intercept(AUTH).reply(200, { real_time_access_token: 'rtat_closed_00000' })
    store.calls.length = 0
    await expect(render(b, templates)).resolves.toContain('rtat_closed_00000')
    expect(store.calls).toEqual([])

    agent.get(CARAMELO).intercept(AUTH).reply(503, 'busy').times(2)
    for (let i = 0; i < 2; i++) await render(a, templates)
    await b.syncBreakers()
    store.calls.length = 0
    await expect(render(b, templates)).resolves.toBe('[down]')
    expect(store.calls).toEqual([])
    expect((await b.metrics.snapshot()).vendorFailures['caramelo']).toEqual({ ERR_VENDOR_CIRCUIT_OPEN: 1 })
  })

  it('learns of a breaker opened elsewhere within breakerSyncMs: shown open in its metrics, logged once', async () => {
    const templates = await compileTemplates({ home: '[<<caramelo fallback="down">>]', down: 'down' })
    const store = await make()
    const shared = { store, secretKeys: SECRET_KEYS, breakerSyncMs: 20 }
    const [a, b] = [instance(store, { breaker: BREAKER, shared }), instance(store, { breaker: BREAKER, shared })]
    agent.get(CARAMELO).intercept(AUTH).reply(503, 'busy').times(2)
    for (let i = 0; i < 2; i++) await render(a, templates)

    // Waits on b's own account of the breaker, which only its background sync can change.
    await vi.waitFor(async () => expect((await b.metrics.snapshot()).breakers['caramelo']).toBe('open'), {
      timeout: 10_000,
    })
    await expect(render(b, templates)).resolves.toBe('[down]')
    expect((await b.metrics.snapshot()).vendorCalls['caramelo'] ?? 0).toBe(0)
    expect(storeLines(b.log, /^circuit breaker open across the fleet$/)).toHaveLength(1)
    // b's own breaker never saw a failure: the fleet's state is what refuses.
    expect(b.vendors.get('caramelo')?.breaker?.state).toBe('closed')
  })

  it('stops reading the store when the runtime closes', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    try {
      const store = counting(await make())
      const shared = { store, secretKeys: SECRET_KEYS, breakerSyncMs: 1000 }
      const a = instance(store, { breaker: BREAKER, shared })
      await a.syncBreakers()
      store.calls.length = 0
      await vi.advanceTimersByTimeAsync(3000)
      await a.syncBreakers()
      const reads = store.calls.length
      expect(reads).toBeGreaterThanOrEqual(3)
      await a.close()
      await vi.advanceTimersByTimeAsync(3000)
      expect(store.calls).toHaveLength(reads)
    } finally {
      vi.useRealTimers()
    }
  })

  it('opens again for both when the fleet probe fails', async () => {
    const templates = await compileTemplates({ home: '[<<caramelo fallback="down">>]', down: 'down' })
    const store = await make()
    const [a, b] = [instance(store, { breaker: BREAKER }), instance(store, { breaker: BREAKER })]
    agent.get(CARAMELO).intercept(AUTH).reply(503, 'busy').times(3)
    for (let i = 0; i < 2; i++) await render(a, templates)

    clock += 10_000
    await b.syncBreakers()
    await expect(render(b, templates)).resolves.toBe('[down]') // b probes, and fails
    expect((await b.metrics.snapshot()).vendorCalls['caramelo']).toBe(1)
    await expect(render(a, templates)).resolves.toBe('[down]') // refused: open again
    expect((await a.metrics.snapshot()).vendorCalls['caramelo']).toBe(2)
  })
})

describe.each(STORES)('the widget page across instances ($name)', ({ make }) => {
  const SIGNED_IN = { token: jwt(2_000_000_000, 'page-test') }

  it('is fetched once per TTL for two instances rendering in turn', async () => {
    const templates = await compileTemplates({ home: '<<widget>>' })
    const store = await make()
    const proxy = { reuseTokens: false, pageCache: { ttlMs: 60_000 } }
    const [a, b] = [instance(store, { proxy }), instance(store, { proxy })]
    agent.get(WIDGETS).intercept(PAGE).reply(200, WIDGET_PAGE, HTML)
    agent.get(WIDGETS).intercept(SIGNIN).reply(200, SIGNED_IN).times(6)

    for (const runtime of [a, b, a, b]) await expect(render(runtime, templates)).resolves.toContain('srcdoc=')
    expect(await a.metrics.snapshot()).toMatchObject({ cacheHits: { widget_page: 1 }, cacheMisses: { widget_page: 1 } })
    expect(await b.metrics.snapshot()).toMatchObject({ cacheHits: { widget_page: 2 }, cacheMisses: { widget_page: 0 } })

    clock += 60_000 // stale for everyone: one more GET, by whoever comes first
    agent.get(WIDGETS).intercept(PAGE).reply(200, WIDGET_PAGE, HTML)
    await expect(render(b, templates)).resolves.toContain('srcdoc=')
    await expect(render(a, templates)).resolves.toContain('srcdoc=')
  })

  it('is fetched once when two instances render it at the same moment', async () => {
    const templates = await compileTemplates({ home: '<<widget>>' })
    const store = await make()
    const proxy = { reuseTokens: false }
    const [a, b] = [instance(store, { proxy }), instance(store, { proxy })]
    agent.get(WIDGETS).intercept(PAGE).reply(200, WIDGET_PAGE, HTML).delay(100)
    agent.get(WIDGETS).intercept(SIGNIN).reply(200, SIGNED_IN).times(2)

    const pages = await Promise.all([render(a, templates), render(b, templates)])
    for (const html of pages) expect(html).toContain('srcdoc=')
  })

  it('is fetched on every render, and never stored, with pageCache: false', async () => {
    const templates = await compileTemplates({ home: '<<widget>>' })
    const store = await make()
    const proxy = { reuseTokens: false, pageCache: false as const }
    const [a, b] = [instance(store, { proxy }), instance(store, { proxy })]
    agent.get(WIDGETS).intercept(PAGE).reply(200, WIDGET_PAGE, HTML).times(2)
    agent.get(WIDGETS).intercept(SIGNIN).reply(200, SIGNED_IN).times(2)
    await render(a, templates)
    await render(b, templates)
    const sealer = new Sealer(SECRET_KEYS)
    await expect(store.get(sealer.storeKey('page', `${WIDGETS}/store/w1?color=light`))).resolves.toBeUndefined()
  })

  const sealer = new Sealer(SECRET_KEYS)
  const pageKey = sealer.storeKey('page', `${WIDGETS}/store/w1?color=light`)
  const hostile: [string, () => Buffer][] = [
    ['garbage', () => Buffer.from('<script>PLANTED</script>')],
    [
      'a page not sealed',
      () => Buffer.from(JSON.stringify({ contentType: 'text/html', text: '<b>PLANTED</b>', freshUntil: 9e15 })),
    ],
    [
      'a sealed page without the token placeholder',
      () =>
        sealer.seal(
          pageKey,
          Buffer.from(JSON.stringify({ contentType: 'text/html', text: '<b>PLANTED</b>', freshUntil: 9e15 })),
        ),
    ],
    [
      'a sealed page that is not HTML',
      () =>
        sealer.seal(
          pageKey,
          Buffer.from(JSON.stringify({ contentType: 'text/plain', text: 'PLANTED token: ""', freshUntil: 9e15 })),
        ),
    ],
    ['a sealed value that is not JSON', () => sealer.seal(pageKey, Buffer.from('PLANTED'))],
  ]

  it.each(hostile)(
    'ignores %s under the page key, logs it without its content, and fetches the page',
    async (_name, value) => {
      const templates = await compileTemplates({ home: '<<widget>>' })
      const store = await make()
      await store.set(pageKey, value(), 60_000)
      const a = instance(store, { proxy: { reuseTokens: false } })
      agent.get(WIDGETS).intercept(PAGE).reply(200, WIDGET_PAGE, HTML)
      agent.get(WIDGETS).intercept(SIGNIN).reply(200, SIGNED_IN)

      const html = await render(a, templates)
      expect(html).toContain('srcdoc=')
      expect(html).not.toContain('PLANTED')
      expect(storeLines(a.log, /^ignored a value from the shared store$/)).toHaveLength(1)
      expect(JSON.stringify(a.log.lines)).not.toContain('PLANTED')
    },
  )
})

describe.each(STORES)('a hostile breaker value ($name)', ({ make }) => {
  it('is ignored and logged without its content: the local breaker decides, and the vendor is called', async () => {
    const templates = await compileTemplates({ home: '[<<caramelo fallback="down">>]', down: 'down' })
    const store = await make()
    await store.set(new Sealer(SECRET_KEYS).storeKey('breaker', 'caramelo'), Buffer.from('PLANTED forever'), 60_000)
    const a = instance(store)
    await a.syncBreakers()
    agent.get(CARAMELO).intercept(AUTH).reply(200, { real_time_access_token: 'rtat_called_00000' })

    await expect(render(a, templates)).resolves.toContain('rtat_called_00000')
    expect(storeLines(a.log, /^ignored a value from the shared store$/)).toHaveLength(1)
    expect(JSON.stringify(a.log.lines)).not.toContain('PLANTED')
  })
})
