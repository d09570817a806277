/**
 * What rewriting a widget page costs (`npm run bench:pages`): the token put
 * into its placeholder, `<base href>` and the nonce added, the result escaped
 * for `srcdoc` — synchronous work no deadline can stop (issue 9, hole 2). Each
 * adversarial 1 MB page of the load suite against a plain 1 MB page of the
 * same size; a ratio near 1 means the shape costs nothing extra. Printed,
 * never asserted (STYLE rule 11).
 */
import os from 'node:os'
import { Bench } from 'tinybench'
import { HOSTILE_PAGES, widgetPageOf } from '../load/hostile-pages.ts'
import { escapeHtml } from '../plugin/runtime/encode.ts'
import { headTagEnd, injectToken, withBaseAndNonce } from '../plugin/vendors/returning/page.ts'

const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJlbWFpbCI6ImFsaWNlQGV4YW1wbGUuY29tIn0.c2lnbmF0dXJl'
const NONCE = 'bm9uY2UtZm9yLXRoZS1iZW5jaA=='
const BASELINE = 'plain 1 MB page (`<p>` paragraphs)'

function rewrite(page: string): string {
  return escapeHtml(withBaseAndNonce(injectToken(page, TOKEN), 'https://widgets.vendor.test/store/w1', NONCE))
}

const pages: [string, string][] = [[BASELINE, widgetPageOf('<p>Lorem ipsum dolor sit amet.</p>\n')], ...HOSTILE_PAGES]
const bench = new Bench({ time: 1000, warmupTime: 200 })
for (const [name, page] of pages) bench.add(name, () => void rewrite(page))

const load = os.loadavg().map((n) => n.toFixed(2))
await bench.run()
const mean = (name: string): number => bench.getTask(name)?.result?.latency?.mean ?? Number.NaN
const base = mean(BASELINE)

console.log(`## Widget page rewrite, 1 MB pages (${new Date().toISOString()})\n`)
console.log(
  `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load ${load.join(' / ')}\n`,
)
console.log('| page | mean | ratio to the plain page | output size |')
console.log('| --- | --: | --: | --: |')
for (const [name, page] of pages) {
  const ms = mean(name)
  const size = (rewrite(page).length / 1e6).toFixed(1)
  console.log(`| ${name} | ${ms.toFixed(2)} ms | ${(ms / base).toFixed(2)}× | ${size} MB |`)
}

// The pattern this replaced, `/<head\b[^>]*>/i`, on the first shape cut to a
// few sizes: one run each (it is quadratic, so a 1 MB page would take
// minutes), against `headTagEnd`, the linear search that replaced it.
const OLD_HEAD = /<head\b[^>]*>/i
const manyHeads = HOSTILE_PAGES[0]?.[1] ?? ''
const once = (run: () => void): number => {
  const started = performance.now()
  run()
  return performance.now() - started
}
console.log(`\n### \`<head\` search on "${HOSTILE_PAGES[0]?.[0] ?? ''}", cut to size\n`)
console.log('| size | before: `/<head\\b[^>]*>/i` | now: `headTagEnd` | ratio |')
console.log('| --: | --: | --: | --: |')
for (const kb of [25, 50, 100]) {
  const page = manyHeads.slice(0, kb * 1000)
  const before = once(() => OLD_HEAD.exec(page))
  const now = once(() => headTagEnd(page))
  console.log(`| ${kb} KB | ${before.toFixed(1)} ms | ${now.toFixed(3)} ms | ${Math.round(before / now)}× |`)
}
