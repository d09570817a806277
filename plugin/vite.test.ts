/**
 * Issue 5's build guards, through Vite's own build API on a fixture app: no
 * secret in any output file, no configuration that exposes one, no server-only
 * module in the client bundle.
 */
import { existsSync, writeFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createBuilder, createLogger, resolveConfig, type Plugin } from 'vite'
import { ACME_SECRET_ENV, acmeBanner } from './compiler/test-helpers.ts'
import {
  BASE_FILES,
  buildFixture,
  fixtureConfig,
  fixturePerTest,
  rejection,
  REPO,
  SECRETS,
} from './guards/test-helpers.ts'
import { returningProxy } from './vendors/returning/proxy.ts'
import { etaEmbeds } from './vite.ts'

const fixture = fixturePerTest()
afterEach(() => {
  vi.unstubAllEnvs()
})

/** The fixture's `.env` with `lines` added. */
const env = (...lines: string[]): string => `${BASE_FILES['.env']}${lines.join('\n')}\n`

/** Every secret value; none may appear in an error message either. */
const ALL_SECRETS = Object.values(SECRETS)

async function buildError(...args: Parameters<typeof buildFixture>): Promise<string> {
  const { message } = await rejection(buildFixture(...args))
  for (const secret of ALL_SECRETS) expect(message).not.toContain(secret)
  return message
}

describe('secret scan of the build output', () => {
  it('passes a build that leaks nothing, client and server, source maps included', async () => {
    const root = await fixture()
    await buildFixture(root, {}, { build: { sourcemap: true } })
    expect(existsSync(path.join(root, 'dist/client/assets'))).toBe(true)
    expect(existsSync(path.join(root, 'dist/server/templates.js'))).toBe(true)
  })

  it.each(['WIDGET_API_KEY', 'RAI_ACCESS_KEY'] as const)(
    'fails when a .env VITE_ variable copies %s into the client bundle',
    async (name) => {
      const root = await fixture({ '.env': env(`VITE_X=${SECRETS[name]}`) })
      expect(await buildError(root)).toMatch(
        new RegExp(
          `secret ${name} found in dist/client/assets/main-[\\w-]+\\.js \\(as raw\\): the build output must never contain vendor secrets`,
        ),
      )
    },
  )

  it('finds a secret written base64-encoded', async () => {
    const encoded = Buffer.from(SECRETS.CARAMELO_SECRET_TOKEN).toString('base64')
    const root = await fixture({ '.env': env(`VITE_X=${encoded}`) })
    expect(await buildError(root)).toMatch(
      /secret CARAMELO_SECRET_TOKEN found in dist\/client\/assets\/main-[\w-]+\.js \(as base64\)/,
    )
  })

  it('finds a secret in the SSR output: a template that prints a session key', async () => {
    const root = await fixture({ 'templates/home.eta': `<p>${SECRETS.SESSION_KEY_2}</p>\n` })
    expect(await buildError(root)).toMatch(/secret SESSION_KEYS found in dist\/server\/templates\.js \(as raw\)/)
  })

  // The comment is minified away: only the source map's sourcesContent keeps it.
  const commented = { 'client/util.ts': `// ${SECRETS.WIDGET_API_KEY}\nexport const x = 'util'\n` }

  it.each([
    [true, /found in dist\/client\/assets\/main-[\w-]+\.js\.map \(as raw\)/],
    ['hidden', /found in dist\/client\/assets\/main-[\w-]+\.js\.map \(as raw\)/],
    ['inline', /found in dist\/client\/assets\/main-[\w-]+\.js \(as base64\)/],
  ] as const)('scans source maps with build.sourcemap %s', async (sourcemap, where) => {
    const root = await fixture(commented)
    expect(await buildError(root, {}, { build: { sourcemap } })).toMatch(where)
  })

  it('is not fooled by the minifier: without source maps the commented secret is gone and the build passes', async () => {
    await buildFixture(await fixture(commented))
  })

  it('scans for options.secrets, secretEnvNames and process.env values', async () => {
    vi.stubEnv('CARAMELO_SECRET_TOKEN', 'from-process-env-3e91')
    const root = await fixture({
      '.env': env('DATABASE_URL=postgres://app:pw-2f8e@db/app'),
      'client/util.ts': [
        `export const x = ['extra-secret-value-91', 'postgres://app:pw-2f8e@db/app', 'from-process-env-3e91']`,
        '',
      ].join('\n'),
    })
    const message = await buildError(root, { secrets: ['extra-secret-value-91'], secretEnvNames: ['DATABASE_URL'] })
    expect(message).toMatch(/secret CARAMELO_SECRET_TOKEN found in dist\/client\/assets\/main-[\w-]+\.js \(as raw\)/)
    expect(message).toMatch(/secret DATABASE_URL found in .* \(as raw\)/)
    expect(message).toMatch(/secret options\.secrets\[0\] found in .* \(as raw\)/)
  })

  it('skips values shorter than 8 characters, and warns about them', async () => {
    const warnings: string[] = []
    const logger = createLogger('silent')
    logger.warn = (message) => void warnings.push(message)
    const root = await fixture({ 'client/util.ts': `export const x = 'short7'\n` })
    await buildFixture(root, { secrets: ['short7'] }, { customLogger: logger })
    expect(warnings).toContainEqual(expect.stringMatching(/^options\.secrets\[0\]: shorter than 8 characters/))
  })
})

describe('secret scan of every file written to the output folders (issue 9)', () => {
  /** A fixture whose public/ holds secrets: as text, nested, and inside binary bytes. */
  async function leakyPublic(files: Record<string, string> = {}): Promise<string> {
    const root = await fixture({
      'public/leak.js': `window.KEY = '${SECRETS.WIDGET_API_KEY}'\n`,
      'public/nested/deep/config.json': JSON.stringify({ token: SECRETS.CARAMELO_SECRET_TOKEN }),
      'public/ok.txt': 'nothing secret here\n',
      ...files,
    })
    const binary = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0xff]), Buffer.from(SECRETS.SESSION_KEY_1)])
    await writeFile(path.join(root, 'public/img.bin'), Buffer.concat([binary, Buffer.from([0, 0xfe, 0x01])]))
    return root
  }
  const LEAKS = ['dist/client/leak.js', 'dist/client/nested/deep/config.json', 'dist/client/img.bin']

  it('fails on secrets in public/ files, names each and deletes it from dist', async () => {
    const root = await leakyPublic()
    const message = await buildError(root)
    expect(message).toContain(
      'secret WIDGET_API_KEY found in dist/client/leak.js (as raw, copied from public/leak.js): ' +
        'the build output must never contain vendor secrets; the file was deleted',
    )
    expect(message).toMatch(/secret CARAMELO_SECRET_TOKEN found in dist\/client\/nested\/deep\/config\.json \(as raw/)
    expect(message).toMatch(
      /secret SESSION_KEYS found in dist\/client\/img\.bin \(as raw, copied from public\/img\.bin\)/,
    )
    for (const file of LEAKS) expect(existsSync(path.join(root, file)), file).toBe(false)
    expect(existsSync(path.join(root, 'dist/client/ok.txt'))).toBe(true)
  })

  it('deletes leaking public/ copies even when a leaking chunk stops the build before writing', async () => {
    const root = await leakyPublic({ '.env': env(`VITE_X=${SECRETS.WIDGET_API_KEY}`) })
    const message = await buildError(root)
    expect(message).toMatch(/secret WIDGET_API_KEY found in dist\/client\/assets\/main-[\w-]+\.js \(as raw\)/)
    expect(message).toContain('secret WIDGET_API_KEY found in dist/client/leak.js (as raw, copied from public/leak.js)')
    for (const file of LEAKS) expect(existsSync(path.join(root, file)), file).toBe(false)
  })

  it('scans files another plugin writes after the bundle', async () => {
    const lateWriter: Plugin = {
      name: 'late-writer',
      applyToEnvironment: (environment) => environment.name === 'client',
      writeBundle(options) {
        writeFileSync(path.join(options.dir!, 'late.txt'), `key: ${SECRETS.WIDGET_API_KEY}\n`)
      },
    }
    const root = await fixture()
    const message = await buildError(root, {}, { plugins: [lateWriter] })
    expect(message).toContain('secret WIDGET_API_KEY found in dist/client/late.txt (as raw): ')
    expect(existsSync(path.join(root, 'dist/client/late.txt'))).toBe(false)
  })
})

describe('configurations that expose secrets', () => {
  const resolve = async (
    root: string,
    ...rest: [Parameters<typeof fixtureConfig>[1], Parameters<typeof fixtureConfig>[2]]
  ) => resolveConfig(fixtureConfig(root, ...rest), 'build')

  it.each([
    [
      '',
      // The adapters' names in registry order, then the session keys.
      /envPrefix '' would expose WIDGET_API_KEY, RAI_ACCESS_KEY, CARAMELO_SECRET_TOKEN, SESSION_KEYS to client code/,
    ],
    ['RAI_', /envPrefix 'RAI_' would expose RAI_ACCESS_KEY to client code/],
    ['WIDGET_', /envPrefix 'WIDGET_' would expose WIDGET_API_KEY to client code; use a prefix such as 'VITE_'/],
    [['VITE_', 'CARAMELO_'], /envPrefix 'CARAMELO_' would expose CARAMELO_SECRET_TOKEN to client code/],
    ['SESSION', /envPrefix 'SESSION' would expose SESSION_KEYS to client code/],
  ])('refuses envPrefix %j', async (envPrefix, message) => {
    const root = await fixture()
    await expect(resolve(root, {}, { envPrefix })).rejects.toThrow(message)
  })

  it('refuses an envPrefix that another plugin sets after ours', async () => {
    const root = await fixture()
    const late = { name: 'late-env-prefix', config: () => ({ envPrefix: 'WIDGET_' }) }
    await expect(resolve(root, {}, { plugins: [late] })).rejects.toThrow(
      /envPrefix 'WIDGET_' would expose WIDGET_API_KEY/,
    )
  })

  it('refuses an envPrefix matching a name from secretEnvNames', async () => {
    const root = await fixture()
    await expect(resolve(root, { secretEnvNames: ['DATABASE_URL'] }, { envPrefix: 'DATA' })).rejects.toThrow(
      /envPrefix 'DATA' would expose DATABASE_URL/,
    )
  })

  it('accepts prefixes that match no secret name', async () => {
    const root = await fixture()
    await resolve(root, {}, { envPrefix: ['VITE_', 'PUBLIC_'] })
  })

  it.each([
    ['define', { define: { 'import.meta.env.VITE_KEY': JSON.stringify(SECRETS.WIDGET_API_KEY) } }],
    ['environments.client.define', { environments: { client: { define: { __KEY__: `"${SECRETS.SESSION_KEY_1}"` } } } }],
  ])('refuses a secret in %s', async (where, config) => {
    const root = await fixture()
    const { message } = await rejection(resolve(root, {}, config))
    expect(message).toMatch(
      new RegExp(`^${where.replace('.', '\\.')}\\['[\\w.]+'\\] holds the value of (WIDGET_API_KEY|SESSION_KEYS)`),
    )
    for (const secret of ALL_SECRETS) expect(message).not.toContain(secret)
  })

  it('accepts defines without secrets', async () => {
    const root = await fixture()
    await resolve(root, {}, { define: { __VERSION__: JSON.stringify('1.2.3') } })
  })
})

describe('server-only modules in client code (build)', () => {
  /** Builds the client only, with client/util.ts importing `specifier`. */
  async function clientImportError(specifier: string): Promise<string> {
    const root = await fixture({ 'client/util.ts': `import * as m from '${specifier}'\nexport const x = m\n` })
    const builder = await createBuilder(fixtureConfig(root))
    const { message } = await rejection(builder.build(builder.environments['client']!))
    return message
  }

  it.each([
    ['../server/db.ts', 'server/db.ts'],
    ['../templates/home.eta', 'templates/home.eta'],
    ['../templates/home.eta?raw', 'templates/home.eta'],
    ['virtual:eta-embeds/templates', 'virtual:eta-embeds/templates'],
    ['vite-plugin-eta-embeds/runtime', 'vite-plugin-eta-embeds/runtime'],
    ['vite-plugin-eta-embeds/stubs', 'vite-plugin-eta-embeds/stubs'],
    [path.join(REPO, 'plugin/runtime/index.ts'), 'plugin/runtime/index.ts'],
    [path.join(REPO, 'stubs/index.ts'), 'stubs/index.ts'],
  ])('refuses %s, naming the chain', async (specifier, shown) => {
    const message = await clientImportError(specifier)
    const module = shown.replace(/[.*?()[\]]/g, '\\$&')
    expect(message).toMatch(
      new RegExp(
        `server-only module [^ ]*${module} imported from client code: client/main\\.ts → client/util\\.ts → [^ ]*${module}`,
      ),
    )
  })
})

describe("options.vendors: the app's own adapters", () => {
  const ACME_SECRET = 'acme-banner-secret-5d0e7a91'

  it("takes a built-in adapter listed again beside the app's own, as the runtime does", () => {
    expect(() => etaEmbeds({ vendors: [returningProxy, acmeBanner] })).not.toThrow()
  })

  it.each([
    ['an object', [{}], 'options.vendors[0]'],
    ['null', [null], 'options.vendors[0]'],
    ['a name', ['acme-banner'], 'options.vendors[0]'],
    ['a plain function after an adapter', [acmeBanner, () => '<div></div>'], 'options.vendors[1]'],
  ])('refuses %s, naming its place in the list', (_what, vendors, place) => {
    expect(() => etaEmbeds({ vendors: vendors as never })).toThrow(
      new TypeError(`${place} must be a vendor adapter made with defineVendor()`),
    )
  })

  it('refuses a value that is not a list', () => {
    expect(() => etaEmbeds({ vendors: acmeBanner as never })).toThrow(
      new TypeError('options.vendors must be an array of vendor adapters made with defineVendor()'),
    )
  })

  it("fails a build whose output holds the value of an adapter's secretEnvNames", async () => {
    const root = await fixture({ '.env': env(`${ACME_SECRET_ENV}=${ACME_SECRET}`, `VITE_X=${ACME_SECRET}`) })
    const message = await buildError(root, { vendors: [acmeBanner] })
    expect(message).toMatch(
      new RegExp(`secret ${ACME_SECRET_ENV} found in dist/client/assets/main-[\\w-]+\\.js \\(as raw\\)`),
    )
    expect(message).not.toContain(ACME_SECRET)
  })

  it('(control) builds that output without the adapter: the name is a secret because the adapter says so', async () => {
    const root = await fixture({ '.env': env(`${ACME_SECRET_ENV}=${ACME_SECRET}`, `VITE_X=${ACME_SECRET}`) })
    await buildFixture(root)
    expect(existsSync(path.join(root, 'dist/server/templates.js'))).toBe(true)
  })

  it("refuses an envPrefix that would expose an adapter's secret", async () => {
    const root = await fixture()
    await expect(
      resolveConfig(fixtureConfig(root, { vendors: [acmeBanner] }, { envPrefix: 'ACME_' }), 'build'),
    ).rejects.toThrow(`envPrefix 'ACME_' would expose ${ACME_SECRET_ENV} to client code`)
  })

  it("compiles the adapter's directive with its rules, and only when it is registered", async () => {
    const files = { 'templates/home.eta': '<main>\n  <<banner size="large">>\n</main>\n' }
    await buildFixture(await fixture(files), { vendors: [acmeBanner] })

    const unknown = await buildError(await fixture(files))
    expect(unknown).toContain(
      "unknown directive '<<banner>>' at templates/home.eta:2:5 (known: widget, caramelo; write '\\<<' for a literal '<<')",
    )
    const bad = await buildError(await fixture({ 'templates/home.eta': '<<banner size="huge">>' }), {
      vendors: [acmeBanner],
    })
    expect(bad).toContain(
      `bad value "huge" for 'size' on <<banner>> at templates/home.eta:1:16 (expected one of small, large)`,
    )
  })

  it('keeps the built-in directives and flows beside the adapter', async () => {
    const root = await fixture({ 'templates/home.eta': '<<widget flow="sdk" type="currency">><<banner>><<caramelo>>' })
    await buildFixture(root, { vendors: [acmeBanner] })
    expect(existsSync(path.join(root, 'dist/server/templates.js'))).toBe(true)
  })
})
