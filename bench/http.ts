/**
 * `npm run bench` — pages over HTTP (issue 6): what the directives cost a real
 * server, and how the runtime compares with the vendors' flows written by hand.
 * Prints a markdown table; nothing is asserted (STYLE rule 10) — BENCHMARKS.md
 * keeps a run and reads it.
 *
 * One run, this process orchestrating, everything on 127.0.0.1:
 * - the vendor stubs in one child process (bench/vendors.ts), latency 0 then 50 ms;
 * - per cell, a fresh server process (so its peak RSS is that cell's):
 *   (a) the production demo's `GET /login` — same layout, no directive, no vendor: the floor;
 *   (b) the production demo's `GET /` as alice (logged in once per cell): its proxy widget, lazy
 *       proxy widget, Widget SDK widget and chatbot, every vendor at the stubs' process (the
 *       server is given every vendor's secret, so it starts no local stub of its own);
 *   (c) bench/handwritten.ts: the same vendor work as (b)'s page, the vendors' sample flows,
 *       sequential `fetch`, nothing cached.
 * - autocannon as the load generator: fixed connections, a short warm-up, then
 *   a fixed duration. Every loop here ends by count or by time.
 *
 * `--cpu-prof=DIR` runs every server under `node --cpu-prof` and leaves the
 * profiles in DIR (open them in Chrome DevTools).
 *
 * `--redis` adds (r): (b) with `REDIS_URL` at a redis-server this run starts on
 * loopback (the test harness's, persistence off), emptied before each cell, so
 * the cost of sharing state through Redis (issue 11) sits beside (b).
 *
 * `--pairs=N` measures that cost alone, more finely: N rounds of (b) and (r)
 * at 50 ms vendor latency, back to back, the order swapped every round so a
 * machine that gets busier or quieter weighs on both alike. It prints each
 * round's p50 difference and their median (one cell's p50 moves by a few ms
 * from run to run on a shared 2-core machine; the median of paired rounds
 * does not).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import ts from 'typescript'
import { load, percentile, type Load } from './load.ts'
import {
  machineBusyMs,
  procStats,
  startServer,
  type ProcStats,
  type ServerProcess,
  BenchChildren,
} from './processes.ts'
import type { VendorCounts, Vendors } from './vendors.ts'
import { ensureBuild, LOG_DIR, login, ROOT, SERVER_ENTRY, serverEnv } from './demo.ts'
import { RedisServer } from '../plugin/runtime/store/test-helpers.ts'
import { printReport, type Cell, type Subject } from './report.ts'

const CONNECTIONS = 10
const WARMUP_S = 1
const DURATION_S = 5
const LATENCIES_MS = [0, 50]
const pairsArg = process.argv.find((a) => a.startsWith('--pairs='))?.slice('--pairs='.length)
const PAIRS = pairsArg === undefined ? 0 : Number(pairsArg)
if (!Number.isInteger(PAIRS) || PAIRS < 0 || PAIRS > 20) throw new Error('--pairs=N takes N from 1 to 20')
const PAIRS_LATENCY_MS = 50
const withRedis = PAIRS > 0 || process.argv.includes('--redis')
const SUBJECTS: Subject[] = withRedis ? ['a', 'b', 'r', 'c'] : ['a', 'b', 'c']
/** The whole run normally takes about a minute (a pair about 16 s); past this something hangs. */
const WATCHDOG_MS = 240_000 + PAIRS * 40_000

const cpuProfDir = process.argv.find((a) => a.startsWith('--cpu-prof='))?.slice('--cpu-prof='.length)

/** bench/handwritten.ts as plain JavaScript, so (c) runs under bare `node` like the production build. */
function transpileHandwritten(): string {
  const source = readFileSync(path.join(ROOT, 'bench', 'handwritten.ts'), 'utf8')
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023 },
    fileName: 'handwritten.ts',
  })
  // Inside node_modules/, so that `import 'koa'` resolves from the project.
  const file = path.join(LOG_DIR, 'handwritten.mjs')
  writeFileSync(file, outputText)
  return file
}

function nodeArgs(entry: string, subject: Subject, latencyMs: number): string[] {
  if (!cpuProfDir) return [entry]
  return ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=${subject}-${latencyMs}ms.cpuprofile`, entry]
}

interface Target {
  url: string
  headers: Record<string, string>
  /** Size of one answer's body. */
  bytes: number
}

/** Fails loudly unless the page is what the cell claims to measure (a fallback would make (b) look cheap). */
async function target(subject: Subject, server: ServerProcess, vendors: Vendors): Promise<Target> {
  const headers: Record<string, string> = subject === 'b' || subject === 'r' ? { cookie: await login(server.url) } : {}
  const url = `${server.url}${subject === 'a' ? '/login' : '/'}`
  const answer = await fetch(url, { headers, redirect: 'manual' })
  const body = await answer.text()
  const withEmbeds =
    body.includes(' srcdoc="') &&
    body.includes('token: &quot;ey') &&
    body.includes(' loading="lazy" src="') &&
    /<rai-currency-widget [^>]*embed-token="ey/.test(body) &&
    body.split(`src="${vendors.returningSdkUrl}"`).length === 2 && // the SDK script, once
    body.includes('carameloaiChatbot')
  const ok =
    subject === 'a'
      ? body.includes('action="/login"') && !body.includes('<iframe') && !body.includes('<rai-')
      : withEmbeds
  if (answer.status !== 200 || !ok) throw new Error(`(${subject}) ${url} is not the expected page:\n${body}`)
  return { url, headers, bytes: Buffer.byteLength(body) }
}

function countFailures(logFile: string): number {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((line) => /"level":(40|50|60)\b/.test(line)).length
}

/** What the counters say at one instant; two of them bound the measured window. */
interface Snapshot {
  counts: VendorCounts
  server: ProcStats
  stubs: ProcStats
  bench: NodeJS.CpuUsage
  machineMs: number
}

async function snapshot(server: ServerProcess, vendors: Vendors): Promise<Snapshot> {
  return {
    counts: await vendors.counts(),
    server: procStats(server.pid),
    stubs: procStats(vendors.pid),
    bench: process.cpuUsage(),
    machineMs: machineBusyMs(),
  }
}

async function runCell(
  subject: Subject,
  latencyMs: number,
  vendors: Vendors,
  handwritten: string,
  redis: RedisServer | undefined,
): Promise<Cell> {
  await vendors.setLatency(latencyMs)
  const entry = subject === 'c' ? handwritten : SERVER_ENTRY
  const logFile = path.join(LOG_DIR, `${subject}-${latencyMs}ms.log`)
  let redisUrl: string | undefined
  if (subject === 'r') {
    if (!redis) throw new Error('(r) needs the redis-server that --redis starts')
    // Empty for each cell: nothing one cell cached is found by the next.
    await redis.restart()
    redisUrl = redis.url
  }
  const server = await startServer(nodeArgs(entry, subject, latencyMs), serverEnv(vendors, redisUrl), logFile)
  children.servers.add(server)
  try {
    const startRssKiB = procStats(server.pid).rssKiB
    const page = await target(subject, server, vendors)
    await load(page.url, page.headers, CONNECTIONS, WARMUP_S)
    // Renders still in flight when a load stops may yet call a vendor: let them land.
    const settle = 3 * latencyMs + 100
    await sleep(settle)
    const before = await snapshot(server, vendors)
    const run = await load(page.url, page.headers, CONNECTIONS, DURATION_S)
    const after = await snapshot(server, vendors)
    await sleep(settle)
    const counts = await vendors.counts()
    return {
      ...toCell(subject, latencyMs, run, before, after),
      // Per request sent: those still in flight at the end called the vendors too.
      vendorCalls: perView(before.counts, counts, run.sent),
      startRssMiB: startRssKiB / 1024,
      bytes: page.bytes,
      failuresLogged: subject === 'c' ? 0 : countFailures(logFile),
    }
  } finally {
    await server.stop()
    children.servers.delete(server)
  }
}

function toCell(
  subject: Subject,
  latencyMs: number,
  run: Load,
  before: Snapshot,
  after: Snapshot,
): Omit<Cell, 'vendorCalls' | 'startRssMiB' | 'bytes' | 'failuresLogged'> {
  const benchUs = after.bench.user + after.bench.system - (before.bench.user + before.bench.system)
  return {
    subject,
    latencyMs,
    rps: run.responses / run.seconds,
    p50: percentile(run.latencies, 0.5),
    p99: percentile(run.latencies, 0.99),
    non2xx: run.non2xx,
    errors: run.errors,
    responses: run.responses,
    peakRssMiB: after.server.peakRssKiB / 1024,
    cpu: cpuShares(run.seconds * 1000, {
      server: after.server.cpuMs - before.server.cpuMs,
      stubs: after.stubs.cpuMs - before.stubs.cpuMs,
      bench: benchUs / 1000,
      machine: after.machineMs - before.machineMs,
    }),
  }
}

/** CPU time as fractions of one core; `other` is what the rest of the machine used meanwhile. */
function cpuShares(wallMs: number, ms: { server: number; stubs: number; bench: number; machine: number }): Cell['cpu'] {
  const ours = ms.server + ms.stubs + ms.bench
  return {
    server: ms.server / wallMs,
    stubs: ms.stubs / wallMs,
    bench: ms.bench / wallMs,
    other: Math.max(0, ms.machine - ours) / wallMs,
  }
}

function perView(before: VendorCounts, after: VendorCounts, views: number): Cell['vendorCalls'] {
  return {
    returning: (after.returning - before.returning) / views,
    returningSdk: (after.returningSdk - before.returningSdk) / views,
    caramelo: (after.caramelo - before.caramelo) / views,
  }
}

const children = new BenchChildren()

async function main(): Promise<void> {
  const startedAt = Date.now()
  const loadAtStart = os.loadavg()
  ensureBuild()
  // Armed after the build, which has its own time limit and blocks this loop anyway.
  children.guard(WATCHDOG_MS)
  mkdirSync(LOG_DIR, { recursive: true })
  if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true })
  const handwritten = transpileHandwritten()
  const vendors = await children.startVendors()
  // The harness kills its redis-server when this process exits, whatever the way.
  const redis = withRedis ? await RedisServer.start() : undefined
  const cells: Cell[] = []
  try {
    if (PAIRS > 0) {
      for (let round = 0; round < PAIRS; round++) {
        const order: Subject[] = round % 2 === 0 ? ['b', 'r'] : ['r', 'b']
        for (const subject of order) {
          console.error(`[bench] round ${round + 1}/${PAIRS}: (${subject}) at ${PAIRS_LATENCY_MS} ms vendor latency…`)
          cells.push(await runCell(subject, PAIRS_LATENCY_MS, vendors, handwritten, redis))
        }
      }
      printPairs(cells, loadAtStart, startedAt)
      return
    }
    for (const latencyMs of LATENCIES_MS) {
      for (const subject of SUBJECTS) {
        console.error(`[bench] (${subject}) at ${latencyMs} ms vendor latency…`)
        cells.push(await runCell(subject, latencyMs, vendors, handwritten, redis))
      }
    }
  } finally {
    await vendors.close()
    await redis?.dispose()
  }
  printReport(cells, {
    connections: CONNECTIONS,
    warmupS: WARMUP_S,
    durationS: DURATION_S,
    loadAtStart,
    loadAtEnd: os.loadavg(),
    seconds: (Date.now() - startedAt) / 1000,
  })
}

/** `--pairs`: one row per round, then the medians. */
function printPairs(cells: Cell[], loadAtStart: number[], startedAt: number): void {
  const of = (subject: Subject) => cells.filter((c) => c.subject === subject)
  const [b, r] = [of('b'), of('r')]
  const cpu = (c: Cell) => (c.cpu.server * 1000) / c.rps
  const ms = (n: number) => `${n >= 0 ? '+' : ''}${n.toFixed(2)} ms`
  const load = (l: number[]) => l.map((n) => n.toFixed(2)).join(' / ')
  const median = (values: number[]) => {
    const sorted = [...values].sort((x, y) => x - y)
    const mid = sorted.length / 2
    return Number.isInteger(mid) ? ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2 : (sorted[Math.floor(mid)] ?? 0)
  }
  const rows = b.map((bc, i) => {
    const rc = r[i]
    if (!rc) throw new Error(`round ${i + 1} has no (r) cell`)
    return { bc, rc, p50: rc.p50 - bc.p50, cpu: cpu(rc) - cpu(bc) }
  })
  console.log(`Machine: nproc ${os.cpus().length}, node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'}.`)
  console.log(`Load average (1/5/15 min) at start ${load(loadAtStart)}, at end ${load(os.loadavg())}.`)
  console.log(
    `${PAIRS} rounds of (b) and (r) at ${PAIRS_LATENCY_MS} ms vendor latency, order swapped each round; ` +
      `${CONNECTIONS} connections, ${WARMUP_S} s warm-up then ${DURATION_S} s per cell; ` +
      `run took ${Math.round((Date.now() - startedAt) / 1000)} s.\n`,
  )
  console.log(
    '| round | first | p50 (b) | p50 (r) | p50 (r) − (b) | CPU / view (r) − (b) | CPU other, (b) / (r) | non-2xx |',
  )
  console.log('| ---: | :---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const [i, { bc, rc, p50, cpu: c }] of rows.entries()) {
    console.log(
      `| ${i + 1} | (${i % 2 === 0 ? 'b' : 'r'}) | ${bc.p50.toFixed(1)} ms | ${rc.p50.toFixed(1)} ms | ${ms(p50)} | ${ms(c)} | ` +
        `${Math.round(bc.cpu.other * 100)}% / ${Math.round(rc.cpu.other * 100)}% | ${bc.non2xx + rc.non2xx} |`,
    )
  }
  const p50 = median(rows.map((row) => row.p50))
  console.log(`| median | | | | **${ms(p50)}** | ${ms(median(rows.map((row) => row.cpu)))} | | |`)
  console.log(
    `\n- At ${PAIRS_LATENCY_MS} ms, Redis adds ≤ 2 ms to the p50 of (b), median of ${PAIRS} rounds: ${ms(p50)} — ` +
      `**${p50 <= 2 ? 'met' : 'missed'}**`,
  )
}

await main()
