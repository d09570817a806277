/**
 * The runtime's spans (issue 12) as an app's OpenTelemetry SDK records them:
 * one page with the three built-in flows against MockAgent vendors is one
 * span tree, failures and cache hits are marked, and no span carries a
 * user, a token or a secret.
 */
import { readFileSync } from 'node:fs'
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import type { MockAgent } from 'undici'
import { describe, expect, it, vi } from 'vitest'
import { caramelo } from '../vendors/caramelo/index.ts'
import { returningProxy, type ReturningProxyOptions } from '../vendors/returning/proxy.ts'
import { returningSdk } from '../vendors/returning/sdk.ts'
import type { EmbedsOptions } from './options.ts'
import { renderPage, renderPageChunks } from './render/render.ts'
import type { Runtime } from './runtime.ts'
import { startVendorCall } from './vendors/calls.ts'
import {
  compileTemplates,
  mockAgentPerTest,
  recordingLogger,
  recordSpans,
  replyWith,
  TEST_NONCE,
  TEST_USER,
  TEST_VENDORS,
  testRuntime,
} from './test-helpers.ts'

const { exporter } = recordSpans()
let agent: MockAgent
mockAgentPerTest((a) => (agent = a))

const PROXY = TEST_VENDORS.returning
const SDK = TEST_VENDORS.returningSdk
const CHAT = TEST_VENDORS.caramelo
const HTML = { headers: { 'content-type': 'text/html' } }
const WIDGET_PAGE = '<html><head></head><body><script>init({ token: "" })</script></body></html>'
const SIGNIN = { path: `/widget/${PROXY.communityId}/signin`, method: 'POST' }
const PAGE = { path: '/store/w1?color=light', method: 'GET' }
const SDK_TOKEN = { path: '/v2/api/widget-access-keys/token', method: 'POST' }
const AUTH = { path: `/api/chatbox/project/${CHAT.projectId}/intranet-auth`, method: 'POST' }

function jwt(tag: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({ alg: 'HS256' })}.${part({ sub: tag, exp: 2_000_000_000 })}.c2lnbmF0dXJl`
}
const WIDGET_TOKEN = jwt('widget-token-canary')
const EMBED_TOKEN = jwt('embed-token-canary')
const CHAT_TOKEN = 'rtat_chat-token-canary_0123'
/** What no span may hold: the user, every token, every secret, and the widget page's query. */
const CANARIES = [
  TEST_USER.email,
  TEST_USER.id,
  TEST_USER.name,
  WIDGET_TOKEN,
  EMBED_TOKEN,
  CHAT_TOKEN,
  PROXY.apiKey,
  SDK.accessKey,
  CHAT.secretToken,
  'color=light',
]

const THREE_FLOWS = '<main><<widget>><<widget flow="sdk">></main><<caramelo>><footer>end</footer>'

function runtime(proxy: Partial<ReturningProxyOptions> = {}, options: EmbedsOptions = {}): Runtime {
  return testRuntime({
    vendors: [returningProxy({ ...PROXY, ...proxy }), returningSdk(SDK), caramelo(CHAT)],
    dispatcher: agent,
    logger: recordingLogger(),
    timeoutMs: 2000,
    ...options,
  })
}

function vendorsAnswer(): void {
  agent.get(PROXY.baseUrl).intercept(SIGNIN).reply(200, { token: WIDGET_TOKEN })
  agent.get(PROXY.baseUrl).intercept(PAGE).reply(200, WIDGET_PAGE, HTML)
  agent
    .get(SDK.apiUrl)
    .intercept(SDK_TOKEN)
    .reply(200, { data: { embedToken: EMBED_TOKEN, expiresIn: 900 } })
  agent.get(CHAT.apiUrl).intercept(AUTH).reply(200, { real_time_access_token: CHAT_TOKEN })
}

function render(rt: Runtime, home = THREE_FLOWS): Promise<string> {
  return compileTemplates({ home, down: 'down' }).then((templates) =>
    renderPage(rt, templates, 'home', {}, { user: TEST_USER, nonce: TEST_NONCE, acceptLanguage: undefined }),
  )
}

/** The finished spans as an indented tree: name, [vendor] of a directive, server of a request; siblings sorted. */
function tree(spans: readonly ReadableSpan[]): string[] {
  const ids = new Set(spans.map((s) => s.spanContext().spanId))
  const label = (s: ReadableSpan) => {
    const vendor = s.kind === SpanKind.CLIENT ? '' : (s.attributes['eta_embeds.vendor'] ?? '')
    const server = s.attributes['server.address'] ?? ''
    return [s.name, vendor && `[${String(vendor)}]`, String(server)].filter(Boolean).join(' ')
  }
  const lines: string[] = []
  const visit = (level: readonly ReadableSpan[], depth: number) => {
    for (const s of [...level].sort((a, b) => label(a).localeCompare(label(b)))) {
      lines.push(`${'  '.repeat(depth)}${label(s)}`)
      visit(
        spans.filter((c) => c.parentSpanContext?.spanId === s.spanContext().spanId),
        depth + 1,
      )
    }
  }
  visit(
    spans.filter((s) => !s.parentSpanContext || !ids.has(s.parentSpanContext.spanId)),
    0,
  )
  return lines
}

function spanOf(name: string, vendor?: string): ReadableSpan {
  const found = exporter
    .getFinishedSpans()
    .filter((s) => s.name === name && (vendor === undefined || s.attributes['eta_embeds.vendor'] === vendor))
  expect(found, `${name} ${vendor ?? ''}`).toHaveLength(1)
  return found[0] as ReadableSpan
}

/** Every text a span exports: name, attributes, status, events, links, resource. */
function everything(spans: readonly ReadableSpan[]): string {
  return JSON.stringify(spans.map((s) => [s.name, s.attributes, s.status, s.events, s.links, s.resource.attributes]))
}

describe('one page with the three built-in flows', () => {
  it('is one span tree: the page, a span per directive, a client span per vendor request', async () => {
    vendorsAnswer()
    const html = await trace.getTracer('app').startActiveSpan('GET /', async (server) => {
      const page = await render(runtime())
      server.end()
      return page
    })
    expect(html).toContain(CHAT_TOKEN)

    const spans = exporter.getFinishedSpans()
    expect(tree(spans)).toEqual([
      'GET /',
      '  eta_embeds.page home',
      '    eta_embeds.directive caramelo [caramelo]',
      '      POST api.caramelo.test',
      '    eta_embeds.directive widget [returning-proxy]',
      '      GET widgets.vendor.test',
      '      POST widgets.vendor.test',
      '    eta_embeds.directive widget [returning-sdk]',
      '      POST api-v2.vendor.test',
    ])
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1)
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string
    }
    const ours = spans.filter((s) => s.name !== 'GET /')
    for (const s of ours) {
      expect(s.instrumentationScope).toMatchObject({ name: 'vite-plugin-eta-embeds', version })
      expect(s.status.code).toBe(SpanStatusCode.UNSET)
    }

    const page = spanOf('eta_embeds.page home')
    expect(page.attributes).toEqual({ 'eta_embeds.template': 'home', 'eta_embeds.outcome': 'ok' })
    expect(spanOf('eta_embeds.directive widget', 'returning-proxy').attributes).toEqual({
      'eta_embeds.vendor': 'returning-proxy',
      'eta_embeds.directive': 'widget',
      'eta_embeds.flow': 'proxy',
      'eta_embeds.outcome': 'ok',
      'eta_embeds.cache.widget_page': 'miss',
    })
    expect(spanOf('eta_embeds.directive widget', 'returning-sdk').attributes).toEqual({
      'eta_embeds.vendor': 'returning-sdk',
      'eta_embeds.directive': 'widget',
      'eta_embeds.flow': 'sdk',
      'eta_embeds.outcome': 'ok',
    })
    const chat = spanOf('eta_embeds.directive caramelo')
    expect(chat.attributes).toEqual({
      'eta_embeds.vendor': 'caramelo',
      'eta_embeds.directive': 'caramelo',
      'eta_embeds.outcome': 'ok',
    })
    const auth = spanOf('POST', 'caramelo')
    expect(auth.kind).toBe(SpanKind.CLIENT)
    expect(auth.attributes).toEqual({
      'http.request.method': 'POST',
      'server.address': 'api.caramelo.test',
      'server.port': 443,
      'url.scheme': 'https',
      'eta_embeds.vendor': 'caramelo',
      'http.response.status_code': 200,
    })
    // The page span lasts until its last directive settled: the exporter gets spans as they end.
    expect(ours.at(-1)).toBe(page)
    expect(everything(spans)).not.toMatch(new RegExp(CANARIES.map(escapeRegExp).join('|')))
  })
})

describe('spans of failures, cache hits and early ends', () => {
  it('marks a failing vendor: its directive fell back, its request failed, with the code only', async () => {
    const rt = runtime({}, { breaker: { failureThreshold: 1 } })
    agent.get(CHAT.apiUrl).intercept(AUTH).reply(503, `upstream says: ${CHAT.secretToken} for ${TEST_USER.email}`)
    await expect(render(rt, '<<caramelo fallback="down">>')).resolves.toBe('down')

    const directive = spanOf('eta_embeds.directive caramelo')
    expect(directive.attributes).toMatchObject({ 'eta_embeds.outcome': 'fallback', 'error.type': 'ERR_VENDOR_STATUS' })
    expect(directive.status).toEqual({ code: SpanStatusCode.ERROR, message: 'ERR_VENDOR_STATUS' })
    const request = spanOf('POST', 'caramelo')
    expect(request.attributes).toMatchObject({ 'http.response.status_code': 503, 'error.type': 'ERR_VENDOR_STATUS' })
    expect(request.status).toEqual({ code: SpanStatusCode.ERROR, message: 'ERR_VENDOR_STATUS' })

    // The breaker is open now: the next directive falls back at once, with no request.
    exporter.reset()
    await expect(render(rt, '<<caramelo fallback="down">>')).resolves.toBe('down')
    expect(tree(exporter.getFinishedSpans())).toEqual([
      'eta_embeds.page home',
      '  eta_embeds.directive caramelo [caramelo]',
    ])
    expect(spanOf('eta_embeds.directive caramelo').attributes).toMatchObject({
      'eta_embeds.outcome': 'fallback',
      'error.type': 'ERR_VENDOR_CIRCUIT_OPEN',
    })
    expect(everything(exporter.getFinishedSpans())).not.toContain('upstream says')
  })

  it('marks the caches that answered: the widget page and a reused token', async () => {
    const rt = runtime({ reuseTokens: true })
    agent.get(PROXY.baseUrl).intercept(SIGNIN).reply(200, { token: WIDGET_TOKEN })
    agent.get(PROXY.baseUrl).intercept(PAGE).reply(200, WIDGET_PAGE, HTML)
    await render(rt, '<<widget>>')
    expect(spanOf('eta_embeds.directive widget').attributes).toMatchObject({
      'eta_embeds.cache.widget_page': 'miss',
      'eta_embeds.cache.widget_token': 'miss',
    })

    exporter.reset()
    await expect(render(rt, '<<widget>>')).resolves.toContain('srcdoc=')
    expect(spanOf('eta_embeds.directive widget').attributes).toMatchObject({
      'eta_embeds.outcome': 'ok',
      'eta_embeds.cache.widget_page': 'hit',
      'eta_embeds.cache.widget_token': 'hit',
    })
    // The page still goes through our request (answered by the cache); the sign-in does not happen at all.
    expect(tree(exporter.getFinishedSpans())).toEqual([
      'eta_embeds.page home',
      '  eta_embeds.directive widget [returning-proxy]',
      '    GET widgets.vendor.test',
    ])
  })

  it('marks a page that failed with its code, and the vendor work it stopped as aborted', async () => {
    const templates = await compileTemplates({ home: `<<caramelo>><% throw new Error('bug for ' + it.email) %>` })
    agent.get(CHAT.apiUrl).intercept(AUTH).reply(200, { real_time_access_token: CHAT_TOKEN }).delay(60_000)
    const page = { user: TEST_USER, nonce: TEST_NONCE, acceptLanguage: undefined }
    await expect(renderPage(runtime(), templates, 'home', { email: TEST_USER.email }, page)).rejects.toThrow('bug for')

    const failed = spanOf('eta_embeds.page home')
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'ERR_TEMPLATE_RUNTIME' })
    expect(failed.attributes['error.type']).toBe('ERR_TEMPLATE_RUNTIME')
    // The call ends when its abort lands.
    await vi.waitFor(() => expect(exporter.getFinishedSpans()).toHaveLength(3))
    const directive = spanOf('eta_embeds.directive caramelo')
    expect(directive.attributes['eta_embeds.outcome']).toBe('aborted')
    expect(directive.status.code).toBe(SpanStatusCode.UNSET)
    expect(spanOf('POST', 'caramelo').attributes).toMatchObject({ 'eta_embeds.outcome': 'aborted' })
    expect(everything(exporter.getFinishedSpans())).not.toContain(TEST_USER.email)
  })

  it("gives a lazy frame's vendor work a directive span of its own, marked lazy, with no page", async () => {
    const rt = runtime()
    const entry = rt.vendors.get('returning-proxy')
    if (!entry) throw new Error('no returning-proxy')
    agent.get(PROXY.baseUrl).intercept(SIGNIN).reply(200, { token: WIDGET_TOKEN })
    agent.get(PROXY.baseUrl).intercept(PAGE).reply(200, WIDGET_PAGE, HTML)
    const page = { user: TEST_USER, nonce: TEST_NONCE, acceptLanguage: undefined }
    await startVendorCall(rt, entry, {}, page, 'document').result

    expect(tree(exporter.getFinishedSpans())).toEqual([
      'eta_embeds.directive widget [returning-proxy]',
      '  GET widgets.vendor.test',
      '  POST widgets.vendor.test',
    ])
    expect(spanOf('eta_embeds.directive widget').attributes).toMatchObject({
      'eta_embeds.lazy': true,
      'eta_embeds.outcome': 'ok',
    })
  })

  it('ends the page span with the last chunk, or when the consumer stops', async () => {
    const templates = await compileTemplates({ home: '<h1>Hi</h1><<caramelo>><p>end</p>' })
    const page = { user: TEST_USER, nonce: TEST_NONCE, acceptLanguage: undefined }
    const answer = replyWith(() => JSON.stringify({ real_time_access_token: CHAT_TOKEN }))
    agent.get(CHAT.apiUrl).intercept(AUTH).reply(200, answer).times(2)
    const rt = runtime()
    const isPage = (s: ReadableSpan) => s.name === 'eta_embeds.page home'

    const whole = await renderPageChunks(rt, templates, 'home', {}, page)
    await whole.next()
    expect(exporter.getFinishedSpans().filter(isPage)).toEqual([])
    for await (const chunk of whole) void chunk
    expect(spanOf('eta_embeds.page home').attributes['eta_embeds.outcome']).toBe('ok')

    exporter.reset()
    const stopped = await renderPageChunks(rt, templates, 'home', {}, page)
    await stopped.return(undefined)
    expect(spanOf('eta_embeds.page home').attributes['eta_embeds.outcome']).toBe('aborted')
    // Its directive's call is not stopped by that: it settles, and its span ends then.
    await vi.waitFor(() => expect(spanOf('eta_embeds.directive caramelo').attributes['eta_embeds.outcome']).toBe('ok'))
  })
})

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
