/**
 * Trace headers and third-party vendors (issue 12): with an app's SDK and a
 * global W3C propagator, vendor requests carry no `traceparent`, `tracestate`
 * or `baggage` unless `tracing.propagateToVendors` is on — and then the
 * trace context of our own request span, never the baggage. Checked against
 * MockAgent vendors, then with OpenTelemetry's undici instrumentation
 * installed (which injects into every undici request) against the local
 * stubs over real HTTP, reading the headers they received.
 */
import { context, propagation, trace } from '@opentelemetry/api'
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { request, type MockAgent } from 'undici'
import type { MockInterceptor } from 'undici/types/mock-interceptor.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCarameloStub, startReturningStub, type CarameloStub, type ReturningStub } from '../../stubs/index.ts'
import { caramelo } from '../vendors/caramelo/index.ts'
import { returningProxy } from '../vendors/returning/proxy.ts'
import type { EmbedsOptions } from './options.ts'
import { renderPage } from './render/render.ts'
import type { Runtime } from './runtime.ts'
import {
  compileTemplates,
  mockAgentPerTest,
  recordingLogger,
  recordSpans,
  TEST_NONCE,
  TEST_USER,
  TEST_VENDORS,
  testRuntime,
} from './test-helpers.ts'

const { exporter, provider } = recordSpans()
const TRACE_HEADERS = ['traceparent', 'tracestate', 'baggage']
const PROXY = TEST_VENDORS.returning
const CHAT = TEST_VENDORS.caramelo
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.YWxpY2Utc2lnbmF0dXJl'
/** Baggage an app might set: it must never reach a vendor. */
const BAGGAGE_CANARY = 'baggage-user-canary-7f3a'

/**
 * Renders `<<widget>><<caramelo>>` inside an app span whose context holds
 * baggage, as an app traced by its SDK would; resolves with that span's trace id.
 */
async function renderTraced(rt: Runtime): Promise<string> {
  const templates = await compileTemplates({ home: '<<widget>><<caramelo>>' })
  const baggage = propagation.createBaggage({ 'app.user': { value: BAGGAGE_CANARY } })
  return trace.getTracer('app').startActiveSpan('GET /', async (server) => {
    await context.with(propagation.setBaggage(context.active(), baggage), () =>
      renderPage(rt, templates, 'home', {}, { user: TEST_USER, nonce: TEST_NONCE, acceptLanguage: undefined }),
    )
    server.end()
    return server.spanContext().traceId
  })
}

/** Our client span of each vendor, by vendor. */
function requestSpans(): Map<string, ReadableSpan[]> {
  const out = new Map<string, ReadableSpan[]>()
  for (const s of exporter.getFinishedSpans()) {
    if (s.instrumentationScope.name !== 'vite-plugin-eta-embeds' || !s.attributes['http.request.method']) continue
    const vendor = String(s.attributes['eta_embeds.vendor'])
    out.set(vendor, [...(out.get(vendor) ?? []), s])
  }
  return out
}

describe('MockAgent vendors', () => {
  let agent: MockAgent
  mockAgentPerTest((a) => (agent = a))

  /** Both vendors answer; resolves with the headers of every request they received. */
  function vendorsAnswer(): Record<string, string>[] {
    const seen: Record<string, string>[] = []
    const keep =
      (body: string | object) =>
      (opts: MockInterceptor.MockResponseCallbackOptions): string | object => {
        seen.push(Object.fromEntries(Object.entries(opts.headers as Record<string, string>)))
        return body
      }
    agent
      .get(PROXY.baseUrl)
      .intercept({ path: `/widget/${PROXY.communityId}/signin`, method: 'POST' })
      .reply(200, keep({ token: JWT }))
    agent
      .get(PROXY.baseUrl)
      .intercept({ path: '/store/w1?color=light', method: 'GET' })
      .reply(200, keep('<html><script>x({ token: "" })</script></html>'), { headers: { 'content-type': 'text/html' } })
    agent
      .get(CHAT.apiUrl)
      .intercept({ path: `/api/chatbox/project/${CHAT.projectId}/intranet-auth`, method: 'POST' })
      .reply(200, keep({ real_time_access_token: 'rtat_0123456789' }))
    return seen
  }

  function runtime(options: EmbedsOptions = {}): Runtime {
    return testRuntime({
      vendors: [returningProxy(PROXY), caramelo(CHAT)],
      dispatcher: agent,
      logger: recordingLogger(),
      ...options,
    })
  }

  it('sends no trace header to a vendor by default', async () => {
    const seen = vendorsAnswer()
    await renderTraced(runtime())
    expect(seen).toHaveLength(3)
    for (const headers of seen) for (const name of TRACE_HEADERS) expect(headers).not.toHaveProperty(name)
    // Traced all the same: the headers are what is held back, not the spans.
    expect([...requestSpans().values()].flat()).toHaveLength(3)
  })

  it('with propagateToVendors, sends the trace context of our request span, and never the baggage', async () => {
    const seen = vendorsAnswer()
    const traceId = await renderTraced(runtime({ tracing: { propagateToVendors: true } }))
    const ours = [...requestSpans().values()].flat().map((s) => `00-${traceId}-${s.spanContext().spanId}-01`)
    expect(seen.map((headers) => headers['traceparent']).sort()).toEqual(ours.sort())
    for (const headers of seen) expect(headers).not.toHaveProperty('baggage')
    expect(JSON.stringify(seen)).not.toContain(BAGGAGE_CANARY)
  })
})

describe('with the undici instrumentation installed, against the local stubs', () => {
  let instrumentation: UndiciInstrumentation
  let returning: ReturningStub
  let chat: CarameloStub
  const runtimes: Runtime[] = []

  beforeAll(async () => {
    instrumentation = new UndiciInstrumentation()
    instrumentation.setTracerProvider(provider)
    instrumentation.enable()
    returning = await startReturningStub({ apiKey: PROXY.apiKey, communityId: PROXY.communityId })
    chat = await startCarameloStub({ secretToken: CHAT.secretToken, projectId: CHAT.projectId })
  })

  afterAll(async () => {
    instrumentation.disable()
    await Promise.all(runtimes.map((rt) => rt.close()))
    await Promise.all([returning.close(), chat.close()])
  })

  /** A runtime with its own undici pool (a real `Agent`), talking to the stubs over loopback. */
  function runtime(options: EmbedsOptions = {}): Runtime {
    const rt = testRuntime({
      vendors: [
        returningProxy({ ...PROXY, baseUrl: returning.url }),
        caramelo({ ...CHAT, apiUrl: chat.apiUrl, sdkUrl: chat.sdkUrl }),
      ],
      logger: recordingLogger(),
      ...options,
    })
    runtimes.push(rt)
    return rt
  }

  /** The headers of the vendor requests the stubs received since `from`. */
  function vendorRequests(from: { returning: number; chat: number }): Record<string, string>[] {
    return [...returning.received.slice(from.returning), ...chat.received.slice(from.chat)].map((r) => r.headers)
  }
  const marks = () => ({ returning: returning.received.length, chat: chat.received.length })

  it('is live: an undici request of the app, inside a span, carries its traceparent', async () => {
    const from = marks()
    await trace.getTracer('app').startActiveSpan('job', async (span) => {
      const res = await request(`${chat.apiUrl}/anything`)
      await res.body.dump()
      span.end()
    })
    const [headers] = vendorRequests(from)
    expect(headers?.['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  })

  it('sends no trace header to a vendor by default, and records no span of its own for our requests', async () => {
    const from = marks()
    await renderTraced(runtime())
    const received = vendorRequests(from)
    expect(received.length).toBe(3)
    for (const headers of received) for (const name of TRACE_HEADERS) expect(headers).not.toHaveProperty(name)
    const undiciSpans = exporter
      .getFinishedSpans()
      .filter((s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-undici')
    expect(undiciSpans).toEqual([])
    expect([...requestSpans().values()].flat()).toHaveLength(3)
  })

  it('with propagateToVendors, sends exactly one traceparent per request: our span’s', async () => {
    const from = marks()
    const traceId = await renderTraced(runtime({ tracing: { propagateToVendors: true } }))
    const received = vendorRequests(from)
    const ours = [...requestSpans().values()].flat().map((s) => `00-${traceId}-${s.spanContext().spanId}-01`)
    // A repeated header would arrive joined with ", ": each is one of ours, whole.
    expect(received.map((headers) => headers['traceparent']).sort()).toEqual(ours.sort())
    for (const headers of received) expect(headers).not.toHaveProperty('baggage')
  })
})
