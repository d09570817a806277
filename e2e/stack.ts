/**
 * One running stack for a test worker: a stub of every vendor flow (Returning.AI
 * proxy and Widget SDK, Caramelo AI) with canary secrets, and the demo server
 * (dev or production mode) configured to use them as if they were the real
 * vendors. Everything is closed when the worker ends. The server runs through
 * the testing kit's `startApp`, and `vendors` is the kit's view of the stubs
 * (their witnesses and the planted secrets), so the leak suite checks the demo
 * with the checks users run against their apps.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { BUILTIN_VENDORS } from '../plugin/vendors/registry.ts'
import {
  startCarameloStub,
  startReturningSdkStub,
  startReturningStub,
  type CarameloStub,
  type ReturningSdkStub,
  type ReturningStub,
  type ReturningStubOptions,
} from '../stubs/index.ts'
import { carameloWitness, returningProxyWitness, returningSdkWitness } from '../stubs/witness.ts'
import { startApp } from '../testing/app.ts'
import type { CanaryVendors } from '../testing/vendors.ts'

export { collectLines, stopProcess } from '../testing/app.ts'

export type Mode = 'dev' | 'prod'

/** Values that must never reach a browser, a log line or `dist/` (SPEC invariant 1). */
export const CANARIES = {
  apiKey: 'canary-api-key-5b0d9e7c41a8',
  accessKey: 'canary-access-key-2f6a08d3c9e1',
  secretToken: 'canary-secret-token-c3f19a62e0b7',
  sessionKey: 'canary-session-key-8e2d47b1f6c5',
  metricsToken: 'canary-metrics-token-71d3b0e95f2a',
} as const

/** The same canaries by the variable that carries each: what the kit's secret check looks for. */
export const CANARY_SECRETS: Readonly<Record<string, string>> = {
  WIDGET_API_KEY: CANARIES.apiKey,
  RAI_ACCESS_KEY: CANARIES.accessKey,
  CARAMELO_SECRET_TOKEN: CANARIES.secretToken,
  SESSION_KEYS: CANARIES.sessionKey,
  METRICS_TOKEN: CANARIES.metricsToken,
}

/** The access key pair's id: an identifier, not a secret (the key is `CANARIES.accessKey`). */
export const E2E_ACCESS_ID = 'e2e-access-id'

export interface Stack {
  url: string
  mode: Mode
  returning: ReturningStub
  /** The Widget SDK flow's stub: token and validate APIs, and the SDK script. */
  returningSdk: ReturningSdkStub
  caramelo: CarameloStub
  /** The kit's view of the stubs: their witnesses, the planted secrets, the server's environment. */
  vendors: CanaryVendors
  /** Every line the server wrote to stdout and stderr so far. */
  logs: string[]
  close(): Promise<void>
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

function command(mode: Mode): [string, ...string[]] {
  return mode === 'dev'
    ? [process.execPath, '--import', 'tsx', 'server/main.ts', '--dev']
    : [process.execPath, 'dist/node/server/main.js']
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
  const closeStubs = async (): Promise<void> => {
    await Promise.all([returning.close(), returningSdk.close(), caramelo.close()])
  }
  const app = await startApp(
    { command: command(mode), cwd: projectRoot, ready: /"url":"(http:\/\/[^"]+)","mode"/ },
    env,
  ).catch(async (error: unknown) => {
    await closeStubs()
    throw error
  })
  const closeAll = async (): Promise<void> => {
    await app.close()
    await closeStubs()
  }
  // A vendor the demo serves from its own in-process stub is one no test can see or steer:
  // a built-in vendor added without its variables here fails every test, not one leak check.
  const unseen = app.logs.filter((line) => line.includes('is the built-in local stub'))
  if (unseen.length > 0) {
    await closeAll()
    throw new Error(`the demo started its own stub for a vendor the stack does not configure:\n${unseen.join('\n')}`)
  }
  const vendors: CanaryVendors = {
    env,
    secrets: { ...CANARY_SECRETS },
    witnesses: [returningProxyWitness(returning), returningSdkWitness(returningSdk), carameloWitness(caramelo)],
    adapters: new Map(BUILTIN_VENDORS.map((adapter) => [adapter.definition.name, adapter])),
    close: closeStubs,
  }
  return { url: app.url, mode, returning, returningSdk, caramelo, vendors, logs: app.logs, close: closeAll }
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
