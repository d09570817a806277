/**
 * The lazy-widget route through the Koa middleware, as a browser reaches it
 * (issue 9, hole 1): it serves only frames our templates rendered (a signed
 * URL), renders no template a user names, and holds one user to a budget.
 * Vendors are MockAgent interceptors; the app listens on loopback.
 */
import type { AddressInfo } from 'node:net'
import Koa from 'koa'
import { Agent, MockAgent, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { TemplateMap } from '../../template-module.ts'
import type { EmbedsUser } from '../../vendors/define.ts'
import {
  compileTemplates,
  decodeAttribute,
  recordingLogger,
  TEST_CONFIGURED_VENDORS,
  TEST_USER,
  TEST_VENDORS,
} from '../test-helpers.ts'
import { embeds, type EmbedsMiddleware, type EmbedsMiddlewareOptions } from './middleware.ts'

const { baseUrl: WIDGETS, communityId: COMMUNITY } = TEST_VENDORS.returning
const SIGNIN = { path: `/widget/${COMMUNITY}/signin`, method: 'POST' }
const HTML = { headers: { 'content-type': 'text/html' } }
const WIDGET_PAGE = '<html><head></head><body><script>init({ token: "" })</script></body></html>'
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln'
const BOB: EmbedsUser = { id: 'user-43', email: 'bob@example.com', name: 'Bob' }

let vendors: MockAgent
let client: Agent
let server: ReturnType<Koa['listen']> | undefined
let middleware: EmbedsMiddleware | undefined

beforeEach(() => {
  vendors = new MockAgent()
  vendors.disableNetConnect()
  client = new Agent()
})

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  server = undefined
  await middleware?.close()
  await client.close()
  try {
    vendors.assertNoPendingInterceptors()
  } finally {
    await vendors.close()
  }
})

/**
 * An app with the runtime: `GET /` renders `home`; the user is the one the
 * `x-test-user` header names (a stand-in for a session, in this test only).
 */
async function app(templates: TemplateMap, options: Partial<EmbedsMiddlewareOptions> = {}): Promise<string> {
  const koa = new Koa()
  const users: Record<string, EmbedsUser> = { alice: TEST_USER, bob: BOB }
  middleware = embeds({
    vendors: TEST_CONFIGURED_VENDORS,
    dispatcher: vendors,
    logger: recordingLogger(),
    templates: () => Promise.resolve(templates),
    user: (ctx) => users[ctx.get('x-test-user')],
    ...options,
  })
  koa.use(middleware)
  koa.use(async (ctx) => {
    await ctx.render('home')
  })
  server = koa.listen(0, '127.0.0.1')
  await new Promise((resolve) => server?.once('listening', resolve))
  return `http://127.0.0.1:${(server?.address() as AddressInfo).port}`
}

async function get(url: string, user?: string) {
  const res = await request(url, { dispatcher: client, headers: user ? { 'x-test-user': user } : {} })
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
}

/** The lazy frame's `src` in a rendered page. */
async function frameSrc(base: string, user = 'alice'): Promise<string> {
  const page = await get(`${base}/`, user)
  const src = /<iframe[^>]* src="([^"]*)"/.exec(page.body)?.[1]
  if (!src) throw new Error(`no lazy frame in ${page.body}`)
  return decodeAttribute(src)
}

function vendorServesWidget(id: string, times = 1): void {
  vendors
    .get(WIDGETS)
    .intercept({ path: `/store/${id}?color=light`, method: 'GET' })
    .reply(200, WIDGET_PAGE, HTML)
  vendors.get(WIDGETS).intercept(SIGNIN).reply(200, { token: TOKEN }).times(times)
}

const LAZY_HOME = '<<widget loading="lazy" id="w1" fallback="partials/none">>'

describe('the lazy-widget route: only what our templates rendered', () => {
  it('serves the frame a page rendered, signed, for the session user', async () => {
    const base = await app(await compileTemplates({ home: LAZY_HOME, 'partials/none': '<p>none</p>' }))
    const src = await frameSrc(base)
    expect(src).toMatch(
      /^\/_embeds\/widget\?vendor=returning-proxy&fallback=partials%2Fnone&id=w1&sig=[A-Za-z0-9_-]{43}$/,
    )
    vendorServesWidget('w1')
    const frame = await get(`${base}${src}`, 'alice')
    expect(frame.status).toBe(200)
    expect(frame.body).toContain(`init({ token: "${TOKEN}" })`)
  })

  it.each([
    ['no signature', () => '/_embeds/widget?vendor=returning-proxy&type=store&id=nope-1'],
    ['no vendor', (signed: string) => signed.replace('vendor=returning-proxy&', '')],
    ['another id under a real signature', (signed: string) => signed.replace('id=w1', 'id=nope-1')],
    ['an attribute added to a signed URL', (signed: string) => `${signed}&type=social`],
    ['an unknown parameter added to a signed URL', (signed: string) => `${signed}&utm=x`],
    ['a fallback naming any template', (signed: string) => signed.replace('partials%2Fnone', 'login')],
    ['a forged signature', () => `/_embeds/widget?vendor=returning-proxy&id=nope-1&sig=${'A'.repeat(43)}`],
    ['a repeated signature', (signed: string) => `${signed}&sig=x`],
    ['a repeated attribute', (signed: string) => `${signed}&id=w1`],
    ['a repeated vendor', (signed: string) => `${signed}&vendor=returning-proxy`],
  ])('refuses %s, calling no vendor and rendering nothing', async (_case, tamper) => {
    const base = await app(
      await compileTemplates({ home: LAZY_HOME, 'partials/none': '<p>none</p>', login: '<form>login page</form>' }),
    )
    const answer = await get(`${base}${tamper(await frameSrc(base))}`, 'alice')
    expect(answer.status).toBe(403)
    expect(answer.body).not.toContain('login page')
    expect(answer.headers['cache-control']).toBe('no-store')
    // No interceptor is declared and disableNetConnect() is on: a vendor call would have failed loudly.
  })

  it('accepts a URL signed with an older key while the new one signs', async () => {
    const templates = await compileTemplates({ home: LAZY_HOME, 'partials/none': '' })
    const old = await app(templates, { lazySigningKeys: ['old-key-0123456789abcdef'] })
    const src = await frameSrc(old)
    await new Promise<void>((resolve) => server?.close(() => resolve()))
    await middleware?.close()
    const rotated = await app(templates, {
      lazySigningKeys: ['new-key-0123456789abcdef', 'old-key-0123456789abcdef'],
    })
    vendorServesWidget('w1')
    expect((await get(`${rotated}${src}`, 'alice')).status).toBe(200)
    expect(await frameSrc(rotated)).not.toBe(src)
  })

  it('refuses a signing key shorter than 16 characters', async () => {
    await expect(app(await compileTemplates({ home: '' }), { lazySigningKeys: ['short'] })).rejects.toThrow(
      'options.lazySigningKeys[0] must be at least 16 characters',
    )
  })
})

describe('the lazy-widget route: a failure is logged once, saying what the frame got', () => {
  const home = (fallback: string) => `<<widget loading="lazy" id="w1" fallback="${fallback}">>`
  function vendorFails(): void {
    vendors.get(WIDGETS).intercept(SIGNIN).reply(503, '')
    vendors.get(WIDGETS).intercept({ path: '/store/w1?color=light', method: 'GET' }).reply(200, WIDGET_PAGE, HTML)
  }
  const failure = {
    vendor: 'returning-proxy',
    directive: 'widget',
    loc: '/_embeds/widget',
    cause: 'ERR_VENDOR_STATUS',
    status: 503,
    latencyMs: expect.any(Number) as unknown,
  }

  it('the fallback, when it renders', async () => {
    const logger = recordingLogger()
    const base = await app(await compileTemplates({ home: home('partials/none'), 'partials/none': '<p>none</p>' }), {
      logger,
    })
    const src = await frameSrc(base)
    vendorFails()
    const frame = await get(`${base}${src}`, 'alice')
    expect(frame.body).toContain('<p>none</p>')
    expect(logger.lines).toEqual([
      {
        level: 'warn',
        message: 'vendor call failed; rendered the fallback',
        fields: { ...failure, fallback: 'partials/none' },
      },
    ])
  })

  it('nothing, when the fallback fails too: one line with the fallback’s kind and place', async () => {
    const logger = recordingLogger()
    const templates = await compileTemplates({
      home: home('partials/broken'),
      'partials/broken': '<p><%= it.profile.city %></p>',
    })
    const base = await app(templates, { logger })
    const src = await frameSrc(base)
    vendorFails()
    const frame = await get(`${base}${src}`, 'alice')
    expect(frame.status).toBe(200)
    expect(frame.body).toBe('<!doctype html><meta charset="utf-8"><title>Widget</title>')
    expect(logger.lines).toEqual([
      {
        level: 'warn',
        message: 'vendor call failed; rendered nothing (the fallback failed)',
        fields: {
          ...failure,
          fallback: 'partials/broken',
          fallbackCause: 'TypeError',
          fallbackLoc: 'templates/partials/broken.eta:1:19',
        },
      },
    ])
  })
})

describe('the lazy-widget route: one user cannot exhaust the vendor for everyone', () => {
  it('answers 429 with Retry-After once a user spent their budget; another user is unaffected', async () => {
    const base = await app(await compileTemplates({ home: LAZY_HOME, 'partials/none': '' }), {
      lazyRateLimit: { requests: 3, perMs: 60_000 },
    })
    const src = await frameSrc(base)
    // The page once (cached), a sign-in per served frame: three for alice, one for bob.
    vendorServesWidget('w1', 4)
    for (let i = 0; i < 3; i++) expect((await get(`${base}${src}`, 'alice')).status).toBe(200)
    const refused = await get(`${base}${src}`, 'alice')
    expect(refused.status).toBe(429)
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60)
    expect((await get(`${base}${src}`, 'bob')).status).toBe(200)
  })

  it('has a default budget that a page full of lazy widgets never meets', async () => {
    const base = await app(await compileTemplates({ home: LAZY_HOME, 'partials/none': '' }))
    const src = await frameSrc(base)
    vendorServesWidget('w1', 30)
    for (let i = 0; i < 30; i++) expect((await get(`${base}${src}`, 'alice')).status).toBe(200)
  })
})
