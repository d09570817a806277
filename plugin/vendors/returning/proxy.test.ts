import { MockAgent } from 'undici'
import type { MockInterceptor } from 'undici/types/mock-interceptor.js'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { VendorError, type VendorErrorCode } from '../../errors.ts'
import type { EmbedsOptions } from '../../runtime/options.ts'
import { renderPage, type TemplateMap } from '../../runtime/render/render.ts'
import {
  compileTemplates,
  decodeAttribute,
  recordingLogger,
  TEST_NONCE,
  TEST_USER,
  TEST_VENDORS,
  testRuntime,
  mockAgentPerTest,
} from '../../runtime/test-helpers.ts'
import type { EmbedsUser } from '../define.ts'
import { injectToken, withBaseAndNonce } from './page.ts'
import { returningProxy } from './proxy.ts'

const { baseUrl: BASE, apiKey: API_KEY, communityId: COMMUNITY } = TEST_VENDORS.returning
const SIGNIN = { path: `/widget/${COMMUNITY}/signin`, method: 'POST' }
const PAGE = { path: '/store/w1', method: 'GET', query: { color: 'light' } }
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ'
const HTML = { headers: { 'content-type': 'text/html; charset=utf-8' } }
const WIDGET_PAGE =
  '<!doctype html><html><head><title>Store</title><script src="assets/app.js"></script></head>' +
  '<body><div id="app"></div><script>window.__WIDGET_INIT__ = { token: "", color: "light" };</script></body></html>'
const FALLBACK = '<p>rewards unavailable</p>'

let agent: MockAgent
mockAgentPerTest((a) => (agent = a))
let logger: ReturnType<typeof recordingLogger>
let templates: TemplateMap

beforeEach(async () => {
  logger = recordingLogger()
  templates = await compileTemplates({
    home: '<main><<widget fallback="partials/widget-fallback">></main>',
    'partials/widget-fallback': FALLBACK,
  })
})

function render(user: EmbedsUser | undefined, options: Partial<EmbedsOptions> = {}): Promise<string> {
  const runtime = testRuntime({
    vendors: [returningProxy(TEST_VENDORS.returning)],
    dispatcher: agent,
    logger,
    timeoutMs: 2000,
    ...options,
  })
  return renderPage(runtime, templates, 'home', {}, { user, nonce: TEST_NONCE, acceptLanguage: undefined })
}

function vendor() {
  return agent.get(BASE)
}

/** The srcdoc document as the browser reads it, and the page with the attribute cut out. */
function splitSrcdoc(html: string): { outer: string; srcdoc: string } {
  const match = /srcdoc="([^"]*)"/.exec(html)
  if (!match) throw new Error(`no srcdoc in ${html}`)
  return { outer: html.replace(match[0], 'srcdoc=""'), srcdoc: decodeAttribute(match[1] ?? '') }
}

/** Every secret a log line must not carry. */
const SECRETS = [API_KEY, TEST_VENDORS.caramelo.secretToken, JWT, TEST_USER.email]

function expectOneCleanWarning(cause: VendorErrorCode, status?: number): void {
  expect(logger.lines).toHaveLength(1)
  const [line] = logger.lines
  expect(line?.level).toBe('warn')
  expect(line?.message).toBe('vendor call failed; rendered the fallback')
  expect(line?.fields).toMatchObject({ vendor: 'returning-proxy', directive: 'widget', cause, status })
  expect(line?.fields['loc']).toBe('templates/home.eta:1:7')
  expect(typeof line?.fields['latencyMs']).toBe('number')
  const text = JSON.stringify(line)
  for (const secret of SECRETS) expect(text).not.toContain(secret)
}

describe('<<widget>>: the server-side proxy flow', () => {
  it('renders the vendor page in srcdoc with the token, a <base href> and the nonce on every script', async () => {
    vendor().intercept(SIGNIN).reply(200, { token: JWT })
    vendor().intercept(PAGE).reply(200, WIDGET_PAGE, HTML)

    const html = await render(TEST_USER)

    expect(html.startsWith('<main><iframe class="eta-embeds-widget" title="Returning.AI widget"')).toBe(true)
    expect(html).toContain(' sandbox="allow-scripts allow-forms allow-popups" referrerpolicy="no-referrer"')
    const { outer, srcdoc } = splitSrcdoc(html)
    expect(outer).not.toContain(JWT)
    expect(srcdoc).toContain(`window.__WIDGET_INIT__ = { token: "${JWT}", color: "light" };`)
    expect(srcdoc).not.toContain('token: ""')
    expect(srcdoc).toContain(`<head><base href="${BASE}/store/w1"><title>`)
    const scripts = srcdoc.match(/<script\b[^>]*>/g) ?? []
    expect(scripts).toHaveLength(2)
    for (const tag of scripts) expect(tag).toContain(`nonce="${TEST_NONCE}"`)
    expect(logger.lines).toEqual([])
  })

  it('sends the api key and the email in headers, and nothing in the body', async () => {
    const seen: MockInterceptor.MockResponseCallbackOptions[] = []
    vendor()
      .intercept(SIGNIN)
      .reply((opts) => {
        seen.push(opts)
        return { statusCode: 200, data: { token: JWT } }
      })
    vendor().intercept(PAGE).reply(200, WIDGET_PAGE, HTML)

    await render(TEST_USER)

    expect(seen).toHaveLength(1)
    expect(seen[0]?.headers).toEqual({
      'content-type': 'application/json',
      'returningai-api-key': API_KEY,
      email: TEST_USER.email,
    })
    expect(seen[0]?.body ?? undefined).toBeUndefined()
  })

  it('asks for the page without credentials, with the type, id and color of the directive', async () => {
    templates = await compileTemplates({
      home: '<<widget type="channel" id={it.channel} color="dark" title="News" height="320">>',
    })
    const seen: MockInterceptor.MockResponseCallbackOptions[] = []
    vendor().intercept(SIGNIN).reply(200, { token: JWT })
    vendor()
      .intercept({ path: '/channel/news-1', method: 'GET', query: { color: 'dark' } })
      .reply((opts) => {
        seen.push(opts)
        return { statusCode: 200, data: WIDGET_PAGE, responseOptions: HTML }
      })

    const runtime = testRuntime({ vendors: [returningProxy(TEST_VENDORS.returning)], dispatcher: agent, logger })
    const html = await renderPage(
      runtime,
      templates,
      'home',
      { channel: 'news-1' },
      {
        user: TEST_USER,
        nonce: TEST_NONCE,
        acceptLanguage: undefined,
      },
    )

    expect(JSON.stringify(seen[0]?.headers ?? {})).not.toContain(API_KEY)
    expect(JSON.stringify(seen[0]?.headers ?? {})).not.toContain(TEST_USER.email)
    expect(html).toContain('title="News" height="320"')
    expect(splitSrcdoc(html).srcdoc).toContain(`<base href="${BASE}/channel/news-1">`)
  })

  it('has the sign-in and the page in flight at once before either answers', async () => {
    const arrived: string[] = []
    let release: () => void = () => undefined
    const bothArrived = new Promise<void>((resolve) => (release = resolve))
    /** Answers only once both requests have reached the vendor: sequential calls would hit the deadline. */
    function whenBoth<T>(name: string, body: T): MockInterceptor.MockResponseDataHandler {
      return () => {
        arrived.push(name)
        if (arrived.length === 2) release()
        return bothArrived.then(() => body)
      }
    }
    vendor()
      .intercept(SIGNIN)
      .reply(200, whenBoth('signin', JSON.stringify({ token: JWT })))
    vendor().intercept(PAGE).reply(200, whenBoth('page', WIDGET_PAGE), HTML)

    const html = await render(TEST_USER)

    expect(arrived.sort()).toEqual(['page', 'signin'])
    expect(splitSrcdoc(html).srcdoc).toContain(`token: "${JWT}"`)
    expect(logger.lines).toEqual([])
  })

  it('renders the fallback and calls no vendor for an anonymous request', async () => {
    const dispatch = vi.spyOn(agent, 'dispatch')

    await expect(render(undefined)).resolves.toBe(`<main>${FALLBACK}</main>`)

    expect(dispatch).not.toHaveBeenCalled()
    expect(logger.lines).toEqual([])
  })

  it('refuses an email with CR/LF before any call (ERR_VENDOR_INPUT)', async () => {
    const dispatch = vi.spyOn(agent, 'dispatch')
    const user = { ...TEST_USER, email: 'alice@example.com\r\nx-injected: 1' }

    await expect(render(user)).resolves.toBe(`<main>${FALLBACK}</main>`)

    expect(dispatch).not.toHaveBeenCalled()
    expectOneCleanWarning('ERR_VENDOR_INPUT')
    expect(JSON.stringify(logger.lines)).not.toContain('x-injected')
  })
})

describe('<<widget>>: every vendor failure yields the fallback and one clean log line', () => {
  const VENDOR_BODY = `{"error":"invalid key ${API_KEY} for ${TEST_USER.email}"}`
  const cases: {
    name: string
    setup: () => void
    cause: VendorErrorCode
    status?: number
    options?: Partial<EmbedsOptions>
  }[] = [
    {
      name: 'sign-in answers 500',
      setup: () => {
        vendor().intercept(SIGNIN).reply(500, VENDOR_BODY)
        vendor().intercept(PAGE).reply(200, WIDGET_PAGE, HTML)
      },
      cause: 'ERR_VENDOR_STATUS',
      status: 500,
    },
    {
      name: 'the page answers 404',
      setup: () => {
        vendor().intercept(SIGNIN).reply(200, { token: JWT })
        vendor().intercept(PAGE).reply(404, 'not found', HTML)
      },
      cause: 'ERR_VENDOR_STATUS',
      status: 404,
    },
    {
      name: 'sign-in answers a body that is not JSON',
      setup: () => {
        vendor().intercept(SIGNIN).reply(200, `<html>${API_KEY}</html>`)
        vendor().intercept(PAGE).reply(200, WIDGET_PAGE, HTML)
      },
      cause: 'ERR_VENDOR_BODY',
      status: 200,
    },
    {
      name: "sign-in answers JSON without 'token'",
      setup: () => {
        vendor().intercept(SIGNIN).reply(200, { jwt: JWT })
        vendor().intercept(PAGE).reply(200, WIDGET_PAGE, HTML)
      },
      cause: 'ERR_VENDOR_BODY',
      status: 200,
    },
    {
      name: 'sign-in answers a token that is not a JWT (a hostile one)',
      setup: () => {
        vendor().intercept(SIGNIN).reply(200, { token: '"</script><script>alert(1)</script>' })
        vendor().intercept(PAGE).reply(200, WIDGET_PAGE, HTML)
      },
      cause: 'ERR_VENDOR_BODY',
      status: 200,
    },
    {
      name: 'the page has no placeholder',
      setup: () => {
        vendor().intercept(SIGNIN).reply(200, { token: JWT })
        vendor().intercept(PAGE).reply(200, WIDGET_PAGE.replace('token: ""', 'token: window.t'), HTML)
      },
      cause: 'ERR_VENDOR_PLACEHOLDER',
    },
    {
      name: 'the page has two placeholders',
      setup: () => {
        vendor().intercept(SIGNIN).reply(200, { token: JWT })
        vendor().intercept(PAGE).reply(200, `${WIDGET_PAGE}<script>var b = { token: "" }</script>`, HTML)
      },
      cause: 'ERR_VENDOR_PLACEHOLDER',
    },
    {
      name: 'the page is not text/html',
      setup: () => {
        vendor().intercept(SIGNIN).reply(200, { token: JWT })
        vendor()
          .intercept(PAGE)
          .reply(200, WIDGET_PAGE, { headers: { 'content-type': 'application/json' } })
      },
      cause: 'ERR_VENDOR_BODY',
      status: 200,
    },
    {
      name: 'the page is larger than maxResponseBytes',
      setup: () => {
        vendor().intercept(SIGNIN).reply(200, { token: JWT })
        vendor()
          .intercept(PAGE)
          .reply(200, WIDGET_PAGE + ' '.repeat(4096), HTML)
      },
      cause: 'ERR_VENDOR_BODY',
      status: 200,
      options: { maxResponseBytes: 2048 },
    },
    {
      name: 'the page declares a length over maxResponseBytes',
      setup: () => {
        vendor().intercept(SIGNIN).reply(200, { token: JWT })
        vendor()
          .intercept(PAGE)
          .reply(200, WIDGET_PAGE, { headers: { ...HTML.headers, 'content-length': '999999' } })
      },
      cause: 'ERR_VENDOR_BODY',
      status: 200,
      options: { maxResponseBytes: 2048 },
    },
    {
      name: 'sign-in does not answer before the deadline',
      setup: () => {
        // Far beyond timeoutMs: the deadline aborts it; the mock's timer is then cleared.
        vendor().intercept(SIGNIN).reply(200, { token: JWT }).delay(60_000)
        vendor().intercept(PAGE).reply(200, WIDGET_PAGE, HTML)
      },
      cause: 'ERR_VENDOR_TIMEOUT',
      options: { timeoutMs: 50 },
    },
    {
      name: 'the network fails',
      setup: () => {
        vendor()
          .intercept(SIGNIN)
          .replyWithError(new Error(`connect ECONNREFUSED (key ${API_KEY})`))
        vendor().intercept(PAGE).reply(200, WIDGET_PAGE, HTML)
      },
      cause: 'ERR_VENDOR_NETWORK',
    },
  ]

  it.each(cases)('$name → $cause', async ({ setup, cause, status, options }) => {
    setup()

    await expect(render(TEST_USER, options)).resolves.toBe(`<main>${FALLBACK}</main>`)

    expectOneCleanWarning(cause, status)
  })

  it('renders nothing when there is no fallback', async () => {
    templates = await compileTemplates({ home: '<main><<widget>></main>' })
    vendor().intercept(SIGNIN).reply(503, '')
    vendor().intercept(PAGE).reply(200, WIDGET_PAGE, HTML)

    await expect(render(TEST_USER)).resolves.toBe('<main></main>')
    expect(logger.lines).toHaveLength(1)
    expect(logger.lines[0]).toMatchObject({
      message: 'vendor call failed; rendered nothing (no fallback)',
      fields: { vendor: 'returning-proxy', cause: 'ERR_VENDOR_STATUS', status: 503 },
    })
  })
})

describe('<<widget>>: hostile vendor values stay inert', () => {
  it('keeps a vendor page with </iframe><script> inside the escaped srcdoc attribute', async () => {
    const hostile = WIDGET_PAGE.replace(
      '<div id="app"></div>',
      `<div id="app" title='x"y'></div></iframe><script>alert(document.cookie)</script><iframe>`,
    )
    vendor().intercept(SIGNIN).reply(200, { token: JWT })
    vendor().intercept(PAGE).reply(200, hostile, HTML)

    const html = await render(TEST_USER)
    const match = /srcdoc="([^"]*)"/.exec(html)
    const raw = match?.[1] ?? ''
    const outer = html.replace(match?.[0] ?? '', '')

    expect(raw).not.toMatch(/[<>"]/)
    expect(outer.match(/<iframe/g)).toHaveLength(1)
    expect(outer.match(/<\/iframe>/g)).toHaveLength(1)
    expect(outer).not.toContain('<script')
    expect(decodeAttribute(raw)).toContain('</iframe><script nonce=')
  })
})

describe('injectToken', () => {
  it('replaces the one placeholder, keeping its spacing', () => {
    expect(injectToken('init({ token :  "" })', 'a.b.c')).toBe('init({ token :  "a.b.c" })')
  })

  it('encodes the token for a string inside an inline script', () => {
    expect(injectToken('x = { token: "" }', '</script>\u2028')).toBe('x = { token: "\\u003c/script\\u003e\\u2028" }')
  })

  it('ignores names that merely end in token', () => {
    expect(() => injectToken('{ csrftoken: "", my_token: "" }', 'a.b.c')).toThrow(
      expect.objectContaining({ code: 'ERR_VENDOR_PLACEHOLDER' }),
    )
  })

  it.each([
    ['no placeholder', '<script>init({})</script>', 0],
    ['two placeholders', '{ token: "" } { token: "" }', 2],
  ])('fails loudly on %s', (_name, page, found) => {
    expect(() => injectToken(page, 'a.b.c')).toThrow(VendorError)
    expect(() => injectToken(page, 'a.b.c')).toThrow(
      `returning-proxy widget page has ${found} token placeholders, expected 1`,
    )
  })
})

describe('withBaseAndNonce', () => {
  it('puts <base> first in <head> and the nonce on every script, whatever its case', () => {
    const out = withBaseAndNonce(
      '<html><HEAD lang="x"><SCRIPT src="a.js"></SCRIPT></HEAD><script>1</script>',
      'https://v.test/store/w1',
      'n0',
    )

    expect(out).toBe(
      '<html><HEAD lang="x"><base href="https://v.test/store/w1"><script nonce="n0" src="a.js"></SCRIPT></HEAD><script nonce="n0">1</script>',
    )
  })

  it('puts our nonce before a nonce the vendor wrote, so ours is the one the browser keeps', () => {
    expect(withBaseAndNonce('<script nonce="vendor">1</script>', 'https://v.test/', 'ours')).toBe(
      '<base href="https://v.test/"><script nonce="ours" nonce="vendor">1</script>',
    )
  })

  it('leaves elements that only start like script alone', () => {
    expect(withBaseAndNonce('<head></head><scripts></scripts>', 'https://v.test/', 'n')).toBe(
      '<head><base href="https://v.test/"></head><scripts></scripts>',
    )
  })

  it.each([
    ['<head/><p>', '<head/><base href="https://v.test/"><p>'],
    ['<head\n  data-x="1"\n><p>', '<head\n  data-x="1"\n><base href="https://v.test/"><p>'],
    ['<header><head><p>', '<header><head><base href="https://v.test/"><p>'],
    ['<head-x><p>', '<base href="https://v.test/"><head-x><p>'],
    ['<head data-x="1"', '<base href="https://v.test/"><head data-x="1"'],
    ['<head<head<head', '<base href="https://v.test/"><head<head<head'],
  ])('finds the head tag of %j, or puts <base> first', (page, expected) => {
    expect(withBaseAndNonce(page, 'https://v.test/', 'n')).toBe(expected)
  })
})
