/**
 * This checkout against another commit (`npm run bench:compare -- main`), on
 * the template benchmarks' inputs: compiling the 1 000-line template and
 * rendering the demo's home page, anonymous and signed in. The two versions
 * run in one process, one call after the other, in alternating order, so a
 * machine shared with other work slows both alike; the ratios are what to
 * read. Prints a markdown table; never asserts a time (STYLE rule 11).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { demoSources, generatedTemplate, mockVendors } from './template-inputs.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const ref = process.argv[2] ?? 'main'
const ROUNDS = { compile: 600, render: 6000, signedIn: 1500 }

type Compile = (source: string, file: string) => unknown
/** What either checkout's `plugin/runtime/test-helpers.ts` offers, as far as this script uses it. */
interface Helpers {
  TEST_CONFIGURED_VENDORS: unknown[]
  TEST_VENDORS: { returningSdk: unknown }
  TEST_USER: object
  testRuntime(options: object): { close(): Promise<void> }
  compileTemplates(sources: Record<string, string>): Promise<unknown>
}
interface Side {
  compile: Compile
  render: (templates: unknown, page: { user: unknown }) => Promise<string>
  templates: unknown
  close: () => Promise<void>
}

/** One side: the compiler and the runtime of the checkout at `root`, with the demo's templates compiled by it. */
async function side(root: string, sources: Record<string, string>, agent: unknown): Promise<Side> {
  const at = (file: string) => path.join(root, file)
  const { compileTemplate } = (await import(at('plugin/compiler/codegen.ts'))) as { compileTemplate: Compile }
  const { renderPage } = (await import(at('plugin/runtime/render/render.ts'))) as {
    renderPage: (...args: unknown[]) => Promise<string>
  }
  const helpers = (await import(at('plugin/runtime/test-helpers.ts'))) as Helpers
  const { returningSdk } = (await import(at('plugin/vendors/returning/sdk.ts'))) as {
    returningSdk: (options: unknown) => unknown
  }
  const vendors = [...helpers.TEST_CONFIGURED_VENDORS, returningSdk(helpers.TEST_VENDORS.returningSdk)]
  const runtime = helpers.testRuntime({ vendors, dispatcher: agent, logger: { warn: () => {}, info: () => {} } })
  const data = { user: helpers.TEST_USER, assets: '<script type="module" src="/assets/main.js"></script>', nonce: 'n' }
  return {
    compile: compileTemplate,
    templates: await helpers.compileTemplates(sources),
    render: (templates, page) =>
      renderPage(runtime, templates, 'home', data, { ...page, nonce: 'n', acceptLanguage: 'en' }),
    close: () => runtime.close(),
  }
}

/** Times `a` and `b` call after call, alternating which goes first; per-call times in ms. */
async function interleaved(rounds: number, a: () => unknown, b: () => unknown): Promise<[number[], number[]]> {
  const times: [number[], number[]] = [[], []]
  for (let i = 0; i < rounds / 10; i++) {
    await a()
    await b()
  }
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 ? [0, 1] : [1, 0]
    for (const which of order) {
      const started = performance.now()
      await (which === 0 ? a() : b())
      times[which]!.push(performance.now() - started)
    }
  }
  return times
}

const quantile = (values: number[], q: number): number =>
  [...values].sort((x, y) => x - y)[Math.floor(values.length * q)] ?? NaN
const mean = (values: number[]): number => values.reduce((sum, v) => sum + v, 0) / values.length
const time = (ms: number): string => (ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`)

const dir = mkdtempSync(path.join(os.tmpdir(), 'eta-embeds-compare-'))
try {
  // The other commit's source, beside this checkout's dependencies.
  execFileSync('tar', ['-x', '-C', dir], {
    input: execFileSync('git', ['archive', ref, 'package.json', 'plugin'], { cwd: ROOT }),
  })
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
  const sources = await demoSources()
  const agent = mockVendors()
  const [base, head] = [await side(dir, sources, agent), await side(ROOT, sources, agent)]
  const generated = generatedTemplate(1000, 20)
  const anonymous = { user: undefined }
  const signedIn = { user: { id: 'user-42', email: 'alice@example.com', name: 'Alice', lang: 'pt-BR' } }
  const rows: [string, [number[], number[]]][] = [
    [
      'compileTemplate, 1 000 lines (20 directives)',
      await interleaved(
        ROUNDS.compile,
        () => base.compile(generated, 'g.eta'),
        () => head.compile(generated, 'g.eta'),
      ),
    ],
    [
      'renderPage, home, anonymous (fallback partials)',
      await interleaved(
        ROUNDS.render,
        () => base.render(base.templates, anonymous),
        () => head.render(head.templates, anonymous),
      ),
    ],
    [
      'renderPage, home, signed in (4 MockAgent calls)',
      await interleaved(
        ROUNDS.signedIn,
        () => base.render(base.templates, signedIn),
        () => head.render(head.templates, signedIn),
      ),
    ],
  ]
  await Promise.all([base.close(), head.close(), agent.close()])
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')
  console.log(
    `Node ${process.version}, ${os.availableParallelism()} CPUs (${os.cpus()[0]?.model ?? '?'}); load average at the end: ${load}\n`,
  )
  console.log(`| Task | ${ref} p50 | this p50 | ${ref} mean | this mean | × p50 | × mean | calls each |`)
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |')
  for (const [name, [a, b]] of rows) {
    const cells = [time(quantile(a, 0.5)), time(quantile(b, 0.5)), time(mean(a)), time(mean(b))]
    const ratios = [(quantile(b, 0.5) / quantile(a, 0.5)).toFixed(3), (mean(b) / mean(a)).toFixed(3)]
    console.log(`| ${name} | ${cells.join(' | ')} | ${ratios.map((r) => `${r}×`).join(' | ')} | ${a.length} |`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
