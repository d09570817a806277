/**
 * The resilience pieces wired into real renders: the page cache, token reuse,
 * the circuit breaker and the counters, against MockAgent vendors.
 */
import { MockAgent } from 'undici'
import { beforeEach, describe, expect, it } from 'vitest'
import { caramelo } from '../vendors/caramelo/index.ts'
import { returningProxy, type ReturningProxyOptions } from '../vendors/returning/proxy.ts'
import type { EmbedsOptions } from './options.ts'
import { renderPage, type TemplateMap } from './render/render.ts'
import type { Runtime } from './runtime.ts'
import {
  compileTemplates,
  recordingLogger,
  TEST_NONCE,
  TEST_USER,
  TEST_VENDORS,
  testRuntime,
  mockAgentPerTest,
} from './test-helpers.ts'

const { baseUrl: WIDGETS, communityId: COMMUNITY } = TEST_VENDORS.returning
const { apiUrl: CARAMELO, projectId: PROJECT } = TEST_VENDORS.caramelo
const SIGNIN = { path: `/widget/${COMMUNITY}/signin`, method: 'POST' }
const PAGE = { path: '/store/w1?color=light', method: 'GET' }
const AUTH = { path: `/api/chatbox/project/${PROJECT}/intranet-auth`, method: 'POST' }
const HTML = { headers: { 'content-type': 'text/html' } }
const WIDGET_PAGE = '<html><head></head><body><script>init({ token: "" })</script></body></html>'

/** A JWT-shaped token whose payload expires `exp` (seconds since the epoch). */
function jwt(exp: number, tag: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({ alg: 'HS256' })}.${part({ sub: tag, exp })}.c2ln`
}

let agent: MockAgent
mockAgentPerTest((a) => (agent = a))
let logger: ReturnType<typeof recordingLogger>
let clock: number

beforeEach(() => {
  logger = recordingLogger()
  clock = 1_800_000_000_000
})

/** The proxy flow (with its `pageCache` and `reuseTokens`) and Caramelo, on the MockAgent and the test clock. */
function runtime({
  pageCache,
  reuseTokens,
  ...options
}: EmbedsOptions & Pick<ReturningProxyOptions, 'pageCache' | 'reuseTokens'> = {}): Runtime {
  return testRuntime({
    vendors: [returningProxy({ ...TEST_VENDORS.returning, pageCache, reuseTokens }), caramelo(TEST_VENDORS.caramelo)],
    dispatcher: agent,
    logger,
    now: () => clock,
    ...options,
  })
}

function render(resolved: Runtime, templates: TemplateMap): Promise<string> {
  return renderPage(resolved, templates, 'home', {}, { user: TEST_USER, nonce: TEST_NONCE, acceptLanguage: undefined })
}

describe('the widget page cache', () => {
  it('fetches the page once for many renders, and signs the user in on every render', async () => {
    const templates = await compileTemplates({ home: '<<widget>>' })
    const resolved = runtime()
    agent.get(WIDGETS).intercept(PAGE).reply(200, WIDGET_PAGE, HTML)
    agent
      .get(WIDGETS)
      .intercept(SIGNIN)
      .reply(200, { token: jwt(2_000_000_000, 'a') })
      .times(3)

    for (let i = 0; i < 3; i++) await expect(render(resolved, templates)).resolves.toContain('srcdoc=')

    expect(await resolved.metrics.snapshot()).toMatchObject({
      cacheHits: { widget_page: 2 },
      cacheMisses: { widget_page: 1 },
      vendorCalls: { 'returning-proxy': 3 },
    })
  })

  it('fetches the page on every render when the cache is off', async () => {
    const templates = await compileTemplates({ home: '<<widget>>' })
    const resolved = runtime({ pageCache: false })
    agent.get(WIDGETS).intercept(PAGE).reply(200, WIDGET_PAGE, HTML).times(2)
    agent
      .get(WIDGETS)
      .intercept(SIGNIN)
      .reply(200, { token: jwt(2_000_000_000, 'a') })
      .times(2)

    await render(resolved, templates)
    await render(resolved, templates)
  })
})

describe('token reuse', () => {
  it('is off by default: every render signs in', async () => {
    const templates = await compileTemplates({ home: '<<widget>>' })
    const resolved = runtime()
    agent.get(WIDGETS).intercept(PAGE).reply(200, WIDGET_PAGE, HTML)
    agent
      .get(WIDGETS)
      .intercept(SIGNIN)
      .reply(200, { token: jwt(2_000_000_000, 'a') })
      .times(2)

    await render(resolved, templates)
    await render(resolved, templates)
  })

  it("reuses a user's Returning.AI token until shortly before it expires, then signs in again", async () => {
    const templates = await compileTemplates({ home: '<<widget>>' })
    const resolved = runtime({ reuseTokens: { refreshBeforeExpiryMs: 30_000 } })
    const exp = clock / 1000 + 300
    agent.get(WIDGETS).intercept(PAGE).reply(200, WIDGET_PAGE, HTML)
    agent
      .get(WIDGETS)
      .intercept(SIGNIN)
      .reply(200, { token: jwt(exp, 'first') })

    const first = await render(resolved, templates)
    const second = await render(resolved, templates)
    expect(second).toBe(first)
    expect(await resolved.metrics.snapshot()).toMatchObject({
      cacheHits: { widget_token: 1 },
      cacheMisses: { widget_token: 1 },
    })

    clock += 271_000 // within 30 s of exp: not reused any more
    agent
      .get(WIDGETS)
      .intercept(SIGNIN)
      .reply(200, { token: jwt(exp + 300, 'second') })
    await expect(render(resolved, templates)).resolves.toContain(jwt(exp + 300, 'second'))
  })

  it('never reuses a Caramelo token, even with token reuse on', async () => {
    const templates = await compileTemplates({ home: '<<caramelo>>' })
    const resolved = runtime({ reuseTokens: true })
    agent.get(CARAMELO).intercept(AUTH).reply(200, { real_time_access_token: 'rtat_first_000000' })
    agent.get(CARAMELO).intercept(AUTH).reply(200, { real_time_access_token: 'rtat_second_00000' })

    await expect(render(resolved, templates)).resolves.toContain('rtat_first_000000')
    await expect(render(resolved, templates)).resolves.toContain('rtat_second_00000')
  })
})

describe('the circuit breaker', () => {
  it('opens after consecutive failures, answers fallbacks without calling, then lets one probe through', async () => {
    const templates = await compileTemplates({ home: '[<<caramelo fallback="down">>]', down: 'down' })
    const resolved = runtime({ breaker: { failureThreshold: 2, cooldownMs: 10_000 } })
    agent.get(CARAMELO).intercept(AUTH).reply(503, 'busy').times(2)

    await expect(render(resolved, templates)).resolves.toBe('[down]')
    await expect(render(resolved, templates)).resolves.toBe('[down]')
    expect(resolved.vendors.get('caramelo')?.breaker?.state).toBe('open')

    // Open: no interceptor is left, and disableNetConnect() would fail any call that is made.
    await expect(render(resolved, templates)).resolves.toBe('[down]')
    expect(logger.lines.filter((l) => l.fields['cause'] === 'ERR_VENDOR_CIRCUIT_OPEN')).toHaveLength(1)

    clock += 10_000
    agent.get(CARAMELO).intercept(AUTH).reply(200, { real_time_access_token: 'rtat_probe_000000' })
    await expect(render(resolved, templates)).resolves.toContain('rtat_probe_000000')
    expect(resolved.vendors.get('caramelo')?.breaker?.state).toBe('closed')
    expect(await resolved.metrics.prometheus()).toContain(
      'eta_embeds_breaker_state{vendor="caramelo",state="closed"} 1',
    )
  })

  it('is not moved by input we refused before calling', async () => {
    const templates = await compileTemplates({ home: '<<widget>>' })
    const resolved = runtime({ breaker: { failureThreshold: 1 } })
    const user = { ...TEST_USER, email: 'eve@example.com\r\nx-evil: 1' }
    await renderPage(resolved, templates, 'home', {}, { user, nonce: TEST_NONCE, acceptLanguage: undefined })
    expect(resolved.vendors.get('returning-proxy')?.breaker?.state).toBe('closed')
  })

  // Issue 9, hole 1: a 404 for one unknown widget says the vendor is up.
  it.each([400, 401, 403, 404, 410, 422])(
    'is not opened by %i answers about one widget, and the next page still calls the vendor',
    async (status) => {
      const templates = await compileTemplates({ home: '[<<widget id={it.id} fallback="down">>]', down: 'down' })
      const resolved = runtime({ breaker: { failureThreshold: 2 } })
      agent.get(WIDGETS).intercept({ path: '/store/nope?color=light', method: 'GET' }).reply(status, 'no such widget')
      agent.get(WIDGETS).intercept({ path: '/store/nope?color=light', method: 'GET' }).reply(status, 'no such widget')
      agent.get(WIDGETS).intercept({ path: '/store/nope?color=light', method: 'GET' }).reply(status, 'no such widget')
      agent
        .get(WIDGETS)
        .intercept(SIGNIN)
        .reply(200, { token: jwt(2_000_000_000, 'a') })
        .times(4)
      for (let i = 0; i < 3; i++) await expect(renderWith(resolved, templates, { id: 'nope' })).resolves.toBe('[down]')
      expect(resolved.vendors.get('returning-proxy')?.breaker?.state).toBe('closed')
      // Each failure is still counted by cause, and still logged.
      expect(await resolved.metrics.prometheus()).toContain(
        'eta_embeds_vendor_failures_total{vendor="returning-proxy",cause="ERR_VENDOR_STATUS"} 3',
      )
      agent.get(WIDGETS).intercept(PAGE).reply(200, WIDGET_PAGE, HTML)
      await expect(renderWith(resolved, templates, { id: 'w1' })).resolves.toContain('srcdoc=')
    },
  )

  it.each([408, 429, 500, 502, 503])(
    'is opened by %i answers: the vendor is failing or asks us to back off',
    async (status) => {
      const templates = await compileTemplates({ home: '[<<widget fallback="down">>]', down: 'down' })
      const resolved = runtime({ breaker: { failureThreshold: 2 } })
      agent.get(WIDGETS).intercept(PAGE).reply(status, 'busy').times(2)
      agent
        .get(WIDGETS)
        .intercept(SIGNIN)
        .reply(200, { token: jwt(2_000_000_000, 'a') })
        .times(2)
      for (let i = 0; i < 2; i++) await expect(render(resolved, templates)).resolves.toBe('[down]')
      expect(resolved.vendors.get('returning-proxy')?.breaker?.state).toBe('open')
    },
  )
})

function renderWith(resolved: Runtime, templates: TemplateMap, data: object): Promise<string> {
  return renderPage(resolved, templates, 'home', data, {
    user: TEST_USER,
    nonce: TEST_NONCE,
    acceptLanguage: undefined,
  })
}
