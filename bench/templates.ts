/**
 * Template benchmarks (`npm run bench:templates`): what the directive compiler
 * and the runtime add on top of Eta, in one process. Prints markdown tables;
 * timings are never asserted (STYLE rule 10) — BENCHMARKS.md keeps a run.
 *
 * The checks below only make sure each task measures what its name says (the
 * page really holds the fallbacks, the vendors really answered): they fail
 * loudly on a wrong setup, never on a slow machine.
 */
import os from 'node:os'
import { Eta } from 'eta/core'
import { Bench, type Task } from 'tinybench'
import { compileTemplate } from '../plugin/compiler/codegen.ts'
import { renderPage, type PageContext } from '../plugin/runtime/render/render.ts'
import {
  compileTemplates,
  recordingLogger,
  TEST_CONFIGURED_VENDORS,
  TEST_NONCE,
  TEST_USER,
  TEST_VENDORS,
  testRuntime,
} from '../plugin/runtime/test-helpers.ts'
import { returningSdk } from '../plugin/vendors/returning/sdk.ts'
import { demoSources, generatedTemplate, mockVendors, withoutDirectives } from './template-inputs.ts'

const BENCH_OPTIONS = { time: 1500, warmupTime: 300 }

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench setup is wrong: ${what}`)
}

// --- Benchmarks ----------------------------------------------------------------

async function compileBench(): Promise<Bench> {
  const file = 'bench/generated.eta'
  const source = generatedTemplate(1000, 20)
  const plain = withoutDirectives(source, file)
  check(source.split('\n').length === 1000, 'the generated template is not 1 000 lines')
  check(compileTemplate(source, file).directives.length === 20, 'the generated template does not hold 20 directives')
  const eta = new Eta()
  const bench = new Bench({ name: 'compile', ...BENCH_OPTIONS, throws: true })
  bench
    .add('Eta compileToString (no directives)', () => eta.compileToString(plain))
    .add('Eta compile: compileToString + new Function (no directives)', () => eta.compile(plain))
    .add('compileTemplate (20 directives)', () => compileTemplate(source, file))
  await bench.run()
  return bench
}

async function renderBench(): Promise<Bench> {
  const sources = await demoSources()
  const templates = await compileTemplates(sources)
  const assets = `<script type="module" nonce="${TEST_NONCE}" src="/assets/main-3f2a1c.js"></script>`
  const data = { user: TEST_USER, assets, nonce: TEST_NONCE }
  const anonymous: PageContext = { user: undefined, nonce: TEST_NONCE, acceptLanguage: 'en' }
  const signedIn: PageContext = { user: TEST_USER, nonce: TEST_NONCE, acceptLanguage: 'en' }

  const agent = mockVendors()
  const logger = recordingLogger()
  // The demo's home page holds both <<widget>> flows and the chatbot.
  const vendors = [...TEST_CONFIGURED_VENDORS, returningSdk(TEST_VENDORS.returningSdk)]
  const options = testRuntime({ vendors, dispatcher: agent, logger })

  // Eta alone: the same page with the directives taken out, the layout registered once.
  const eta = new Eta()
  const home = withoutDirectives(sources['home'] ?? '', 'templates/home.eta')
  eta.loadTemplate('layout', sources['layout'] ?? '')
  eta.loadTemplate('layout', sources['layout'] ?? '', { async: true })
  // Eta core resolves no paths: the partials go in under the names home includes them by.
  for (const [name, source] of Object.entries(sources)) {
    if (name.startsWith('partials/')) eta.loadTemplate(`./${name}`, source)
  }
  eta.loadTemplate('@home', home)

  const fallbacks = await renderPage(options, templates, 'home', data, anonymous)
  check(
    fallbacks.includes('Rewards are unavailable') && !fallbacks.includes('<iframe'),
    'anonymous page has no fallback',
  )
  const page = await renderPage(options, templates, 'home', data, signedIn)
  check(
    page.includes(' srcdoc="') && page.includes('<rai-currency-widget ') && page.includes('carameloaiChatbot'),
    'signed-in page has no widgets',
  )
  check(eta.renderString(home, data).includes('Hello, Alice!'), "Eta's page has no greeting")

  const bench = new Bench({ name: 'render', ...BENCH_OPTIONS, throws: true })
  bench
    .add('Eta renderString (compiles the page each call)', () => eta.renderString(home, data))
    .add('Eta renderStringAsync (compiles the page each call)', () => eta.renderStringAsync(home, data))
    .add('Eta render, page precompiled', () => eta.render('@home', data))
    .add('renderPage, anonymous (fallback partials)', () => renderPage(options, templates, 'home', data, anonymous))
    .add('renderPage, signed in (4 MockAgent calls)', () => renderPage(options, templates, 'home', data, signedIn))
  try {
    await bench.run()
  } finally {
    await agent.close()
  }
  check(logger.lines.length === 0, `a vendor call failed during the run: ${JSON.stringify(logger.lines[0])}`)
  return bench
}

// --- Output ------------------------------------------------------------------

function time(ms: number | undefined): string {
  if (ms === undefined) return '–'
  return ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`
}

/** One markdown table (times per call); each baseline adds a column: the task's mean over the baseline's. */
function table(bench: Bench, baselines: Task[]): string {
  const head = ['Task', 'mean', 'p50', 'p99', 'ops/s', 'samples', ...baselines.map((b) => `× ${b.name.split(' (')[0]}`)]
  const rows = bench.tasks.map((task) => {
    const r = task.result
    if (!r) throw new Error(`task '${task.name}' has no result`)
    const ratios = baselines.map((b) => `${(r.latency.mean / (b.result?.latency.mean ?? NaN)).toFixed(2)}×`)
    // 1 / mean, so the column agrees with the mean one; tinybench's `throughput.mean` averages
    // per-sample rates, which the fast samples dominate on a noisy machine.
    const ops = Math.round(1000 / r.latency.mean).toLocaleString('en-US')
    const { mean, p50, p99, samples } = r.latency
    return [task.name, time(mean), time(p50), time(p99), ops, String(samples.length), ...ratios]
  })
  return [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n')
}

function taskOf(bench: Bench, index: number): Task {
  const task = bench.tasks[index]
  if (!task) throw new Error(`no task #${index} in '${bench.name ?? ''}'`)
  return task
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
const load = os
  .loadavg()
  .map((l) => l.toFixed(2))
  .join(' ')
console.log(`Node ${process.version}, ${os.availableParallelism()} CPUs (${cpu}), ${os.platform()} ${os.arch()}`)
console.log(`Load average at start: ${load} (other processes share these CPUs: read p50 next to the mean)\n`)

const compile = await compileBench()
console.log('### Compile: a generated 1 000-line template\n')
console.log(table(compile, [taskOf(compile, 0)]))

const render = await renderBench()
console.log('\n### Render: the demo home page (home + layout + partials)\n')
console.log(table(render, [taskOf(render, 0), taskOf(render, 1)]))
