/**
 * A failed `vite build` (issue 15): each error is printed once, with its
 * place and code frame, and the build exits non-zero; and whatever failed,
 * no server bundle of an earlier build is left for a server to start with.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Plugin } from 'vite'
import { buildFixture, fixturePerTest, rejection, REPO, SECRETS } from './guards/test-helpers.ts'

const fixture = fixturePerTest()

/** Writes `files` over the fixture's. */
async function edit(root: string, files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true })
    await writeFile(path.join(root, name), content)
  }
}

const serverBundle = (root: string) => ({
  templates: existsSync(path.join(root, 'dist/server/templates.js')),
  map: existsSync(path.join(root, 'dist/server/templates.js.map')),
})

const TYPO = { 'templates/home.eta': '<p>Hello</p>\n<<widget colour="x">>\n' }
const TYPO_MESSAGE = "unknown attribute 'colour' on <<widget>> at templates/home.eta:2:10"
const TYPO_FRAME_LINE = /^> 2 \| <<widget colour="x">>$/

/** How many lines of `text` contain `needle` (a string) or match it (a regular expression). */
function linesWith(text: string, needle: string | RegExp): number {
  return text.split('\n').filter((line) => (typeof needle === 'string' ? line.includes(needle) : needle.test(line)))
    .length
}

describe('a failed build leaves no server bundle', () => {
  it.each<[string, Record<string, string>]>([
    ['a template that no longer compiles', TYPO],
    [
      'client code that imports a server module (the client fails first)',
      {
        'client/util.ts': "export { db as x } from '../server/db.ts'\n",
      },
    ],
    ['a secret copied from public/ into the client output', { 'public/leak.txt': `${SECRETS.WIDGET_API_KEY}\n` }],
    ['a secret a template prints', { 'templates/home.eta': `<p>${SECRETS.SESSION_KEY_1}</p>\n` }],
    ['a client module that does not parse', { 'client/util.ts': 'export const x = (\n' }],
  ])('%s: the build rejects, and templates.js and its map of the build before are gone', async (_what, broken) => {
    const root = await fixture()
    await buildFixture(root)
    expect(serverBundle(root)).toEqual({ templates: true, map: true })

    await edit(root, broken)
    await rejection(buildFixture(root))
    expect(serverBundle(root)).toEqual({ templates: false, map: false })
  })

  it('a secret another plugin writes beside templates.js: the build rejects, and the templates.js it wrote is gone too', async () => {
    const root = await fixture()
    const leakyWriter: Plugin = {
      name: 'leaky-writer',
      applyToEnvironment: (environment) => environment.name === 'ssr',
      async writeBundle(output) {
        await writeFile(path.join(output.dir ?? '', 'extra.txt'), `${SECRETS.RAI_ACCESS_KEY}\n`)
      },
    }
    const message = (await rejection(buildFixture(root, {}, { plugins: [leakyWriter] }))).message
    expect(message).toContain('secret RAI_ACCESS_KEY found in dist/server/extra.txt')
    expect(serverBundle(root)).toEqual({ templates: false, map: false })
  })

  it('is built again once the mistake is fixed', async () => {
    const root = await fixture(TYPO)
    await rejection(buildFixture(root))
    await edit(root, { 'templates/home.eta': '<p>Hello</p>\n' })
    await buildFixture(root)
    expect(serverBundle(root)).toEqual({ templates: true, map: true })
  })
})

describe('a template mistake in the build', () => {
  it('rejects with one error that carries its place, frame and code once', async () => {
    const root = await fixture(TYPO)
    const error = (await rejection(buildFixture(root))) as Error & { errors?: unknown[] }
    expect(linesWith(error.message, TYPO_MESSAGE)).toBe(1)
    expect(linesWith(error.message, TYPO_FRAME_LINE)).toBe(1)
    expect(error.errors).toHaveLength(1)
    expect(error.errors?.[0]).toMatchObject({
      plugin: 'vite-plugin-eta-embeds:templates',
      pluginCode: 'ERR_ATTRIBUTE_UNKNOWN',
      id: path.join(root, 'templates/home.eta'),
      loc: { file: path.join(root, 'templates/home.eta'), line: 2, column: 10 },
      frame: expect.stringMatching(/^> 2 \| <<widget colour="x">>$/m),
    })
  })
})

/** `vite build` as a user runs it, in `cwd`: its exit code and everything it printed. */
function viteBuildCli(cwd: string): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }
  delete env['FORCE_COLOR']
  const child = spawn(process.execPath, [path.join(REPO, 'node_modules/vite/bin/vite.js'), 'build'], { cwd, env })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}

describe('vite build on the command line', () => {
  // A config file of the fixture's own, as a user's app has: the plugin from this checkout.
  const config = `import { etaEmbeds } from ${JSON.stringify(path.join(REPO, 'plugin/index.ts'))}\nexport default { plugins: [etaEmbeds()] }\n`

  it.each([
    ['an unknown attribute', TYPO, TYPO_MESSAGE, TYPO_FRAME_LINE],
    [
      'an Eta syntax error',
      { 'templates/home.eta': '<p>Hello</p>\n<% if (it.name { %>\n' },
      "JavaScript syntax error in a tag or {expression}: Unexpected token '{' at templates/home.eta:2:1",
      /^> 2 \| <% if \(it\.name \{ %>$/,
    ],
  ])(
    'prints %s once, with its frame, and exits non-zero',
    async (_what, files, message, frameLine) => {
      const root = await fixture({ ...files, 'vite.config.ts': config })
      const { code, output } = await viteBuildCli(root)
      expect(code).toBe(1)
      expect(linesWith(output, message)).toBe(1)
      expect(linesWith(output, frameLine)).toBe(1)
    },
    60_000,
  )
})
