/**
 * `npm run bench:observability` — what the spans and metrics add to one page
 * of three directives and three vendor requests (issue 12), measured apart
 * from the page's own work, whose noise on a shared machine hides them in
 * `bench:runtime`. The same calls the runtime makes per page — a page span
 * over five chunks, three directive spans run in their context, three
 * client spans sent with tracing suppressed, three latency observations and
 * the counters — first with no SDK (the spans are no-ops), then with one
 * recording every span in memory.
 *
 * Prints a markdown table; nothing here is asserted (STYLE rule 10).
 */
import os from 'node:os'
import { context, SpanKind, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { suppressTracing } from '@opentelemetry/core'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { Bench } from 'tinybench'
import { EmbedsMetrics } from '../plugin/runtime/metrics.ts'
import {
  createTracing,
  endDirectiveSpan,
  endWithChunks,
  markCache,
  startDirectiveSpan,
  startPageSpan,
} from '../plugin/runtime/tracing.ts'
import { caramelo } from '../plugin/vendors/caramelo/index.ts'
import { returningProxy } from '../plugin/vendors/returning/proxy.ts'
import { returningSdk } from '../plugin/vendors/returning/sdk.ts'

const definitions = [returningProxy.definition, returningSdk.definition, caramelo.definition]
const metrics = new EmbedsMetrics({ cacheKinds: ['widget_page'] })

/** Five chunks, each a tick later: a streamed page whose directives settle one after the other. */
async function* fiveChunks(): AsyncGenerator<string> {
  for (let i = 0; i < 5; i++) yield await Promise.resolve('chunk')
}

/** One page's worth of the runtime's tracing and metrics calls. */
async function onePage(): Promise<void> {
  const tracing = createTracing({ propagateToVendors: false })
  const page = startPageSpan(tracing, 'home')
  await context.with(page.context, async () => {
    for (const definition of definitions) {
      const directive = startDirectiveSpan(tracing, definition, false)
      await context.with(directive.context, async () => {
        metrics.call(definition.name)
        metrics.cacheLookup('widget_page')
        markCache('widget_page', 'hit')
        const span = tracing.tracer.startSpan(
          'POST',
          { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'POST', 'server.address': 'vendor.test' } },
          directive.context,
        )
        await context.with(suppressTracing(trace.setSpan(directive.context, span)), () => Promise.resolve())
        span.setAttribute('http.response.status_code', 200)
        span.end()
      })
      metrics.callDuration(definition.name, 'ok', 0.1)
      endDirectiveSpan(directive.span, 'ok')
    }
  })
  for await (const chunk of endWithChunks(page.span, fiveChunks())) void chunk
}

/** The same page with none of it: the baseline the table compares with. */
async function bare(): Promise<void> {
  for (const definition of definitions) await Promise.resolve(definition.name)
  for await (const chunk of fiveChunks()) void chunk
}

async function run(label: string): Promise<{ name: string; us: number }[]> {
  const bench = new Bench({ time: 1000, warmupTime: 200 })
  bench.add(`bare page (${label})`, bare).add(`spans and metrics of one page (${label})`, onePage)
  await bench.run()
  return bench.tasks.map((task) => ({ name: task.name, us: (task.result?.latency.mean ?? NaN) * 1000 }))
}

const rows = await run('no SDK')
const exporter = new InMemorySpanExporter()
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))
setInterval(() => exporter.reset(), 100).unref()
rows.push(...(await run('an SDK recording in memory')))

console.log(
  `Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? '?'}), load ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}\n`,
)
console.log('| what | mean per page | added per page |')
console.log('| --- | --: | --: |')
for (let i = 0; i < rows.length; i += 2) {
  const base = rows[i]
  const traced = rows[i + 1]
  if (!base || !traced) continue
  console.log(`| ${base.name} | ${base.us.toFixed(1)} µs | |`)
  console.log(`| ${traced.name} | ${traced.us.toFixed(1)} µs | ${(traced.us - base.us).toFixed(1)} µs |`)
}
