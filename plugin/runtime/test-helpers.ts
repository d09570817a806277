/**
 * Test support only — not part of the package's API and not imported by any
 * runtime code. Compiles template sources exactly as the Vite plugin does and
 * loads the result as real ES modules, so the runtime tests run the code a
 * build produces, without Vite.
 */
import { rmSync } from 'node:fs'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { context, propagation, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { MockAgent } from 'undici'
import type { MockInterceptor } from 'undici/types/mock-interceptor.js'
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'
import { compileTemplate } from '../compiler/codegen.ts'
import type { TemplateMap, TemplateModule } from '../template-module.ts'
import { caramelo } from '../vendors/caramelo/index.ts'
import type { ConfiguredVendor } from '../vendors/define.ts'
import { returningProxy } from '../vendors/returning/proxy.ts'
import type { Vocabulary } from '../vendors/vocabulary.ts'
import { resolveOptions, type EmbedsLogger, type EmbedsOptions } from './options.ts'
import { createRuntime, type Runtime } from './runtime.ts'

/**
 * Compiles `{ name: source }` into a `TemplateMap`. Each template's file in
 * errors is `templates/{name}.eta`, as the plugin names them. `vocabulary`
 * adds a test's own adapters to the built-in directives. The modules
 * are written with their source maps beside them, the way a build writes
 * them, and stay on disk until the process exits: a failed render reads
 * them to name the template line.
 */
export async function compileTemplates(sources: Record<string, string>, vocabulary?: Vocabulary): Promise<TemplateMap> {
  const dir = await mkdtemp(path.join(tmpdir(), 'eta-embeds-test-'))
  keptDirs.add(dir)
  const entries = await Promise.all(
    Object.entries(sources).map(async ([name, source], i) => {
      const file = path.join(dir, `template-${i}.mjs`)
      const etaFile = `templates/${name}.eta`
      const { code, map } = compileTemplate(source, etaFile, { name, vocabulary })
      await mkdir(path.dirname(path.join(dir, etaFile)), { recursive: true })
      await writeFile(path.join(dir, etaFile), source)
      await writeFile(`${file}.map`, JSON.stringify(map))
      await writeFile(file, `${code}\n//# sourceMappingURL=${path.basename(file)}.map\n`)
      const mod = (await import(pathToFileURL(file).href)) as TemplateModule
      return [name, mod] as const
    }),
  )
  return Object.fromEntries(entries)
}

const keptDirs = new Set<string>()
process.once('exit', () => {
  for (const dir of keptDirs) rmSync(dir, { recursive: true, force: true })
})

/** One call the runtime made on the logger. */
export interface LogLine {
  level: 'warn' | 'info'
  fields: Record<string, unknown>
  message: string
}

/** A logger that keeps every line, for assertions on what was (and was not) logged. */
export function recordingLogger(): EmbedsLogger & { lines: LogLine[] } {
  const lines: LogLine[] = []
  return {
    lines,
    warn: (fields, message) => void lines.push({ level: 'warn', fields, message }),
    info: (fields, message) => void lines.push({ level: 'info', fields, message }),
  }
}

/**
 * A MockAgent reply whose body `answer` makes when the request arrives, and
 * may resolve later: undici awaits it, though its types expect the body at
 * once. A vendor that answers on cue, or never.
 */
export function replyWith(answer: () => unknown): MockInterceptor.MockResponseDataHandler {
  return answer as unknown as MockInterceptor.MockResponseDataHandler
}

/** A promise with its resolver outside, to make mocked vendors answer on cue instead of on a timer. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

/** Reverses `escapeHtml`: what a browser reads out of a double-quoted attribute. */
export function decodeAttribute(value: string): string {
  return value
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&')
}

/** A runtime as the middleware makes it, from user options. */
export function testRuntime(options: EmbedsOptions): Runtime {
  return createRuntime(resolveOptions(options))
}

/** Vendor settings shared by the runtime tests. The secrets are distinctive so a leak is easy to find. */
export const TEST_VENDORS = {
  returning: {
    baseUrl: 'https://widgets.vendor.test',
    apiKey: 'rk_live_API-KEY-never-leaks',
    communityId: 'community-7',
    widgetId: 'w1',
  },
  returningSdk: {
    apiUrl: 'https://api-v2.vendor.test',
    sdkUrl: 'https://cdn.vendor.test/widget-sdk.js',
    accessId: 'access-1',
    accessKey: 'rak_ACCESS-KEY-never-leaks',
    communityId: 'community-7',
  },
  caramelo: {
    apiUrl: 'https://api.caramelo.test',
    sdkUrl: 'https://cdn.caramelo.test/sdk/latest/authenticated.js',
    projectId: 'proj-1',
    secretToken: 'cs_SECRET-TOKEN-never-leaks',
  },
} as const

/** The proxy flow and Caramelo, configured with `TEST_VENDORS`: what most runtime tests render with. */
export const TEST_CONFIGURED_VENDORS: readonly ConfiguredVendor[] = [
  returningProxy(TEST_VENDORS.returning),
  caramelo(TEST_VENDORS.caramelo),
]

/** The verified user most tests render for. */
export const TEST_USER = { id: 'user-42', email: 'alice@example.com', name: 'Alice', lang: 'pt-BR' } as const

/** A CSP nonce as the Koa side makes them (base64). */
export const TEST_NONCE = 'bm9uY2UtZm9yLXRlc3Rz+/='

/**
 * A fresh `MockAgent` for every test of the file, refusing real connections;
 * after each test it fails if an expected vendor call was never made, then
 * closes. Hands each new agent to `use`.
 */
export function mockAgentPerTest(use: (agent: MockAgent) => void): void {
  let agent: MockAgent | undefined
  beforeEach(() => {
    agent = new MockAgent()
    agent.disableNetConnect()
    use(agent)
  })
  afterEach(async () => {
    try {
      agent?.assertNoPendingInterceptors()
    } finally {
      await agent?.close()
    }
  })
}

/**
 * An OpenTelemetry SDK for the tests of one file, as an app would install
 * it: a tracer provider whose spans land in memory, an AsyncLocalStorage
 * context manager and the W3C trace-context and baggage propagators, all
 * registered globally for the file and removed after it. Spans are
 * forgotten after each test.
 */
export function recordSpans(): { exporter: InMemorySpanExporter; provider: BasicTracerProvider } {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    trace.setGlobalTracerProvider(provider)
    propagation.setGlobalPropagator(
      new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    )
  })
  afterEach(() => exporter.reset())
  afterAll(async () => {
    trace.disable()
    context.disable()
    propagation.disable()
    await provider.shutdown()
  })
  return { exporter, provider }
}
