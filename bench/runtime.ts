/**
 * `npm run bench:runtime` — what the runtime does to a page's latency and to
 * the vendors' load (issue 4). Two local stub vendors answer after 100 ms
 * each, on loopback; 1 000 page views (50 users, 20 rounds of 50 concurrent
 * renders) per configuration, all in this one process:
 *
 * - sequential: the vendors' sample flows one after another, nothing cached
 *   (the shape before this runtime existed, and the reference);
 * - runtime, no page cache: directives resolved concurrently;
 * - runtime, defaults: plus the shared widget-page cache;
 * - runtime, token reuse: plus the proxy flow's `reuseTokens`;
 * - runtime, defaults, with an OpenTelemetry SDK: the page cache row again
 *   once an SDK records every span (in memory), what tracing costs when it
 *   is on. The rows above run with no SDK: the spans are no-ops.
 *
 * Prints a markdown table; nothing here is asserted (STYLE rule 10). The CPU
 * column is this process's user + system time per view, the stubs' included
 * (they run in-process): compare rows of one run, not runs of two machines.
 */
import os from 'node:os'
import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { request } from 'undici'
import { Agent } from 'undici'
import { renderPage } from '../plugin/runtime/render/render.ts'
import { compileTemplates, testRuntime } from '../plugin/runtime/test-helpers.ts'
import { caramelo as carameloAdapter } from '../plugin/vendors/caramelo/index.ts'
import type { EmbedsUser } from '../plugin/vendors/define.ts'
import { injectToken } from '../plugin/vendors/returning/page.ts'
import { returningProxy, type ReturningProxyOptions } from '../plugin/vendors/returning/proxy.ts'
import { startCarameloStub, startReturningStub } from '../stubs/index.ts'

const LATENCY_MS = 100
const USERS = 50
const ROUNDS = 20
const API_KEY = 'bench-api-key-000000'
const SECRET = 'bench-secret-token-0000'

const users: EmbedsUser[] = Array.from({ length: USERS }, (_, i) => ({
  id: `usr_${i}`,
  email: `user${i}@example.com`,
  name: `User ${i}`,
  lang: 'en',
}))

const returning = await startReturningStub({ apiKey: API_KEY, communityId: 'bench', latencyMs: LATENCY_MS })
const caramelo = await startCarameloStub({ secretToken: SECRET, projectId: 'bench', latencyMs: LATENCY_MS })
const proxyOptions = { baseUrl: returning.url, apiKey: API_KEY, communityId: 'bench', widgetId: 'bench-store' }
const chat = carameloAdapter({
  apiUrl: caramelo.apiUrl,
  sdkUrl: caramelo.sdkUrl,
  projectId: 'bench',
  secretToken: SECRET,
})
const templates = await compileTemplates({ home: '<main><<widget>></main><<caramelo>>' })
const silent = { warn: () => undefined, info: () => undefined }

type Render = (user: EmbedsUser) => Promise<string>

/** The runtime with the proxy flow (`pageCache`, `reuseTokens` as given) and Caramelo. */
function runtimeRender(proxy: Pick<ReturningProxyOptions, 'pageCache' | 'reuseTokens'>): Render {
  const runtime = testRuntime({
    vendors: [returningProxy({ ...proxyOptions, ...proxy }), chat],
    logger: silent,
    timeoutMs: 5000,
  })
  return (user) => renderPage(runtime, templates, 'home', {}, { user, nonce: 'bench', acceptLanguage: undefined })
}

/** The vendors' sample flows, one call after the other, nothing cached. */
function sequentialRender(): Render {
  const dispatcher = new Agent({ keepAliveTimeout: 10_000 })
  return async (user) => {
    const signin = await request(`${returning.url}/widget/bench/signin`, {
      dispatcher,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'returningai-api-key': API_KEY, email: user.email },
    })
    const { token } = (await signin.body.json()) as { token: string }
    const page = await request(`${returning.url}/store/bench-store?color=light`, { dispatcher })
    const widget = injectToken(await page.body.text(), token)
    const auth = await request(`${caramelo.apiUrl}/api/chatbox/project/bench/intranet-auth`, {
      dispatcher,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        secret_token: SECRET,
        external_customer_id: user.id,
        name: user.name,
        email: user.email,
        lang: 'en',
      }),
    })
    const chat = (await auth.body.json()) as { real_time_access_token: string }
    return `<main>${widget}</main>${chat.real_time_access_token}`
  }
}

interface Row {
  name: string
  p50: number
  p99: number
  mean: number
  callsPer1000: number
  wallMs: number
  cpuMsPerView: number
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

async function measure(name: string, render: Render): Promise<Row> {
  await Promise.all(users.slice(0, 5).map(render)) // warm-up: connections, JIT
  const before = returning.received.length + caramelo.received.length
  const latencies: number[] = []
  const cpu = process.cpuUsage()
  const started = performance.now()
  for (let round = 0; round < ROUNDS; round++) {
    await Promise.all(
      users.map(async (user) => {
        const t0 = performance.now()
        const html = await render(user)
        if (!html.includes('token') && !html.includes('srcdoc'))
          throw new Error(`${name}: a page came back without its widget`)
        latencies.push(performance.now() - t0)
      }),
    )
  }
  const wallMs = performance.now() - started
  const { user, system } = process.cpuUsage(cpu)
  const calls = returning.received.length + caramelo.received.length - before
  const sorted = [...latencies].sort((a, b) => a - b)
  const mean = latencies.reduce((a, b) => a + b, 0) / latencies.length
  return {
    name,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean,
    callsPer1000: (calls / latencies.length) * 1000,
    wallMs,
    cpuMsPerView: (user + system) / 1000 / latencies.length,
  }
}

const rows: Row[] = []
rows.push(await measure('sequential, uncached (reference)', sequentialRender()))
rows.push(await measure('runtime, no page cache', runtimeRender({ pageCache: false })))
rows.push(await measure('runtime, defaults (page cache)', runtimeRender({})))
rows.push(await measure('runtime, page cache + token reuse', runtimeRender({ reuseTokens: true })))

// Last: an SDK, once registered, stays for the rest of the process.
const spans = new InMemorySpanExporter()
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }))
rows.push(await measure('runtime, defaults, with an OpenTelemetry SDK', runtimeRender({})))
const recorded = spans.getFinishedSpans().length

await returning.close()
await caramelo.close()

const reference = rows[0] as Row
const ms = (n: number) => `${n.toFixed(1)} ms`
console.log(
  `Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? '?'}), load ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
)
console.log(
  `Vendor latency ${LATENCY_MS} ms per call; ${USERS * ROUNDS} page views per row (${ROUNDS} rounds of ${USERS} concurrent users); ` +
    `${recorded} spans recorded in the SDK row\n`,
)
console.log(
  '| configuration | p50 | p99 | mean | CPU / view | vendor calls / 1 000 views | p50 × reference | calls × reference |',
)
console.log('| --- | --: | --: | --: | --: | --: | --: | --: |')
for (const r of rows) {
  console.log(
    `| ${r.name} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.mean)} | ${r.cpuMsPerView.toFixed(2)} ms | ` +
      `${Math.round(r.callsPer1000)} | ` +
      `${(r.p50 / reference.p50).toFixed(2)}× | ${(r.callsPer1000 / reference.callsPer1000).toFixed(2)}× |`,
  )
}
