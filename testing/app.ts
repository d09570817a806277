/**
 * The app under test as a child process: started with the environment the kit gives it, its output kept
 * line by line (the log the secret and token checks read), stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process'

/** How to start the app. */
export interface AppCommand {
  /** The command and its arguments: `['node', 'server.js']`. */
  command: readonly [string, ...string[]]
  /** @default the test runner's working directory */
  cwd?: string
  /**
   * More environment. The app gets only `PATH`, `HOME`, `HOST=127.0.0.1`, `PORT=0`, these, and the kit's
   * variables (which win): no secret of your shell reaches a test run.
   */
  env?: Readonly<Record<string, string>>
  /**
   * The output line that says the app is ready; its first group (else the whole match) is the app's URL.
   * @default the first loopback http URL printed: /https?:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):\d+/
   */
  ready?: RegExp
  /** @default 60000 */
  startTimeoutMs?: number
}

/** A running app. */
export interface RunningApp {
  /** Its origin, from the ready line: `http://127.0.0.1:41234`. */
  url: string
  /** Every line it wrote to stdout and stderr so far. */
  logs: string[]
  /** SIGTERM, then SIGKILL if it has not exited 10 s later. */
  close(): Promise<void>
}

const LOOPBACK_URL = /https?:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):\d+/

/** Calls `onLine` for each line a stream writes (the last one too, when it ends without a newline). */
export function collectLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  let buffered = ''
  stream?.setEncoding('utf8')
  stream?.on('data', (chunk: string) => {
    buffered += chunk
    const lines = buffered.split('\n')
    buffered = lines.pop() ?? ''
    for (const line of lines) onLine(line)
  })
  stream?.on('end', () => {
    if (buffered) onLine(buffered)
  })
}

/** SIGTERM, then SIGKILL if the process has not exited 10 s later. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

/**
 * Starts the app with `env` (the kit's variables) over `app.env`, and resolves with its URL once it
 * prints its ready line; rejects with everything it printed when it exits or does not get ready in time.
 */
export function startApp(app: AppCommand, env: Readonly<Record<string, string>> = {}): Promise<RunningApp> {
  const [bin, ...args] = app.command
  const base: Record<string, string> = { HOST: '127.0.0.1', PORT: '0' }
  for (const name of ['PATH', 'HOME']) {
    const value = process.env[name]
    if (value !== undefined) base[name] = value
  }
  const child = spawn(bin, args, {
    cwd: app.cwd,
    env: { ...base, ...app.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: string[] = []
  const ready = app.ready ?? LOOPBACK_URL
  const timeoutMs = app.startTimeoutMs ?? 60_000
  return new Promise((resolve, reject) => {
    let settled = false
    const fail = (why: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      void stopProcess(child).then(() => reject(new Error(`${app.command.join(' ')} ${why}:\n${logs.join('\n')}`)))
    }
    const timer = setTimeout(() => fail(`printed no line matching ${ready} in ${timeoutMs} ms`), timeoutMs)
    const onLine = (line: string): void => {
      logs.push(line)
      if (settled) return
      const match = ready.exec(line)
      if (!match) return
      settled = true
      clearTimeout(timer)
      const url = new URL(match[1] ?? match[0]).origin
      resolve({ url, logs, close: () => stopProcess(child) })
    }
    collectLines(child.stdout, onLine)
    collectLines(child.stderr, onLine)
    child.once('exit', (code) => fail(`exited with ${code} before it was ready`))
    child.once('error', (error) => fail(`could not start (${error.message})`))
  })
}
