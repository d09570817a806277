/**
 * The markdown `npm run bench` prints: the machine, one table of the cells,
 * the ratios, and the issue's goals held against the figures. Printed, never
 * asserted (STYLE rule 10).
 */
import os from 'node:os'

/**
 * (a) the floor, (b) the demo's home page with its directives, (r) the same
 * page with `REDIS_URL` (`--redis`), (c) the same vendor flows written by hand.
 */
export type Subject = 'a' | 'b' | 'r' | 'c'

/** One page at one vendor latency. */
export interface Cell {
  subject: Subject
  latencyMs: number
  /** Responses per second over the measured window. */
  rps: number
  /** Latency percentiles of the 2xx answers, ms. */
  p50: number
  p99: number
  non2xx: number
  /** Connection errors and timeouts. */
  errors: number
  responses: number
  /**
   * Vendor calls per page view: requests to the Returning.AI proxy stub,
   * embed tokens minted by the Widget SDK stub, requests to the Caramelo stub.
   */
  vendorCalls: { returning: number; returningSdk: number; caramelo: number }
  /** VmRSS of the server process once it listens. */
  startRssMiB: number
  /** VmHWM of the server process over its whole life (start, warm-up, load). */
  peakRssMiB: number
  /**
   * CPU time during the measured window, as a fraction of one core: the
   * server, the stubs' process, this process (autocannon), and every other
   * process on the machine (noise from outside the benchmark).
   */
  cpu: { server: number; stubs: number; bench: number; other: number }
  /** One answer's body size. */
  bytes: number
  /** Warn/error lines in the server's log: vendor failures that became fallbacks. */
  failuresLogged: number
}

export interface RunInfo {
  connections: number
  warmupS: number
  durationS: number
  loadAtStart: number[]
  loadAtEnd: number[]
  seconds: number
}

const LABELS: Record<Subject, string> = {
  a: '(a) demo `GET /login`: same layout, no directive',
  b: '(b) demo `GET /` as alice: `<<widget>>` (proxy, lazy proxy, sdk) + `<<caramelo>>`',
  r: '(r) = (b) with `REDIS_URL` (redis-server on loopback)',
  c: '(c) hand-written flows (bench/handwritten.ts)',
}

const fixed = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a')
const percent = (n: number): string => `${Math.round(n * 100)}%`
const loads = (l: number[]): string => l.map((n) => n.toFixed(2)).join(' / ')

function row(cell: Cell): string {
  const { returning, returningSdk, caramelo } = cell.vendorCalls
  const calls = returning + returningSdk + caramelo
  return [
    LABELS[cell.subject],
    `${cell.latencyMs} ms`,
    Math.round(cell.rps).toLocaleString('en-US'),
    `${fixed(cell.p50)} ms`,
    `${fixed(cell.p99)} ms`,
    `${cell.non2xx}${cell.errors ? ` (+${cell.errors} errors)` : ''}`,
    `${fixed(calls, 2)} (${[returning, returningSdk, caramelo].map((n) => fixed(n, 2)).join(' + ')})`,
    `${fixed(cell.startRssMiB, 0)} → ${fixed(cell.peakRssMiB, 0)} MiB`,
    `${fixed((cell.cpu.server * 1000) / cell.rps, 2)} ms`,
    [cell.cpu.server, cell.cpu.stubs, cell.cpu.bench, cell.cpu.other].map(percent).join(' / '),
  ].join(' | ')
}

function find(cells: Cell[], subject: Subject, latencyMs: number): Cell | undefined {
  return cells.find((c) => c.subject === subject && c.latencyMs === latencyMs)
}

function ratios(cells: Cell[], latencies: number[]): string[] {
  const lines = [
    '| ratio | ' + latencies.map((ms) => `${ms} ms`).join(' | ') + ' |',
    '| --- |' + ' ---: |'.repeat(latencies.length),
  ]
  const pairs: [string, Subject, Subject, 'rps' | 'p50'][] = [
    ['throughput (b)/(a)', 'b', 'a', 'rps'],
    ['p50 (b)/(a)', 'b', 'a', 'p50'],
    ['throughput (b)/(c)', 'b', 'c', 'rps'],
    ['p50 (b)/(c)', 'b', 'c', 'p50'],
  ]
  for (const [name, x, y, key] of pairs) {
    const values = latencies.map((ms) => {
      const [cx, cy] = [find(cells, x, ms), find(cells, y, ms)]
      return cx && cy ? `${fixed(cx[key] / cy[key], 2)}×` : 'n/a'
    })
    lines.push(`| ${name} | ${values.join(' | ')} |`)
  }
  if (cells.some((c) => c.subject === 'r')) lines.push(...redisCost(cells, latencies))
  return lines
}

/** What Redis adds to (b): p50 and server CPU per view, as differences. */
function redisCost(cells: Cell[], latencies: number[]): string[] {
  const diff = (f: (c: Cell) => number): string =>
    latencies
      .map((ms) => {
        const [r, b] = [find(cells, 'r', ms), find(cells, 'b', ms)]
        return r && b ? `${f(r) - f(b) >= 0 ? '+' : ''}${fixed(f(r) - f(b), 2)} ms` : 'n/a'
      })
      .join(' | ')
  return [
    `| p50 (r) − (b) | ${diff((c) => c.p50)} |`,
    `| server CPU / view (r) − (b) | ${diff((c) => (c.cpu.server * 1000) / c.rps)} |`,
  ]
}

function goals(cells: Cell[]): string[] {
  const [a0, b0, b50, c50] = [find(cells, 'a', 0), find(cells, 'b', 0), find(cells, 'b', 50), find(cells, 'c', 50)]
  if (!a0 || !b0 || !b50 || !c50) return ['(goals need the cells at 0 and 50 ms)']
  const verdict = (met: boolean): string => (met ? '**met**' : '**missed**')
  const limit = 50 * 1.1 + 5
  const r50 = find(cells, 'r', 50)
  const redis = r50
    ? [
        `- At 50 ms, Redis adds ≤ 2 ms to the p50 of (b): ${fixed(r50.p50)} vs ${fixed(b50.p50)} ms = ` +
          `${fixed(r50.p50 - b50.p50, 2)} ms — ${verdict(r50.p50 - b50.p50 <= 2)}`,
      ]
    : []
  return [
    `- At 50 ms vendor latency, p50 of (b) ≤ 50 ms × 1.1 + 5 ms = ${fixed(limit)} ms: ${fixed(b50.p50)} ms — ${verdict(b50.p50 <= limit)}`,
    `- At 50 ms, (b) ≥ 2× the throughput of (c): ${Math.round(b50.rps)} vs ${Math.round(c50.rps)} req/s = ${fixed(b50.rps / c50.rps, 2)}× — ${verdict(b50.rps >= 2 * c50.rps)}`,
    `- At 0 ms, (b) ≥ ½ the throughput of (a): ${Math.round(b0.rps)} vs ${Math.round(a0.rps)} req/s = ${fixed(b0.rps / a0.rps, 2)}× — ${verdict(b0.rps >= a0.rps / 2)}`,
    ...redis,
  ]
}

/** Prints the run as markdown on stdout. */
export function printReport(cells: Cell[], run: RunInfo): void {
  const latencies = [...new Set(cells.map((c) => c.latencyMs))]
  const cpu = os.cpus()[0]?.model ?? 'unknown'
  const out = [
    `Machine: nproc ${os.availableParallelism()}, node ${process.version}, CPU ${cpu}, ${os.platform()} ${os.arch()}.`,
    `Load average (1/5/15 min) at start ${loads(run.loadAtStart)}, at end ${loads(run.loadAtEnd)}.`,
    `${run.connections} connections, ${run.warmupS} s warm-up then ${run.durationS} s per cell; run took ${fixed(run.seconds, 0)} s.`,
    '',
    '| page | vendor latency | req/s | p50 | p99 | non-2xx | vendor calls / view (Returning proxy + Returning SDK + Caramelo) | server RSS: idle → peak | server CPU / view | CPU: server / stubs / bench / other |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...cells.map((cell) => `| ${row(cell)} |`),
    '',
    ...ratios(cells, latencies),
    '',
    ...goals(cells),
    '',
    `Page sizes: ${(['a', 'b', 'r', 'c'] as const)
      .filter((s) => find(cells, s, 0))
      .map((s) => `(${s}) ${find(cells, s, 0)?.bytes ?? 'n/a'} B`)
      .join(', ')}. Vendor failures logged by the demo (fallbacks served): ${cells
      .map((c) => c.failuresLogged)
      .reduce((x, y) => x + y, 0)}.`,
  ]
  console.log(out.join('\n'))
}
