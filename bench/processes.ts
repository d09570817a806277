/**
 * Child processes for `npm run bench`: a server started on a free loopback
 * port with its output going straight to a log file (so neither a pipe nor the
 * bench process's CPU sits in its way), waited for, measured through /proc,
 * and stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { startVendors, type Vendors } from './vendors.ts'

/** A server under test. */
export interface ServerProcess {
  pid: number
  url: string
  /** Where its stdout and stderr went. */
  logFile: string
  stop(): Promise<void>
}

const START_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 5_000

/** A port free on 127.0.0.1 right now (the kernel picks it; the tiny race is harmless on loopback). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      const port = typeof address === 'object' && address ? address.port : 0
      probe.close(() => resolve(port))
    })
  })
}

/**
 * Runs `node args…` with `env` (plus HOST and PORT) and resolves once it
 * answers HTTP on `probePath` (any status counts: it listens).
 */
export async function startServer(
  args: string[],
  env: Record<string, string>,
  logFile: string,
  probePath = '/healthz',
): Promise<ServerProcess> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const fd = openSync(logFile, 'w')
  const child = spawn(process.execPath, args, {
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      ...env,
      HOST: '127.0.0.1',
      PORT: `${port}`,
    },
    stdio: ['ignore', fd, fd],
  })
  closeSync(fd)
  const stop = (): Promise<void> => stopChild(child)
  try {
    await waitListening(child, `${url}${probePath}`, logFile)
  } catch (error) {
    await stop()
    throw error
  }
  return { pid: child.pid ?? 0, url, logFile, stop }
}

async function waitListening(child: ChildProcess, probe: string, logFile: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`${probe}: the server exited with ${child.exitCode}:\n${readFileSync(logFile, 'utf8')}`)
    }
    try {
      const answer = await fetch(probe, { signal: AbortSignal.timeout(1000) })
      await answer.arrayBuffer()
      return
    } catch {
      await sleep(50)
    }
  }
  throw new Error(`${probe}: no answer in ${START_TIMEOUT_MS / 1000} s:\n${readFileSync(logFile, 'utf8')}`)
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
  await exited
  clearTimeout(timer)
}

/** What /proc says about a process: CPU time used so far, its resident set now and at its peak. */
export interface ProcStats {
  /** User + system CPU time in milliseconds. */
  cpuMs: number
  /** VmRSS: the resident set size now, in KiB. */
  rssKiB: number
  /** VmHWM: the highest resident set size so far, in KiB. */
  peakRssKiB: number
}

/** Clock ticks per second of /proc/<pid>/stat; 100 on every Linux this runs on (`getconf CLK_TCK`). */
const CLK_TCK = 100

export function procStats(pid: number): ProcStats {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12]) // utime, stime (fields 14 and 15)
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN)
  return { cpuMs: (ticks * 1000) / CLK_TCK, rssKiB: kib('VmRSS'), peakRssKiB: kib('VmHWM') }
}

/**
 * CPU time the whole machine has spent busy so far (all cores; steal included,
 * since a neighbour VM's time is interference too), in milliseconds.
 */
export function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
  const ticks = [user, nice, system, irq, softirq, steal].reduce<number>((sum, n) => sum + (n ?? 0), 0)
  return (ticks * 1000) / CLK_TCK
}

/**
 * The child processes one bench run started (its servers and the vendor
 * stubs' process), so that a run that hangs past its watchdog, or is
 * interrupted, kills them and only them instead of leaving them behind.
 */
export class BenchChildren {
  readonly servers = new Set<ServerProcess>()
  private vendorsPid = 0

  /** Starts the vendor stubs' process, known from then on to `killAll`. */
  async startVendors(): Promise<Vendors> {
    const vendors = await startVendors()
    this.vendorsPid = vendors.pid
    return vendors
  }

  /** SIGKILLs every child still known, whatever state it is in. */
  killAll(): void {
    for (const pid of [...[...this.servers].map((server) => server.pid), this.vendorsPid]) {
      try {
        if (pid) process.kill(pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
  }

  /** After `watchdogMs` (exit 2), or on SIGINT/SIGTERM (exit 130): kills the children and exits. */
  guard(watchdogMs: number): void {
    const watchdog = setTimeout(() => {
      console.error(`[bench] still running after ${watchdogMs / 1000} s: giving up`)
      this.killAll()
      process.exit(2)
    }, watchdogMs)
    watchdog.unref()
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        this.killAll()
        process.exit(130)
      })
    }
  }
}
