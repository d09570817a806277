/**
 * One running stack for a test worker: a stub of every vendor flow (Returning.AI
 * proxy and Widget SDK, Caramelo AI) with canary secrets, and the demo server
 * (dev or production mode) configured to use them as if they were the real
 * vendors. Everything is closed when the worker ends.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  startCarameloStub,
  startReturningSdkStub,
  startReturningStub,
  type CarameloStub,
  type ReturningSdkStub,
  type ReturningStub,
  type ReturningStubOptions,
} from '../stubs/index.ts'

export type Mode = 'dev' | 'prod'

/** Values that must never reach a browser, a log line or `dist/` (SPEC invariant 1). */
export const CANARIES = {
  apiKey: 'canary-api-key-5b0d9e7c41a8',
  accessKey: 'canary-access-key-2f6a08d3c9e1',
  secretToken: 'canary-secret-token-c3f19a62e0b7',
  sessionKey: 'canary-session-key-8e2d47b1f6c5',
  metricsToken: 'canary-metrics-token-71d3b0e95f2a',
} as const

/** The access key pair's id: an identifier, not a secret (the key is `CANARIES.accessKey`). */
export const E2E_ACCESS_ID = 'e2e-access-id'

export interface Stack {
  url: string
  mode: Mode
  returning: ReturningStub
  /** The Widget SDK flow's stub: token and validate APIs, and the SDK script. */
  returningSdk: ReturningSdkStub
  caramelo: CarameloStub
  /** Every line the server wrote to stdout and stderr so far. */
  logs: string[]
  close(): Promise<void>
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

function command(mode: Mode): [string, string[]] {
  return mode === 'dev'
    ? [process.execPath, ['--import', 'tsx', 'server/main.ts', '--dev']]
    : [process.execPath, ['dist/node/server/main.js']]
}

/** What a test may change about its stack. */
export interface StackOptions {
  /** Extra server environment, e.g. `{ EMBEDS_TIMEOUT_MS: '1000' }`; wins over the defaults. */
  env?: Record<string, string>
  /** Extra Returning.AI stub options, e.g. `{ widgetPageCacheControl: 'no-store' }`. */
  returning?: Pick<ReturningStubOptions, 'widgetPageCacheControl'>
}

/**
 * Starts stubs and server; resolves once the server says where it listens.
 * `projectRoot` runs the server from a copy of the project (see `copyProject`).
 */
export async function startStack(mode: Mode, projectRoot: string = root, options: StackOptions = {}): Promise<Stack> {
  const returning = await startReturningStub({
    apiKey: CANARIES.apiKey,
    communityId: 'e2e-community',
    ...options.returning,
  })
  const returningSdk = await startReturningSdkStub({
    accessId: E2E_ACCESS_ID,
    accessKey: CANARIES.accessKey,
    communityId: 'e2e-community',
  })
  const caramelo = await startCarameloStub({ secretToken: CANARIES.secretToken, projectId: 'e2e-project' })
  const env = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    HOST: '127.0.0.1',
    PORT: '0',
    SESSION_KEYS: CANARIES.sessionKey,
    WIDGET_BASE_URL: returning.url,
    WIDGET_API_KEY: CANARIES.apiKey,
    WIDGET_COMMUNITY_ID: 'e2e-community',
    WIDGET_ID: 'e2e-store',
    WIDGET_TYPE: 'store',
    // Every vendor the demo knows is configured here: one left unset would be
    // the demo's own in-process stub, out of the tests' sight.
    RAI_V2_API_URL: returningSdk.apiUrl,
    RAI_SDK_URL: returningSdk.sdkUrl,
    RAI_ACCESS_ID: E2E_ACCESS_ID,
    RAI_ACCESS_KEY: CANARIES.accessKey,
    CARAMELO_API_URL: caramelo.apiUrl,
    CARAMELO_SDK_URL: caramelo.sdkUrl,
    CARAMELO_PROJECT_ID: 'e2e-project',
    CARAMELO_SECRET_TOKEN: CANARIES.secretToken,
    METRICS_TOKEN: CANARIES.metricsToken,
    // No test here is about the deadline but those that set their own: a
    // working vendor must not fall back because a busy machine made the
    // first render of a cold server slow.
    EMBEDS_TIMEOUT_MS: '5000',
    ...options.env,
  }
  const [bin, args] = command(mode)
  const child = spawn(bin, args, { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const logs: string[] = []
  const url = await listeningUrl(child, logs)
  const closeAll = async (): Promise<void> => {
    await stopProcess(child)
    await Promise.all([returning.close(), returningSdk.close(), caramelo.close()])
  }
  // A vendor the demo serves from its own in-process stub is one no test can see or steer:
  // a built-in vendor added without its variables here fails every test, not one leak check.
  const unseen = logs.filter((line) => line.includes('is the built-in local stub'))
  if (unseen.length > 0) {
    await closeAll()
    throw new Error(`the demo started its own stub for a vendor the stack does not configure:\n${unseen.join('\n')}`)
  }
  return {
    url,
    mode,
    returning,
    returningSdk,
    caramelo,
    logs,
    close: closeAll,
  }
}

const PROJECT_FILES = [
  'package.json',
  'tsconfig.json',
  'vite.config.ts',
  'plugin',
  'server',
  'stubs',
  'templates',
  'client',
]

/**
 * A private copy of the project (node_modules linked, not copied) for tests
 * that edit templates, so they never disturb tests running from the repo.
 */
export async function copyProject(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'eta-embeds-e2e-'))
  for (const entry of PROJECT_FILES) await cp(path.join(root, entry), path.join(dir, entry), { recursive: true })
  await symlink(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}

/**
 * Replaces `search` in a file; throws when it is not there, so a stale test
 * fails loudly. One synchronous write, as an editor saves and as Vite's
 * playgrounds edit: an asynchronous one leaves the file empty across event
 * loop turns of a busy test process, longer than a dev server waits for it.
 */
export function editFile(file: string, search: string, replacement: string): void {
  const text = readFileSync(file, 'utf8')
  if (!text.includes(search)) throw new Error(`editFile: ${JSON.stringify(search)} not found in ${file}`)
  writeFileSync(file, text.replace(search, replacement))
}

function listeningUrl(child: ChildProcess, logs: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s:\n${logs.join('\n')}`)), 60_000)
    const onLine = (line: string): void => {
      logs.push(line)
      const url = /"url":"(http:\/\/[^"]+)","mode"/.exec(line)?.[1]
      if (url) {
        clearTimeout(timer)
        resolve(url)
      }
    }
    collectLines(child.stdout, onLine)
    collectLines(child.stderr, onLine)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code} before listening:\n${logs.join('\n')}`))
    })
  })
}

/** Calls `onLine` for each line a child process writes (the last one too, when it ends without a newline). */
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
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}
