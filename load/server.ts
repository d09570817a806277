/**
 * The production demo server as a child process, for the load suite: started
 * from `dist/` with an environment of the test's choosing (nothing inherited
 * but PATH and HOME, so a developer's shell or `.env` cannot change a run),
 * its output kept line by line, its memory readable from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { collectLines } from '../e2e/stack.ts'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/**
 * Values that must never appear in a log line or a page (SPEC invariant 1).
 * Distinct from the e2e suite's, so a hit names the suite that leaked it.
 */
export const CANARIES = {
  apiKey: 'load-canary-api-key-3c9e51a7d0f2',
  accessKey: 'load-canary-access-key-e5a1f08c7b34',
  secretToken: 'load-canary-secret-token-a84b0e6d1c57',
  sessionKey: 'load-canary-session-key-6f02d9b3e8a1',
  metricsToken: 'load-canary-metrics-token-2b7e94c0d5a3',
} as const

export const COMMUNITY_ID = 'load-community'
export const ACCESS_ID = 'load-access-id'
export const PROJECT_ID = 'load-project'
export const WIDGET_ID = 'load-store'
export const PASSWORD = 'load-password'

/** Where the server's vendors are: Returning.AI's two flows and Caramelo. */
export interface VendorUrls {
  returning: string
  returningSdkApi: string
  returningSdkScript: string
  carameloApi: string
  carameloSdk: string
}

/**
 * The environment of a production server whose vendors are at `vendors`,
 * with the canary secrets. Every built-in vendor has its secret set, so the
 * server starts none of its own stubs: each call goes where the test says.
 */
export function serverEnv(vendors: VendorUrls, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '',
    HOST: '127.0.0.1',
    PORT: '0',
    SESSION_KEYS: CANARIES.sessionKey,
    DEMO_PASSWORD: PASSWORD,
    WIDGET_BASE_URL: vendors.returning,
    WIDGET_API_KEY: CANARIES.apiKey,
    WIDGET_COMMUNITY_ID: COMMUNITY_ID,
    WIDGET_ID,
    WIDGET_TYPE: 'store',
    RAI_V2_API_URL: vendors.returningSdkApi,
    RAI_SDK_URL: vendors.returningSdkScript,
    RAI_ACCESS_ID: ACCESS_ID,
    RAI_ACCESS_KEY: CANARIES.accessKey,
    CARAMELO_API_URL: vendors.carameloApi,
    CARAMELO_SDK_URL: vendors.carameloSdk,
    CARAMELO_PROJECT_ID: PROJECT_ID,
    CARAMELO_SECRET_TOKEN: CANARIES.secretToken,
    METRICS_TOKEN: CANARIES.metricsToken,
    ...extra,
  }
}

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface ServerProcess {
  url: string
  port: number
  pid: number
  /** Every line the server wrote to stdout and stderr so far. */
  logs: string[]
  /** Resolves once the process has exited and all its output has been read. */
  exited: Promise<Exit>
  /** Sends a signal (the test drives shutdown itself). */
  kill(signal: NodeJS.Signals): void
  /** The server's resident set size now, in bytes (VmRSS). */
  rssBytes(): Promise<number>
  /**
   * Waits for the process to exit, sending SIGKILL if it is still running
   * after `graceMs`. Resolves with how it exited; `killed` says the SIGKILL was needed.
   */
  exitWithin(graceMs: number): Promise<Exit & { killed: boolean }>
  /** SIGTERM, then `exitWithin(graceMs)`. @default graceMs 15000 */
  stop(graceMs?: number): Promise<Exit & { killed: boolean }>
}

/** What `startServer` outputs before it listens, for a start that fails. */
export class ServerStartError extends Error {
  constructor(
    message: string,
    readonly exit: Exit | undefined,
    readonly logs: string[],
  ) {
    super(message)
    this.name = 'ServerStartError'
  }
}

/**
 * Starts `node [nodeArgs] dist/node/server/main.js`; resolves once it prints
 * where it listens.
 */
export function startServer(env: Record<string, string>, nodeArgs: string[] = []): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...nodeArgs, 'dist/node/server/main.js'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: string[] = []
  const exited = new Promise<Exit>((resolve) => {
    // 'close', not 'exit': every line the process wrote has been read by then.
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new ServerStartError(`server did not listen within 30 s:\n${logs.join('\n')}`, undefined, logs))
    }, 30_000)
    const onLine = (line: string): void => {
      logs.push(line)
      const url = /"url":"(http:\/\/127\.0\.0\.1:(\d+))","mode"/.exec(line)
      if (!url?.[1] || !url[2]) return
      clearTimeout(timer)
      resolve(handle(child, url[1], Number(url[2]), logs, exited))
    }
    collectLines(child.stdout, onLine)
    collectLines(child.stderr, onLine)
    void exited.then((exit) => {
      clearTimeout(timer)
      reject(new ServerStartError(`server exited (${JSON.stringify(exit)}) before listening`, exit, logs))
    })
  })
}

function handle(child: ChildProcess, url: string, port: number, logs: string[], exited: Promise<Exit>): ServerProcess {
  const pid = child.pid
  if (pid === undefined) throw new Error('server process has no pid')
  const running = (): boolean => child.exitCode === null && child.signalCode === null
  const exitWithin = async (graceMs: number): Promise<Exit & { killed: boolean }> => {
    let killed = false
    const timer = setTimeout(() => {
      killed = true
      child.kill('SIGKILL')
    }, graceMs)
    const exit = await exited
    clearTimeout(timer)
    return { ...exit, killed }
  }
  return {
    url,
    port,
    pid,
    logs,
    exited,
    kill: (signal) => child.kill(signal),
    rssBytes: () => rssBytes(pid),
    exitWithin,
    stop: (graceMs = 15_000) => {
      if (running()) child.kill('SIGTERM')
      return exitWithin(graceMs)
    },
  }
}

/** VmRSS of a live process, from /proc (Linux). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1]
  if (kb === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`)
  return Number(kb) * 1024
}

/** The server's pino lines as objects (other lines are skipped). */
export function logRecords(logs: string[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = []
  for (const line of logs) {
    if (!line.startsWith('{')) continue
    try {
      out.push(JSON.parse(line) as Record<string, unknown>)
    } catch {
      // A line that is not JSON is not a log record.
    }
  }
  return out
}

/** The runtime's "vendor call failed" lines, whether the directive had a fallback or rendered nothing. */
export function failureLines(logs: string[]): Record<string, unknown>[] {
  return logRecords(logs).filter((r) => String(r['msg']).startsWith('vendor call failed; '))
}
