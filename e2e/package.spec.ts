/**
 * Issue 3, "a real package": the tarball `npm pack` makes installs into a fresh
 * Vite + Koa app outside this repo — examples/minimal-app, which holds the files
 * of the README's "Add it to your app" (the recipe itself is followed as written
 * by readme-app.package.spec.ts) — which builds, type-checks against the
 * published declarations and renders every directive (the widget in both of its
 * flows, the chatbot) for the session's user. Issue 14: the app's own Playwright
 * test, the README's "Prove it in your app", runs the testing kit from the
 * tarball — and passes, while a deliberately leaky variant of the app fails it,
 * each leak named.
 */
import { createRequire } from 'node:module'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, test } from '@playwright/test'
import {
  startCarameloStub,
  startReturningSdkStub,
  startReturningStub,
  type CarameloStub,
  type ReturningSdkStub,
  type ReturningStub,
} from '../stubs/index.ts'
import { canaryFor, canarySecrets, encodings, FORGED_USER, startApp, type RunningApp } from '../testing/index.ts'
import { ADA, copyApp, expectEmbeds, makeLeaky, run, runAppSuite } from './package-helpers.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const PLAYWRIGHT_VERSION = (createRequire(import.meta.url)('@playwright/test/package.json') as { version: string })
  .version

const SECRETS = {
  apiKey: 'pkg-canary-api-key-71c0e4',
  accessKey: 'pkg-canary-access-key-5d3e80',
  secretToken: 'pkg-canary-secret-token-2ab95d',
}

/**
 * A consumer written in TypeScript: all three entry points, types from each, and an adapter of its
 * own (\`defineVendor\` from the plugin entry, registered with the plugin and configured for the runtime).
 */
const CHECK_TS = `
import { defineConfig } from 'vite'
import { etaEmbeds, CompileError, defineVendor, text, type EmbedsPluginOptions } from 'vite-plugin-eta-embeds'
import {
  builtTemplates,
  embeds,
  returningProxy,
  vendorsFromEnv,
  type ConfiguredVendor,
  type EmbedsMiddlewareOptions,
  type EmbedsUser,
} from 'vite-plugin-eta-embeds/runtime'
import {
  LOCAL_VENDORS,
  startReturningStub,
  type CarameloStub,
  type LocalVendor,
  type LocalVendorStarter,
  type ReturningStub,
} from 'vite-plugin-eta-embeds/stubs'
import Koa from 'koa'
import type { PlaywrightTestArgs, TestType } from '@playwright/test'
import {
  canarySecrets,
  LeakError,
  test,
  type EmbedsOptions,
  type EmbedsTestFixtures,
  type EmbedsWorkerFixtures,
  type Leak,
  type TestVendor,
} from 'vite-plugin-eta-embeds/testing'

interface GreeterOptions {
  greeting: string
}
export const greeter = defineVendor<GreeterOptions, GreeterOptions>({
  name: 'greeter',
  directive: 'greet',
  title: 'Greeter',
  attributes: { title: text },
  resolve(options, path) {
    if (!options.greeting) throw new TypeError(\`\${path}.greeting is required\`)
    return options
  },
  embed: async ({ config, user }) => \`<p>\${config.greeting}, \${user.name}</p>\`,
})

const pluginOptions: EmbedsPluginOptions = { templatesDir: 'templates', vendors: [greeter] }
export default defineConfig({ plugins: [etaEmbeds(pluginOptions)] })

const user: EmbedsUser = { id: 'u1', email: 'ada@example.com', name: 'Ada' }
const vendors: ConfiguredVendor[] = [
  ...vendorsFromEnv(process.env, [greeter]),
  returningProxy({ apiKey: 'key', communityId: 'community', widgetId: 'store-1', pageCache: false }),
  greeter({ greeting: 'Hello' }),
]
const options: EmbedsMiddlewareOptions = {
  templates: builtTemplates('dist/server/templates.js'),
  vendors,
  user: () => user,
}
const app = new Koa()
app.use(embeds(options))
app.use((ctx) => ctx.render('page', { when: new Date() }))

export const stub: Promise<ReturningStub> = startReturningStub({ apiKey: 'key', communityId: 'community' })
export const local: Promise<LocalVendor> | undefined = LOCAL_VENDORS['returning-sdk']?.(process.env)
export const sdkUrl = (caramelo: CarameloStub): string => caramelo.sdkUrl
export const isCompileError = (error: unknown): boolean => error instanceof CompileError

// The testing kit: its fixtures, options, checks and errors are typed for a consumer too.
export const kitTest: TestType<PlaywrightTestArgs & EmbedsTestFixtures, EmbedsWorkerFixtures> = test
export const kitOptions: EmbedsOptions = { command: ['node', 'server.js'], dist: 'dist', pages: ['/'] }
export const secrets: Record<string, string> = canarySecrets({ secretEnvNames: ['METRICS_TOKEN'] })
export const leaksOf = (error: unknown): readonly Leak[] => (error instanceof LeakError ? error.leaks : [])
export const withGreeter = (stub: LocalVendorStarter): TestVendor => ({ adapter: greeter, stub })
`

let tmp: string
let app: string
let packed: string[]
let withStubs: RunningApp | undefined
let withEnv: RunningApp | undefined
let returning: ReturningStub | undefined
let returningSdk: ReturningSdkStub | undefined
let caramelo: CarameloStub | undefined

test.beforeAll(async () => {
  test.setTimeout(180_000)
  // A space in the path: what users copy must not assume URL-safe paths.
  tmp = await mkdtemp(path.join(os.tmpdir(), 'eta embeds package-'))
  // No prepack here: global-setup has just built dist/node, and rebuilding it now
  // would rewrite files a `prod` server in another worker may be importing.
  const pack = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], root)
  const [info] = JSON.parse(pack) as { filename: string; files: { path: string }[] }[]
  if (!info) throw new Error(`npm pack printed no tarball:\n${pack}`)
  packed = info.files.map((f) => f.path)
  const tarball = path.join(tmp, info.filename)

  app = path.join(tmp, 'app')
  await cp(path.join(root, 'examples', 'minimal-app'), app, { recursive: true })
  const manifest = JSON.parse(await readFile(path.join(app, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>
    devDependencies?: Record<string, string>
  }
  manifest.dependencies['vite-plugin-eta-embeds'] = `file:${tarball}`
  manifest.devDependencies = {
    ...manifest.devDependencies,
    // The version this repo tests with: already in npm's cache, and the same browser protocol.
    '@playwright/test': PLAYWRIGHT_VERSION,
    typescript: '6.0',
    '@types/node': '^20.19.0',
    '@types/koa': '^3.0.0',
  }
  await writeFile(path.join(app, 'package.json'), JSON.stringify(manifest, null, 2))
  await writeFile(path.join(app, 'check.ts'), CHECK_TS)
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], app)
  await run('npm', ['run', 'build'], app)

  withStubs = await startExample({})
  returning = await startReturningStub({ apiKey: SECRETS.apiKey, communityId: 'pkg-community' })
  returningSdk = await startReturningSdkStub({
    accessId: 'pkg-access-id',
    accessKey: SECRETS.accessKey,
    communityId: 'pkg-community',
  })
  caramelo = await startCarameloStub({ secretToken: SECRETS.secretToken, projectId: 'pkg-project' })
  withEnv = await startExample({
    WIDGET_BASE_URL: returning.url,
    WIDGET_API_KEY: SECRETS.apiKey,
    WIDGET_COMMUNITY_ID: 'pkg-community',
    WIDGET_ID: 'pkg-store',
    RAI_V2_API_URL: returningSdk.apiUrl,
    RAI_SDK_URL: returningSdk.sdkUrl,
    RAI_ACCESS_ID: 'pkg-access-id',
    RAI_ACCESS_KEY: SECRETS.accessKey,
    CARAMELO_API_URL: caramelo.apiUrl,
    CARAMELO_SDK_URL: caramelo.sdkUrl,
    CARAMELO_PROJECT_ID: 'pkg-project',
    CARAMELO_SECRET_TOKEN: SECRETS.secretToken,
  })
})

test.afterAll(async () => {
  await Promise.all([withStubs?.close(), withEnv?.close()])
  await Promise.all([returning?.close(), returningSdk?.close(), caramelo?.close()])
  if (tmp) await rm(tmp, { recursive: true, force: true })
})

test('the tarball holds the built plugin, runtime, stubs and testing kit, and no sources, tests or demo', () => {
  expect(packed).toEqual(
    expect.arrayContaining([
      'package.json',
      'README.md',
      'LICENSE',
      'dist/node/plugin/index.js',
      'dist/node/plugin/index.d.ts',
      'dist/node/plugin/runtime/index.js',
      'dist/node/plugin/runtime/index.d.ts',
      'dist/node/stubs/index.js',
      'dist/node/stubs/index.d.ts',
      'dist/node/testing/index.js',
      'dist/node/testing/index.d.ts',
    ]),
  )
  expect(
    packed.filter(
      (file) => !/^(package\.json|README\.md|LICENSE|dist\/node\/(plugin|stubs|testing)\/.+\.(js|d\.ts))$/.test(file),
    ),
  ).toEqual([])
  expect(packed.filter((file) => /\.test\.|test-helpers/.test(file))).toEqual([])
})

test('the README\'s "Add it to your app" and "Prove it in your app" show the example app\'s files verbatim', async () => {
  const readme = await readFile(path.join(root, 'README.md'), 'utf8')
  for (const [file, lang] of [
    ['vite.config.js', 'js'],
    ['templates/page.eta', 'eta'],
    ['server.js', 'js'],
    ['playwright.config.js', 'js'],
    ['e2e/global-setup.js', 'js'],
    ['e2e/embeds.spec.js', 'js'],
  ] as const) {
    const code = await readFile(path.join(root, 'examples', 'minimal-app', file), 'utf8')
    expect(readme, `README.md is missing examples/minimal-app/${file}`).toContain(`\`\`\`${lang}\n${code}\`\`\`\n`)
  }
})

test('a TypeScript consumer type-checks against the published declarations', async () => {
  // tsc is CPU-bound, and reads @playwright/test's declarations too (the testing entry's): 10 s quiet,
  // past 30 s at load 12 on two cores. A deadline, not a timing claim.
  test.setTimeout(120_000)
  const tsc = path.join(app, 'node_modules', '.bin', 'tsc')
  const flags = ['--noEmit', '--strict', '--skipLibCheck', 'false', '--target', 'es2023']
  const resolution = ['--module', 'nodenext', '--moduleResolution', 'nodenext']
  // A failing tsc rejects with its diagnostics in the message.
  await expect(run(tsc, [...flags, ...resolution, 'check.ts'], app)).resolves.toBe('')
})

test('with the built-in stubs, the page greets the session user and every widget is signed in', async ({ page }) => {
  await expectEmbeds(page, server(withStubs).url)
  const logs = server(withStubs).logs.join('\n')
  for (const vendor of ['returning-proxy', 'returning-sdk', 'caramelo']) {
    expect(logs).toMatch(
      new RegExp(`^${vendor} is not configured: using its local stub at http://127\\.0\\.0\\.1:\\d+$`, 'm'),
    )
  }
})

test('with vendors from the environment, they see only the session user, and no secret reaches the page', async ({
  page,
}) => {
  const { url, logs } = server(withEnv)
  await expectEmbeds(page, url)
  // Every vendor came from the environment: the app started no stub of its own.
  expect(logs.filter((line) => line.includes('local stub'))).toEqual([])

  const signin = returning?.received.filter((r) => r.path === '/widget/pkg-community/signin').at(-1)
  expect(signin?.headers['email']).toBe(ADA.email)
  expect(returningSdk?.minted.at(-1)?.identifiers).toEqual({ 'data-email': ADA.email, 'data-user-id': ADA.id })
  expect(returningSdk?.validated.at(-1)).toMatchObject({ token: returningSdk?.minted.at(-1)?.token, valid: true })
  expect(caramelo?.minted.at(-1)?.externalCustomerId).toBe(ADA.id)
  const html = await page.content()
  for (const secret of Object.values(SECRETS)) {
    expect(html).not.toContain(secret)
    expect(logs.join('\n')).not.toContain(secret)
  }
})

const KIT_TEST = 'secrets stay on the server, tokens in their page, identity in the session'

test('the README’s kit test, run by the example app from the tarball: the honest app passes every check', async () => {
  test.setTimeout(180_000)
  const honest = path.join(tmp, 'kit honest')
  await mkdir(honest)
  await copyApp(app, honest)
  const { code, tests, output } = await runAppSuite(honest)
  expect(tests, output).toEqual([{ title: KIT_TEST, status: 'expected', errors: [] }])
  expect(code, output).toBe(0)
})

test('a leaky variant of the example app fails the kit’s checks, with a message that points at each leak', async () => {
  test.setTimeout(180_000)
  const leaky = path.join(tmp, 'kit leaky')
  await mkdir(leaky)
  await copyApp(app, leaky)
  makeLeaky(leaky)
  const { code, tests, output } = await runAppSuite(leaky)
  expect(code, output).toBe(1)
  expect(
    tests.map((t) => `${t.title}: ${t.status}`),
    output,
  ).toEqual([`${KIT_TEST}: unexpected`])
  const message = tests[0]?.errors.join('\n') ?? ''
  const origin = String.raw`http://127\.0\.0\.1:\d+`
  const forged = FORGED_USER.email.replaceAll('.', '\\.')
  // Failed in the kit's check, not before: every leak is listed, grouped by check.
  expect(message).toMatch(/\d+ leaks found:\nsecrets \(/)
  // The token in a URL: the request, the form it had there, the excerpt with the token masked.
  expect(message).toMatch(
    new RegExp(
      String.raw`  - returning-sdk token #\d+ \(minted for email=ada@example\.com, id=usr_ada_1815\) in GET ${origin}/track\?widget=⟦token⟧ → URL \[raw\]: …${origin}/track\?widget=⟦token⟧…`,
    ),
  )
  // Also the token of the probe's page (minted for the forged email, this app being leaky): a request sent
  // after the page's load event is still in the recording check() reads.
  expect(message).toMatch(
    new RegExp(
      String.raw`  - returning-sdk token #\d+ \(minted for email=${forged}, id=usr_ada_1815\) in GET ${origin}/track\?widget=⟦token⟧ → URL \[raw\]`,
    ),
  )
  // The secret in a client file, base64'd: found in that response's body, in that form.
  expect(message).toMatch(
    new RegExp(
      String.raw`  - CARAMELO_SECRET_TOKEN in GET ${origin}/config\.js \(200\) → response body \[base64 \(offset \d\)\]: ….*CONFIG = JSON\.parse\(atob\("[\w+/]*⟦CARAMELO_SECRET_TOKEN⟧[\w+/=]*"\)\)…`,
    ),
  )
  // The identity from the query: tokens minted for the forged user reached Ada's page, and the forged
  // email reached the vendor in the server's own call.
  expect(message).toMatch(
    new RegExp(
      String.raw`  - a returning-proxy token minted for email=${forged} reached the page of ada@example\.com, whose session user is email=ada@example\.com, id=usr_ada_1815, name=Ada: GET ${origin}/\?\S+ \(200\) → response body`,
    ),
  )
  expect(message).toMatch(
    new RegExp(
      String.raw`  - the forged email sent with the request reached a vendor: returning-proxy stub received POST /widget/[\w-]+/signin from the server → header email \[raw\]: …⟦forged email⟧…`,
    ),
  )
  // No token is repeated anywhere in what the run printed (the Returning.AI ones are JWTs: easy to spot)…
  expect(output.match(/eyJ[\w-]{8,}\.[\w-]+\.[\w-]+/g) ?? []).toEqual([])
  // …nor anything the kit planted, in any form.
  for (const [name, value] of Object.entries(canarySecrets())) {
    expect(value).toBe(canaryFor(name))
    for (const form of encodings(value)) expect(output, `${name} (${form.name})`).not.toContain(form.value)
  }
})

function server(s: RunningApp | undefined): RunningApp {
  if (!s) throw new Error('the example app did not start: see the beforeAll error')
  return s
}

/** Starts the example's `server.js` on a free port with only `env` configured; resolves once it listens. */
function startExample(env: Record<string, string>): Promise<RunningApp> {
  return startApp({ command: [process.execPath, 'server.js'], cwd: app, env, ready: /^listening on (http:\/\/\S+)$/ })
}
