/**
 * Issue 5's and issue 9's dev-server guards: server-only modules, env files
 * and build output refused in client code with the import chain, nothing
 * secret or server-side served over HTTP, `server.fs.allow` narrowed to the
 * client, no CORS and loopback by default. `vite.dev-routes.test.ts` walks
 * every URL shape against a real server.
 */
import { createServer as createHttpServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createServer,
  isFileLoadingAllowed,
  isRunnableDevEnvironment,
  resolveConfig,
  type InlineConfig,
  type ViteDevServer,
} from 'vite'
import { VITE_DEFAULT_FS_DENY } from './guards/dev-server.ts'
import { etaEmbeds } from './vite.ts'
import { fixtureConfig, makeFixture, rejection, REPO, removeFixture, SECRETS } from './guards/test-helpers.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function fixture(files: Record<string, string> = {}): Promise<string> {
  const root = await makeFixture(files)
  cleanups.push(() => removeFixture(root))
  return root
}

/** A dev server in middleware mode, as the demo runs it. */
async function devServer(root: string, config: InlineConfig = {}): Promise<ViteDevServer> {
  const vite = await createServer(
    fixtureConfig(root, {}, { server: { middlewareMode: true, ws: false }, appType: 'custom', ...config }),
  )
  cleanups.push(() => vite.close())
  return vite
}

/** Vite's middlewares behind a real HTTP server on loopback; resolves to its origin. */
async function serve(vite: ViteDevServer): Promise<string> {
  const server: Server = createHttpServer(vite.middlewares)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('server-only modules in client code (dev)', () => {
  it('fails the importing module with the chain, through the client environment', async () => {
    const root = await fixture({ 'client/util.ts': `import { db } from '../server/db.ts'\nexport const x = db\n` })
    const client = (await devServer(root)).environments['client']
    await client.transformRequest('/client/main.ts')
    const { message } = await rejection(client.transformRequest('/client/util.ts'))
    expect(message).toContain(
      'server-only module server/db.ts imported from client code: client/main.ts → client/util.ts → server/db.ts',
    )
  })

  it('refuses the package runtime by name', async () => {
    const root = await fixture({ 'client/main.ts': `import 'vite-plugin-eta-embeds/runtime'\n` })
    const client = (await devServer(root)).environments['client']
    await expect(client.transformRequest('/client/main.ts')).rejects.toThrow(
      'server-only module vite-plugin-eta-embeds/runtime imported from client code: client/main.ts → vite-plugin-eta-embeds/runtime',
    )
  })

  it('still gives the SSR runner its templates, fs.deny and all', async () => {
    const ssr = (await devServer(await fixture())).environments['ssr']
    if (!isRunnableDevEnvironment(ssr)) throw new Error('the ssr environment is not runnable')
    const { default: templates } = await ssr.runner.import<{ default: Record<string, unknown> }>(
      'virtual:eta-embeds/templates',
    )
    expect(Object.keys(templates)).toEqual(['home'])
  })
})

describe('env files, build output and files outside fs.allow in client code (dev)', () => {
  it.each([
    ['/.envrc?raw', /^env file \.envrc loaded as client code .*read them in server code/],
    ['/.env~?import', /^env file \.env~ loaded as client code/],
    ['/dist/client/x.js', /^build output dist\/client\/x\.js loaded as client code .*import the source file instead/],
    ['/load/x.ts?worker', /^file load\/x\.ts is outside server\.fs\.allow, so the dev server does not serve it/],
  ])('refuses %s in the client environment itself, whatever the route', async (url, message) => {
    const root = await fixture({
      '.envrc': 'SECRET=envrc\n',
      '.env~': 'SECRET=backup\n',
      'dist/client/x.js': 'export const built = 1\n',
      'load/x.ts': 'export const load = 1\n',
    })
    const client = (await devServer(root)).environments['client']
    await expect(client.transformRequest(url)).rejects.toThrow(message)
  })

  it('names the chain when client code imports an env file', async () => {
    const root = await fixture({
      '.envrc': 'SECRET=envrc\n',
      'client/util.ts': `export { default as x } from '../.envrc?raw'\n`,
    })
    const client = (await devServer(root)).environments['client']
    await client.transformRequest('/client/main.ts')
    await expect(client.transformRequest('/client/util.ts')).rejects.toThrow(
      'env file .envrc imported from client code: client/main.ts → client/util.ts → .envrc',
    )
  })
})

describe('what the dev server serves', () => {
  it.each([
    '/.env',
    '/.env.local',
    '/%2Eenv',
    '/server/db.ts',
    '/server/db.ts?import',
    '/server/db.ts?raw',
    '/server//db.ts',
    '/client/../server/db.ts',
    '/SERVER/db.ts',
    '/templates/home.eta',
    '/templates/home.eta?import',
    '/@fs{root}/.env',
    '/@fs{root}/server/db.ts',
    `/@fs${REPO}/plugin/runtime/index.ts`,
    `/@fs${REPO}/stubs/index.ts`,
  ])('answers 404 for %s', async (url) => {
    const root = await fixture({ '.env.local': `WIDGET_API_KEY=${SECRETS.WIDGET_API_KEY}\n` })
    const origin = await serve(await devServer(root))
    const response = await fetch(`${origin}${url.replace('{root}', encodeURI(root))}`)
    expect(response.status).toBe(404)
    const body = await response.text()
    expect(body).not.toContain(SECRETS.WIDGET_API_KEY)
    expect(body).not.toContain('server only')
  })

  it('serves client code', async () => {
    const origin = await serve(await devServer(await fixture()))
    const response = await fetch(`${origin}/client/main.ts`)
    expect(response.status).toBe(200)
    expect(await response.text()).toContain('import.meta.env')
  })

  it('adds to server.fs.deny: Vite keeps refusing those files itself, and the user list stays', async () => {
    const root = await fixture({ 'notes/private.txt': 'private' })
    const vite = await devServer(root, { server: { middlewareMode: true, ws: false, fs: { deny: ['private.txt'] } } })
    const { deny } = vite.config.server.fs
    expect(deny).toContain('private.txt')
    expect(deny).toContain('**/*.eta')
    // The layer under the middleware: Vite's own check, used when it reads a file.
    const allowed = (file: string): boolean => isFileLoadingAllowed(vite.config, path.posix.join(root, file))
    expect(allowed('server/db.ts')).toBe(false)
    expect(allowed('templates/home.eta')).toBe(false)
    expect(allowed('.env')).toBe(false)
    expect(allowed('notes/private.txt')).toBe(false)
    expect(allowed('client/main.ts')).toBe(true)
    const response = await fetch(`${await serve(vite)}/notes/private.txt`)
    expect(response.status).toBe(403)
  })

  it("keeps Vite's default deny list when the user has none", async () => {
    const root = await fixture()
    const vite = await devServer(root)
    const plain = await resolveConfig({ root, configFile: false, logLevel: 'silent' }, 'serve')
    expect(plain.server.fs.deny).toEqual(VITE_DEFAULT_FS_DENY)
    expect(vite.config.server.fs.deny).toEqual(expect.arrayContaining([...plain.server.fs.deny]))
  })

  it("is needed because Vite matches fs.deny against absolute paths: a root-relative 'server/**' denies nothing", async () => {
    const root = await fixture()
    const plain = await resolveConfig(
      { root, configFile: false, logLevel: 'silent', server: { fs: { deny: ['server/**'] } } },
      'serve',
    )
    expect(isFileLoadingAllowed(plain, path.posix.join(root, 'server/db.ts'))).toBe(true)
  })

  it('narrows server.fs.allow to the client entries and node_modules, and sends no CORS headers', async () => {
    const root = await fixture({ 'load/x.ts': 'export const load = 1\n' })
    const { server } = (await devServer(root)).config
    expect(server.fs.allow).toEqual(expect.arrayContaining([`${root}/client`, `${root}/node_modules`]))
    // Vite adds its own client folder; nothing else, and never the root or above it.
    expect(server.fs.allow.filter((dir) => !dir.startsWith(`${root}/`))).toEqual([
      expect.stringMatching(/\/node_modules\/vite\/dist\/client$/),
    ])
    expect(server.cors).toBe(false)
  })

  it('allows the root for an index.html app, still denying private files', async () => {
    const root = await fixture({ 'index.html': '<script type="module" src="/client/main.ts"></script>\n' })
    const config = await resolveConfig({ root, configFile: false, logLevel: 'silent', plugins: [etaEmbeds()] }, 'serve')
    expect(config.server.fs.allow).toContain(root)
    expect(isFileLoadingAllowed(config, `${root}/client/main.ts`)).toBe(true)
    for (const file of ['.envrc', 'dist/server/templates.js', 'server/db.ts', 'templates/home.eta']) {
      expect(isFileLoadingAllowed(config, `${root}/${file}`)).toBe(false)
    }
  })

  it("keeps the user's own server.fs.allow and server.cors", async () => {
    const root = await fixture()
    const cors = { origin: 'http://localhost:3000' }
    const vite = await devServer(root, { server: { middlewareMode: true, ws: false, fs: { allow: [root] }, cors } })
    expect(vite.config.server.fs.allow).toContain(root)
    expect(vite.config.server.cors).toEqual(cors)
  })

  it('listens on loopback by default', async () => {
    const root = await fixture()
    const vite = await createServer(fixtureConfig(root, {}, { server: { port: 0, ws: false } }))
    cleanups.push(() => vite.close())
    await vite.listen()
    const { address } = vite.httpServer!.address() as AddressInfo
    expect(['127.0.0.1', '::1']).toContain(address)
    expect(vite.resolvedUrls?.network).toEqual([])
  })
})
