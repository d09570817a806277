/**
 * A tiny Vite + Eta app in a temp folder, for the guard tests. The folder name
 * has a space and parentheses, so paths that reach glob patterns or URLs must
 * be escaped to work.
 */
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'
import { createBuilder, mergeConfig, type InlineConfig } from 'vite'
import { etaEmbeds, type EmbedsPluginOptions } from '../vite.ts'

/** This checkout's root: the package's own runtime and stubs live under it. */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** The fixture's secrets, all set in its `.env`. */
export const SECRETS = {
  WIDGET_API_KEY: 'rai_live_5f2c9a71d3e8',
  RAI_ACCESS_KEY: 'rak_live_9e04b1c7f3a2',
  CARAMELO_SECRET_TOKEN: 'cmo_secret_0b7d44e1a9c2',
  SESSION_KEY_1: 'sess-key-one-8c1f02',
  SESSION_KEY_2: 'sess-key-two-77ad3e',
} as const

/** Files of the fixture app: client entry → util, a template, a server module, the `.env`. */
export const BASE_FILES: Record<string, string> = {
  'package.json': `{ "private": true, "type": "module" }\n`,
  'client/main.ts': `import { x } from './util.ts'\nconsole.log(import.meta.env.VITE_X, x)\n`,
  'client/util.ts': `export const x = 'util'\n`,
  'templates/home.eta': `<p>Hello <%= it.name %></p>\n`,
  'server/db.ts': `export const db = 'server only'\n`,
  '.env': [
    `WIDGET_API_KEY=${SECRETS.WIDGET_API_KEY}`,
    `RAI_ACCESS_KEY=${SECRETS.RAI_ACCESS_KEY}`,
    `CARAMELO_SECRET_TOKEN=${SECRETS.CARAMELO_SECRET_TOKEN}`,
    `SESSION_KEYS=${SECRETS.SESSION_KEY_1}, ${SECRETS.SESSION_KEY_2}`,
    `VITE_X=public value`,
    '',
  ].join('\n'),
}

/** Writes `files` (over {@link BASE_FILES}) into a new temp folder and returns its real path. */
export async function makeFixture(files: Record<string, string> = {}): Promise<string> {
  const root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'eta embeds (guards) ')))
  for (const [name, content] of Object.entries({ ...BASE_FILES, ...files })) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true })
    await writeFile(path.join(root, name), content)
  }
  return root
}

export function removeFixture(root: string): Promise<void> {
  return rm(root, { recursive: true, force: true })
}

/**
 * A `makeFixture` whose folders are removed after each test of the file
 * that calls this (it registers the `afterEach`).
 */
export function fixturePerTest(): (files?: Record<string, string>) => Promise<string> {
  const roots: string[] = []
  afterEach(async () => {
    await Promise.all(roots.splice(0).map(removeFixture))
  })
  return async (files = {}) => {
    const root = await makeFixture(files)
    roots.push(root)
    return root
  }
}

/** The inline config the tests start from: no config file, quiet, the client entry. */
export function fixtureConfig(
  root: string,
  options: EmbedsPluginOptions = {},
  config: InlineConfig = {},
): InlineConfig {
  const base: InlineConfig = {
    root,
    configFile: false,
    logLevel: 'silent',
    plugins: [etaEmbeds(options)],
    environments: {
      client: { build: { outDir: 'dist/client', rolldownOptions: { input: 'client/main.ts' } } },
    },
  }
  return mergeConfig(base, config)
}

/** `vite build` of the fixture: the client, then the SSR templates (the plugin's app builder). */
export async function buildFixture(
  root: string,
  options: EmbedsPluginOptions = {},
  config: InlineConfig = {},
): Promise<void> {
  const builder = await createBuilder(fixtureConfig(root, options, config))
  await builder.buildApp()
}

/** The error `promise` rejects with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  )
  if (!(outcome instanceof Error)) throw new Error(`expected a rejection with an Error, got ${String(outcome)}`)
  return outcome
}
