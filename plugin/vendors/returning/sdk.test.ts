/**
 * Returning.AI's Widget SDK flow with Access Key Embed (SPEC "Vendor flows"),
 * rendered through compiled templates against a MockAgent vendor: the
 * server-to-server token, the `<rai-…-widget>` element, the SDK script once
 * per page, the choice between the two `<<widget>>` flows, and failures.
 */
import { MockAgent } from 'undici'
import type { MockInterceptor } from 'undici/types/mock-interceptor.js'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { RenderError, type VendorErrorCode } from '../../errors.ts'
import type { EmbedsOptions } from '../../runtime/options.ts'
import { renderPage, type TemplateMap } from '../../runtime/render/render.ts'
import type { Runtime } from '../../runtime/runtime.ts'
import {
  compileTemplates,
  recordingLogger,
  TEST_NONCE,
  TEST_USER,
  TEST_VENDORS,
  testRuntime,
  mockAgentPerTest,
} from '../../runtime/test-helpers.ts'
import type { ConfiguredVendor, EmbedsUser } from '../define.ts'
import { returningProxy } from './proxy.ts'
import { returningSdk, type ReturningSdkOptions } from './sdk.ts'

const {
  apiUrl: API,
  sdkUrl: SDK,
  accessId: ACCESS_ID,
  accessKey: ACCESS_KEY,
  communityId: COMMUNITY,
} = TEST_VENDORS.returningSdk
const TOKEN_PATH = { path: '/v2/api/widget-access-keys/token', method: 'POST' }
const SCRIPT = `<script nonce="${TEST_NONCE}" src="${SDK}"></script>`
const FALLBACK = '<p>currency unavailable</p>'
const BOB: EmbedsUser = { id: 'user-7', email: 'bob@example.com', name: 'Bob' }

/** A JWT-shaped embed token whose payload names `tag` and expires at `exp` (seconds since the epoch). */
function jwt(tag: string, exp = 2_000_000_000): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({ alg: 'HS256' })}.${part({ sub: tag, exp })}.c2lnbmF0dXJl`
}
const TOKEN = jwt('alice')

let agent: MockAgent
mockAgentPerTest((a) => (agent = a))
let logger: ReturnType<typeof recordingLogger>
let clock: number

beforeEach(() => {
  logger = recordingLogger()
  clock = 1_800_000_000_000
})

/** A runtime with the SDK flow (its options laid over the test ones) and nothing else, unless `vendors` says. */
function runtime(sdk: Partial<ReturningSdkOptions> = {}, options: EmbedsOptions = {}): Runtime {
  return testRuntime({
    vendors: [returningSdk({ ...TEST_VENDORS.returningSdk, ...sdk })],
    dispatcher: agent,
    logger,
    now: () => clock,
    timeoutMs: 2000,
    ...options,
  })
}

/** Renders `home` for a signed-in user (`TEST_USER` unless given). */
function render(rt: Runtime, templates: TemplateMap, user: EmbedsUser = TEST_USER, data = {}) {
  return renderPage(rt, templates, 'home', data, { user, nonce: TEST_NONCE, acceptLanguage: undefined })
}

/** One page with `home` and the fallback partial. */
function page(home: string): Promise<TemplateMap> {
  return compileTemplates({ home, 'partials/down': FALLBACK })
}

/** The vendor's token endpoint, answering `reply`; keeps what it received. */
function tokenEndpoint(
  reply: { status: number; data: string | object } = {
    status: 200,
    data: { data: { embedToken: TOKEN, expiresIn: 900 } },
  },
) {
  const seen: { headers: unknown; body: unknown }[] = []
  const interceptor = agent
    .get(API)
    .intercept(TOKEN_PATH)
    .reply((opts: MockInterceptor.MockResponseCallbackOptions) => {
      seen.push({ headers: opts.headers, body: JSON.parse(opts.body as string) })
      return { statusCode: reply.status, data: reply.data }
    })
  return { seen, interceptor }
}

/** The one failure line: vendor, cause, status and latency; no access key, token or identity. */
function expectOneCleanWarning(cause: VendorErrorCode, status?: number, secrets: string[] = []): void {
  expect(logger.lines).toHaveLength(1)
  const [line] = logger.lines
  expect(line).toMatchObject({
    level: 'warn',
    message: 'vendor call failed; rendered the fallback',
    fields: { vendor: 'returning-sdk', directive: 'widget', cause, status },
  })
  expect(typeof line?.fields['latencyMs']).toBe('number')
  const text = JSON.stringify(line)
  for (const secret of [ACCESS_KEY, TOKEN, TEST_USER.email, TEST_USER.id, ...secrets]) {
    expect(text).not.toContain(secret)
  }
}

describe('<<widget flow="sdk">>: the access-key token', () => {
  it('is asked for at {apiUrl}/v2/api/widget-access-keys/token with exactly the key pair and the default identifiers', async () => {
    const templates = await page('<<widget flow="sdk">>')
    const { seen } = tokenEndpoint()

    await render(runtime(), templates)

    expect(seen).toEqual([
      {
        headers: { 'content-type': 'application/json' },
        body: {
          accessId: ACCESS_ID,
          accessKey: ACCESS_KEY,
          userIdentifiers: { 'data-email': TEST_USER.email, 'data-user-id': TEST_USER.id },
        },
      },
    ])
  })

  it('carries the fields a custom mapping names', async () => {
    const templates = await page('<<widget flow="sdk">>')
    const { seen } = tokenEndpoint()

    await render(
      runtime({ userIdentifiers: { 'data-customer': 'id', 'data-name': 'name', 'data-locale': 'lang' } }),
      templates,
    )

    expect(seen[0]?.body).toEqual({
      accessId: ACCESS_ID,
      accessKey: ACCESS_KEY,
      userIdentifiers: { 'data-customer': TEST_USER.id, 'data-name': TEST_USER.name, 'data-locale': TEST_USER.lang },
    })
  })

  it('takes identity from the session user only, whatever the template data says', async () => {
    const templates = await page('<<widget flow="sdk">>')
    const { seen } = tokenEndpoint()
    const mallory = { id: 'user-666', email: 'mallory@evil.test', name: 'Mallory' }

    await render(runtime(), templates, TEST_USER, { user: mallory, email: mallory.email, id: mallory.id })

    expect(seen[0]?.body).toMatchObject({
      userIdentifiers: { 'data-email': TEST_USER.email, 'data-user-id': TEST_USER.id },
    })
    expect(JSON.stringify(seen)).not.toContain('mallory')
  })

  it('refuses, before any call, a user without a field the mapping needs (ERR_VENDOR_INPUT)', async () => {
    const templates = await page('<<widget flow="sdk" fallback="partials/down">>')
    const dispatch = vi.spyOn(agent, 'dispatch')

    await expect(render(runtime({ userIdentifiers: { 'data-locale': 'lang' } }), templates, BOB)).resolves.toBe(
      FALLBACK,
    )

    expect(dispatch).not.toHaveBeenCalled()
    expectOneCleanWarning('ERR_VENDOR_INPUT', undefined, [BOB.email, BOB.id])
  })

  it.each([
    [{ email: 'email' }, "options.vendors[0].userIdentifiers key 'email' must be a data-* name such as 'data-email'"],
    [{ 'data-Email': 'email' }, "options.vendors[0].userIdentifiers key 'data-Email' must be a data-* name"],
    [
      { 'data-email': 'password' },
      "options.vendors[0].userIdentifiers['data-email'] must be one of id, email, name, lang",
    ],
    [{}, 'options.vendors[0].userIdentifiers must name at least one data-* identifier'],
  ])('refuses the mapping %o when the runtime is made, naming the full path', (userIdentifiers, message) => {
    expect(() => runtime({ userIdentifiers: userIdentifiers as never })).toThrow(message)
  })

  it('calls nothing for an anonymous request and renders the fallback', async () => {
    const templates = await page('<<widget flow="sdk" fallback="partials/down">>')
    const dispatch = vi.spyOn(agent, 'dispatch')

    const anonymous = { user: undefined, nonce: TEST_NONCE, acceptLanguage: undefined }
    await expect(renderPage(runtime(), templates, 'home', {}, anonymous)).resolves.toBe(FALLBACK)

    expect(dispatch).not.toHaveBeenCalled()
    expect(logger.lines).toEqual([])
  })
})

describe('<<widget flow="sdk">>: the element', () => {
  it('is <rai-{type}-widget> with the token in embed-token, then the SDK script with the nonce', async () => {
    const templates = await page('<<widget flow="sdk" type="currency" title="Your currency" height="200">>')
    tokenEndpoint()

    const html = await render(runtime(), templates)

    expect(html).toBe(
      `<rai-currency-widget class="eta-embeds-widget" community-id="${COMMUNITY}" embed-token="${TOKEN}"` +
        ` theme="light" height="200" title="Your currency" v2-api-url="${API}"></rai-currency-widget>${SCRIPT}`,
    )
    // Identity travels inside the token only.
    expect(html).not.toContain(TEST_USER.email)
    expect(html).not.toContain(TEST_USER.id)
    expect(html).not.toContain(ACCESS_KEY)
    expect(html).not.toContain(ACCESS_ID)
    expect(logger.lines).toEqual([])
  })

  it('maps color to theme, and names the bundle in bundle mode', async () => {
    const templates = await page('<<widget flow="sdk" type="store" color="dark">>')
    tokenEndpoint()

    const html = await render(runtime({ bundleUrl: 'https://cdn.vendor.test/bundle.js' }), templates)

    expect(html).toContain(' theme="dark" ')
    expect(html).toContain(` bundle-url="https://cdn.vendor.test/bundle.js" v2-api-url="${API}">`)
  })

  it.each([
    ['a channel widget with an id', '<<widget flow="sdk" type="channel" id="news-1">>', {}, 'news-1'],
    [
      'a channel widget on the configured channel',
      '<<widget flow="sdk" type="channel">>',
      { channelId: 'chan-9' },
      'chan-9',
    ],
    ['a store widget with an id', '<<widget flow="sdk" type="store" id="news-1">>', { channelId: 'chan-9' }, undefined],
  ])('writes channel-id for %s only', async (_case, home, sdk, channel) => {
    const templates = await page(home)
    tokenEndpoint()

    const html = await render(runtime(sdk), templates)

    if (channel) expect(html).toContain(` channel-id="${channel}" `)
    else expect(html).not.toContain('channel-id')
  })

  it('refuses a channel widget with neither an id nor a configured channel (ERR_CONFIG)', async () => {
    const templates = await page('<<widget flow="sdk" type="channel">>')

    const rendering = render(runtime(), templates)

    await expect(rendering).rejects.toThrow(RenderError)
    await expect(rendering).rejects.toMatchObject({ code: 'ERR_CONFIG' })
    await expect(rendering).rejects.toThrow(`<<widget type="channel" flow="sdk">> has no 'id' (the channel)`)
  })

  it('encodes every attribute: a hostile title cannot leave the element', async () => {
    const templates = await page('<<widget flow="sdk" title={it.title}>>')
    tokenEndpoint()

    const html = await render(runtime(), templates, TEST_USER, { title: `"><script>alert(1)</script><x a='` })

    expect(html).toContain(' title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;x a=&#39;" ')
    expect(html.match(/<script/g)).toHaveLength(1)
    expect(html.match(/<rai-store-widget /g)).toHaveLength(1)
  })
})

describe('<<widget flow="sdk">>: the SDK script once per page', () => {
  it('follows the first of two SDK widgets, once', async () => {
    const templates = await page('[<<widget flow="sdk" type="store">>][<<widget flow="sdk" type="social">>]')
    tokenEndpoint().interceptor.times(2)

    const html = await render(runtime(), templates)

    expect(html).toMatch(
      /^\[<rai-store-widget [^>]*><\/rai-store-widget><script [^>]*><\/script>\]\[<rai-social-widget [^>]*><\/rai-social-widget>\]$/,
    )
    expect(html.split(SCRIPT)).toHaveLength(2)
  })

  it('follows the second when the first failed, still once', async () => {
    const templates = await page(
      '[<<widget flow="sdk" type="store" fallback="partials/down">>][<<widget flow="sdk" type="social">>]',
    )
    // The token calls leave in document order: the first gets the 503.
    tokenEndpoint({ status: 503, data: '' })
    tokenEndpoint()

    const html = await render(runtime(), templates)

    expect(html.startsWith(`[${FALLBACK}][<rai-social-widget `)).toBe(true)
    expect(html.endsWith(`></rai-social-widget>${SCRIPT}]`)).toBe(true)
    expect(html.split(SCRIPT)).toHaveLength(2)
    expectOneCleanWarning('ERR_VENDOR_STATUS', 503)
  })

  it('is left out when no SDK widget succeeded', async () => {
    const templates = await page('[<<widget flow="sdk" fallback="partials/down">>]')
    tokenEndpoint({ status: 500, data: '' })

    await expect(render(runtime(), templates)).resolves.toBe(`[${FALLBACK}]`)
  })
})

describe('<<widget>>: choosing the flow', () => {
  const both = (): ConfiguredVendor[] => [
    returningProxy(TEST_VENDORS.returning),
    returningSdk(TEST_VENDORS.returningSdk),
  ]

  it('takes the SDK flow for flow="sdk" when both flows are configured', async () => {
    const templates = await page('<<widget flow="sdk">>')
    tokenEndpoint()

    const html = await render(runtime({}, { vendors: both() }), templates)

    expect(html).toMatch(/^<rai-store-widget /)
    expect(html).not.toContain('<iframe')
  })

  it('takes the proxy flow for a bare <<widget>> when both are configured (registry order)', async () => {
    const templates = await page('<<widget>>')
    const widgets = agent.get(TEST_VENDORS.returning.baseUrl)
    widgets.intercept({ path: `/widget/${COMMUNITY}/signin`, method: 'POST' }).reply(200, { token: TOKEN })
    widgets
      .intercept({ path: '/store/w1?color=light', method: 'GET' })
      .reply(200, '<html><head></head><body><script>init({ token: "" })</script></body></html>', {
        headers: { 'content-type': 'text/html' },
      })

    const html = await render(runtime({}, { vendors: both() }), templates)

    expect(html).toMatch(/^<iframe [^>]* srcdoc="/)
    expect(html).not.toContain('<rai-')
  })

  it('takes the SDK flow for a bare <<widget>> when it is the only one configured', async () => {
    const templates = await page('<<widget type="milestone">>')
    tokenEndpoint()

    await expect(render(runtime(), templates)).resolves.toMatch(/^<rai-milestone-widget /)
  })

  it('refuses a bare <<widget loading="lazy">> when only the SDK flow is configured, naming the flow', async () => {
    const templates = await page('<<widget loading="lazy">>')
    const dispatch = vi.spyOn(agent, 'dispatch')

    const rendering = render(runtime(), templates)

    await expect(rendering).rejects.toThrow(RenderError)
    await expect(rendering).rejects.toMatchObject({ code: 'ERR_ATTRIBUTE_VALUE' })
    await expect(rendering).rejects.toThrow(
      `bad value "lazy" for 'loading' on <<widget>> at templates/home.eta:1:1 (flow 'sdk' takes `,
    )
    expect(dispatch).not.toHaveBeenCalled()
  })

  it('refuses at render time a dynamic type the SDK flow has no element for', async () => {
    const templates = await page('<<widget flow="sdk" type={it.type}>>')

    const rendering = render(runtime(), templates, TEST_USER, { type: 'minigames' })

    await expect(rendering).rejects.toMatchObject({ code: 'ERR_ATTRIBUTE_VALUE' })
    await expect(rendering).rejects.toThrow(`bad value "minigames" for 'type'`)
  })

  it('refuses flow="sdk" when only the proxy flow is configured (ERR_CONFIG)', async () => {
    const templates = await page('<<widget flow="sdk">>')

    const rendering = render(runtime({}, { vendors: [returningProxy(TEST_VENDORS.returning)] }), templates)

    await expect(rendering).rejects.toMatchObject({ code: 'ERR_CONFIG' })
    await expect(rendering).rejects.toThrow('Returning.AI (Widget SDK flow) is not configured')
  })
})

describe('<<widget flow="sdk">>: every vendor failure yields the fallback and one clean log line', () => {
  const ECHO = `{"error":"bad key ${ACCESS_KEY} for ${TEST_USER.email}"}`
  const HOSTILE = `${jwt('alice').slice(0, -4)}"><script>alert(1)</script>`
  const cases: {
    name: string
    setup: () => void
    cause: VendorErrorCode
    status?: number
    options?: EmbedsOptions
    secrets?: string[]
  }[] = [
    {
      name: 'status 500 echoing the access key',
      setup: () => void tokenEndpoint({ status: 500, data: ECHO }),
      cause: 'ERR_VENDOR_STATUS',
      status: 500,
    },
    {
      name: 'status 401',
      setup: () => void tokenEndpoint({ status: 401, data: '' }),
      cause: 'ERR_VENDOR_STATUS',
      status: 401,
    },
    {
      name: 'a body that is not JSON, echoing the access key',
      setup: () => void tokenEndpoint({ status: 200, data: `key=${ACCESS_KEY}` }),
      cause: 'ERR_VENDOR_BODY',
      status: 200,
    },
    {
      name: "JSON without 'data.embedToken'",
      setup: () => void tokenEndpoint({ status: 200, data: { embedToken: TOKEN } }),
      cause: 'ERR_VENDOR_BODY',
      status: 200,
    },
    {
      name: 'a token that is not a JWT',
      setup: () => void tokenEndpoint({ status: 200, data: { data: { embedToken: 'opaque-token-0123456789' } } }),
      cause: 'ERR_VENDOR_BODY',
      status: 200,
      secrets: ['opaque-token-0123456789'],
    },
    {
      name: 'a hostile token that only looks like a JWT',
      setup: () => void tokenEndpoint({ status: 200, data: { data: { embedToken: HOSTILE } } }),
      cause: 'ERR_VENDOR_BODY',
      status: 200,
      secrets: ['alert', HOSTILE],
    },
    {
      name: 'no answer before the deadline',
      setup: () =>
        void agent
          .get(API)
          .intercept(TOKEN_PATH)
          .reply(200, { data: { embedToken: TOKEN } })
          .delay(60_000),
      cause: 'ERR_VENDOR_TIMEOUT',
      options: { timeoutMs: 50 },
    },
    {
      name: 'a network error quoting the access key',
      setup: () =>
        void agent
          .get(API)
          .intercept(TOKEN_PATH)
          .replyWithError(new Error(`connect ECONNREFUSED (${ACCESS_KEY})`)),
      cause: 'ERR_VENDOR_NETWORK',
    },
  ]

  it.each(cases)('$name → $cause', async ({ setup, cause, status, options, secrets }) => {
    const templates = await page('<main><<widget flow="sdk" fallback="partials/down">></main>')
    setup()

    const html = await render(runtime({}, options), templates)

    expect(html).toBe(`<main>${FALLBACK}</main>`)
    expect(html).not.toContain(ACCESS_KEY)
    expectOneCleanWarning(cause, status, secrets)
  })

  it('counts failures and opens the returning-sdk breaker, leaving the proxy flow alone', async () => {
    const templates = await page('[<<widget flow="sdk" fallback="partials/down">>]')
    const rt = runtime(
      {},
      {
        vendors: [returningProxy(TEST_VENDORS.returning), returningSdk(TEST_VENDORS.returningSdk)],
        breaker: { failureThreshold: 2, cooldownMs: 10_000 },
      },
    )
    tokenEndpoint({ status: 503, data: '' }).interceptor.times(2)

    for (let i = 0; i < 3; i++) await expect(render(rt, templates)).resolves.toBe(`[${FALLBACK}]`)

    // Open after two: the third render called nothing (no interceptor is left).
    expect(rt.vendors.get('returning-sdk')?.breaker?.state).toBe('open')
    expect(rt.vendors.get('returning-proxy')?.breaker?.state).toBe('closed')
    expect(await rt.metrics.snapshot()).toMatchObject({
      vendorCalls: { 'returning-sdk': 2 },
      vendorFailures: { 'returning-sdk': { ERR_VENDOR_STATUS: 2, ERR_VENDOR_CIRCUIT_OPEN: 1 } },
    })
    const text = await rt.metrics.prometheus()
    expect(text).toContain('eta_embeds_breaker_state{vendor="returning-sdk",state="open"} 1')
    expect(text).toContain('eta_embeds_vendor_failures_total{vendor="returning-sdk",cause="ERR_VENDOR_STATUS"} 2')
    expect(logger.lines.map((l) => l.fields['cause'])).toEqual([
      'ERR_VENDOR_STATUS',
      undefined, // the breaker's own line: circuit breaker open
      'ERR_VENDOR_STATUS',
      'ERR_VENDOR_CIRCUIT_OPEN',
    ])

    clock += 10_000
    tokenEndpoint()
    await expect(render(rt, templates)).resolves.toContain(`embed-token="${TOKEN}"`)
    expect(rt.vendors.get('returning-sdk')?.breaker?.state).toBe('closed')
    expect(JSON.stringify(logger.lines)).not.toContain(ACCESS_KEY)
  })
})

describe('<<widget flow="sdk">>: token reuse', () => {
  it('is off by default: every render asks for a token', async () => {
    const templates = await page('<<widget flow="sdk">>')
    tokenEndpoint().interceptor.times(2)
    const rt = runtime()

    await render(rt, templates)
    await render(rt, templates)

    expect((await rt.metrics.snapshot()).cacheHits).toEqual({ sdk_token: 0 })
  })

  it("reuses a user's token within its life, per user, counting sdk_token hits and misses", async () => {
    const templates = await page('<<widget flow="sdk">>')
    const exp = clock / 1000 + 900
    const rt = runtime({ reuseTokens: true })
    const alice = jwt('alice', exp)
    tokenEndpoint({ status: 200, data: { data: { embedToken: alice, expiresIn: 900 } } })

    const first = await render(rt, templates)
    clock += 60_000
    const second = await render(rt, templates)

    expect(second).toBe(first)
    expect(first).toContain(`embed-token="${alice}"`)
    expect(await rt.metrics.snapshot()).toMatchObject({ cacheHits: { sdk_token: 1 }, cacheMisses: { sdk_token: 1 } })

    // Another user gets a token of their own.
    const bob = jwt('bob', exp)
    const { seen } = tokenEndpoint({ status: 200, data: { data: { embedToken: bob, expiresIn: 900 } } })
    await expect(render(rt, templates, BOB)).resolves.toContain(`embed-token="${bob}"`)
    expect(seen[0]?.body).toMatchObject({ userIdentifiers: { 'data-email': BOB.email } })

    // Within 30 s of its expiry it is not handed out any more.
    clock = (exp - 20) * 1000
    const renewed = jwt('alice-2', exp + 900)
    tokenEndpoint({ status: 200, data: { data: { embedToken: renewed, expiresIn: 900 } } })
    await expect(render(rt, templates)).resolves.toContain(`embed-token="${renewed}"`)
    expect(await rt.metrics.snapshot()).toMatchObject({ cacheHits: { sdk_token: 1 }, cacheMisses: { sdk_token: 3 } })
    expect(JSON.stringify(logger.lines)).not.toContain(ACCESS_KEY)
  })
})
