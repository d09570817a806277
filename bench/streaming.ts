/**
 * `npm run bench:streaming` — what out-of-order streaming (issue 12) changes
 * for a browser: for each way the runtime sends a page (out of order, in
 * order, whole), the time from the response's first byte to the arrival of
 * the page's `<footer` (SPEC: the demo's own content ends with it) and the
 * time to the complete page, with every vendor at 0, 50 and 300 ms, and with
 * one vendor hanging. Prints a markdown table with ratios against in order in
 * the same run; asserts nothing (STYLE rule 11).
 *
 * - Per scenario, one production demo per mode (`EMBEDS_STREAM`), all three up
 *   at once and asked in turn, the order rotated every round, so a machine
 *   getting busier or quieter weighs on every mode alike. One page at a time:
 *   this is one page's timeline, not throughput (that is `npm run bench`).
 * - The vendor stubs in a child process of their own (bench/vendors.ts).
 * - Hanging: the proxy flow's vendor — the page's first directive — answers
 *   after 60 s, far past the 2 s deadline; the others at 0 ms. Three pages
 *   per server: under the five failures that open its circuit breaker, which
 *   would then answer at once and hide the deadline.
 */
import { Agent, get } from 'node:http'
import { mkdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ensureBuild, LOG_DIR, login, SERVER_ENTRY, serverEnv } from './demo.ts'
import { startServer, type ServerProcess, BenchChildren } from './processes.ts'
import type { Vendors } from './vendors.ts'

const MODES = ['out-of-order', 'in-order', 'off'] as const
type Mode = (typeof MODES)[number]
const MODE_NAMES: Record<Mode, string> = { 'out-of-order': 'out of order', 'in-order': 'in order', off: 'whole page' }

interface Scenario {
  name: string
  latencyMs: number
  /** The proxy flow's vendor never answers in time. */
  hang: boolean
  pages: number
}
const SCENARIOS: Scenario[] = [
  { name: '0 ms', latencyMs: 0, hang: false, pages: 20 },
  { name: '50 ms', latencyMs: 50, hang: false, pages: 20 },
  { name: '300 ms', latencyMs: 300, hang: false, pages: 20 },
  { name: 'proxy vendor hangs', latencyMs: 0, hang: true, pages: 3 },
]
const WARMUP_PAGES = 2
const HANG_MS = 60_000
/** The demo's deadline (EMBEDS_TIMEOUT_MS unset): a hanging vendor's page completes about then. */
const DEADLINE_MS = 2000
const PAGE_TIMEOUT_MS = 10_000
/** Normally about two minutes; past this something hangs. */
const WATCHDOG_MS = 600_000

/** One page as the client saw it arrive, in milliseconds. */
interface Timeline {
  /** From the request to the response's first byte (status, headers and the first chunk come together). */
  firstByte: number
  /** From the first byte to the arrival of `<footer`. */
  footer: number
  /** From the request to the last byte. */
  complete: number
}

/** GETs `/` as alice and times its arrival; fails loudly unless it is the page the scenario expects. */
function timePage(
  server: ServerProcess,
  agent: Agent,
  cookie: string,
  mode: Mode,
  scenario: Scenario,
): Promise<Timeline> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const request = get(`${server.url}/`, { agent, headers: { cookie }, timeout: PAGE_TIMEOUT_MS }, (res) => {
      const firstByte = performance.now()
      let body = ''
      let footer: number | undefined
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        // The footer may straddle two chunks: look at the end of what came before too.
        const from = Math.max(0, body.length - '<footer'.length)
        body += chunk
        if (footer === undefined && body.indexOf('<footer', from) !== -1) footer = performance.now()
      })
      res.on('error', reject)
      res.on('end', () => {
        const complete = performance.now()
        const problem = unexpected(res.statusCode, res.headers['content-length'], body, mode, scenario)
        if (problem || footer === undefined) {
          reject(new Error(`${MODE_NAMES[mode]}, ${scenario.name}: ${problem ?? 'no <footer'}\n${body}`))
          return
        }
        resolve({ firstByte: firstByte - started, footer: footer - firstByte, complete: complete - started })
      })
    })
    request.on('timeout', () => request.destroy(new Error(`no page in ${PAGE_TIMEOUT_MS} ms`)))
    request.on('error', reject)
  })
}

/** What is wrong with a page, if anything: a fallback where a vendor answered would time the wrong page. */
function unexpected(
  status: number | undefined,
  contentLength: string | undefined,
  body: string,
  mode: Mode,
  scenario: Scenario,
): string | undefined {
  if (status !== 200) return `status ${status}`
  if (!body.trimEnd().endsWith('</html>')) return 'the page does not end with </html>'
  if ((contentLength !== undefined) !== (mode === 'off')) return `content-length ${contentLength ?? 'missing'}`
  if (mode !== 'out-of-order' && body.includes('<eta-embeds-slot')) return 'a slot in a page sent in order'
  const proxy = body.includes(' srcdoc="') && body.includes('token: &quot;ey')
  if (proxy === scenario.hang) return scenario.hang ? 'the hanging vendor answered' : 'no proxy widget'
  if (!/<rai-currency-widget [^>]*embed-token="ey/.test(body)) return 'no SDK widget'
  if (!body.includes('carameloaiChatbot')) return 'no chatbot'
  return undefined
}

const children = new BenchChildren()

/** Every mode's timelines for one scenario, from servers started for it alone. */
async function runScenario(scenario: Scenario, vendors: Vendors): Promise<Record<Mode, Timeline[]>> {
  await vendors.setLatency(scenario.latencyMs)
  const servers = await Promise.all(
    MODES.map(async (mode) => {
      const logFile = path.join(LOG_DIR, `streaming-${mode}-${scenario.name.replace(/\W+/g, '-')}.log`)
      const server = await startServer([SERVER_ENTRY], { ...serverEnv(vendors), EMBEDS_STREAM: mode }, logFile)
      children.servers.add(server)
      return { mode, server, agent: new Agent({ keepAlive: true, maxSockets: 1 }), cookie: await login(server.url) }
    }),
  )
  const timelines: Record<Mode, Timeline[]> = { 'out-of-order': [], 'in-order': [], off: [] }
  try {
    // Warm: the JIT, the connection, the widget-page cache — with every vendor answering.
    for (let i = 0; i < WARMUP_PAGES; i++) {
      for (const s of servers) await timePage(s.server, s.agent, s.cookie, s.mode, { ...scenario, hang: false })
    }
    if (scenario.hang) await vendors.setLatency(HANG_MS, 'returning')
    for (let round = 0; round < scenario.pages; round++) {
      for (let k = 0; k < servers.length; k++) {
        const s = servers[(round + k) % servers.length]
        if (!s) continue
        timelines[s.mode].push(await timePage(s.server, s.agent, s.cookie, s.mode, scenario))
      }
    }
  } finally {
    await vendors.setLatency(0)
    for (const s of servers) {
      s.agent.destroy()
      await s.server.stop()
      children.servers.delete(s.server)
    }
  }
  return timelines
}

/** The value at quantile `q` of `values` (nearest rank). */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN
}

function printTable(results: [Scenario, Record<Mode, Timeline[]>][], loadAtStart: number[], startedAt: number): void {
  const load = (l: number[]) => l.map((n) => n.toFixed(2)).join(' / ')
  const ms = (n: number) => `${n < 10 ? n.toFixed(1) : Math.round(n)} ms`
  const both = (values: number[]) => `${ms(quantile(values, 0.5))} (${ms(quantile(values, 0.95))})`
  const ratio = (n: number, of: number) => `${n / of < 0.1 ? (n / of).toPrecision(2) : (n / of).toFixed(2)}×`
  console.log(`Machine: nproc ${os.cpus().length}, node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'}.`)
  console.log(`Load average (1/5/15 min) at start ${load(loadAtStart)}, at end ${load(os.loadavg())}.`)
  console.log(
    `One page at a time, the three modes' servers in turn; ${WARMUP_PAGES} warm-up pages per server, then ` +
      `${SCENARIOS.map((s) => `${s.pages} at ${s.name}`).join(', ')}; run took ${Math.round((Date.now() - startedAt) / 1000)} s.\n`,
  )
  console.log(
    'p50 (p95). First byte and complete page: from the request. Footer: when `<footer` arrived, from the ' +
      'first byte and from the request (what a user waits for; the ratio is of this one).\n',
  )
  console.log(
    '| vendors | mode | first byte | footer after first byte | footer after request | complete page | footer vs in order | page vs in order |',
  )
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const [scenario, timelines] of results) {
    const base = timelines['in-order']
    for (const mode of MODES) {
      const t = timelines[mode]
      const of = (key: keyof Timeline) => t.map((x) => x[key])
      const seen = (list: Timeline[]) => list.map((x) => x.firstByte + x.footer)
      const p50 = (values: number[]) => quantile(values, 0.5)
      console.log(
        `| ${scenario.name} | ${MODE_NAMES[mode]} | ${both(of('firstByte'))} | ${both(of('footer'))} | ` +
          `${both(seen(t))} | ${both(of('complete'))} | ${ratio(p50(seen(t)), p50(seen(base)))} | ` +
          `${ratio(p50(of('complete')), p50(base.map((x) => x.complete)))} |`,
      )
    }
  }
  const get = (name: string) => results.find(([s]) => s.name === name)?.[1]
  const slow = get('300 ms')
  const hang = get('proxy vendor hangs')
  if (!slow || !hang) return
  const p50 = (t: Timeline[], key: keyof Timeline) =>
    quantile(
      t.map((x) => x[key]),
      0.5,
    )
  const verdict = (ok: boolean) => `**${ok ? 'met' : 'missed'}**`
  const footer300 = p50(slow['out-of-order'], 'footer')
  const footerHang = p50(hang['out-of-order'], 'footer')
  const pageHang = p50(hang['out-of-order'], 'complete')
  console.log(
    `\n- Vendors at 300 ms, out of order: footer ${ms(footer300)} after the first byte (target < 30 ms) — ` +
      `${verdict(footer300 < 30)}; complete page ${ratio(p50(slow['out-of-order'], 'complete'), p50(slow['in-order'], 'complete'))} ` +
      `in order's (target: unchanged).`,
  )
  console.log(
    `- Proxy vendor hanging, out of order: footer ${ms(footerHang)} after the first byte (target < 30 ms) — ` +
      `${verdict(footerHang < 30)}; page complete at ${ms(pageHang)} (the deadline is ${DEADLINE_MS} ms).`,
  )
}

async function main(): Promise<void> {
  const startedAt = Date.now()
  const loadAtStart = os.loadavg()
  ensureBuild()
  children.guard(WATCHDOG_MS)
  mkdirSync(LOG_DIR, { recursive: true })
  const vendors = await children.startVendors()
  const results: [Scenario, Record<Mode, Timeline[]>][] = []
  try {
    for (const scenario of SCENARIOS) {
      console.error(`[bench] ${scenario.name}…`)
      results.push([scenario, await runScenario(scenario, vendors)])
    }
  } finally {
    await vendors.close()
  }
  printTable(results, loadAtStart, startedAt)
}

await main()
