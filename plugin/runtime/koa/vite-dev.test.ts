/**
 * `embeds({ templates: await viteDev() })` in a Koa app (issue 15): one call
 * gives the app Vite's requests, its client in every page (with the page's
 * nonce), HMR on the app's own port — no listener of Vite's own, none off
 * loopback — the overlay for a failed render, and a clean close.
 */
import { writeFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import Koa from 'koa'
import { request } from 'undici'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createServer, type InlineConfig } from 'vite'
import WebSocket from 'ws'
import { isLoopback, listeningSockets } from '../../../e2e/sockets.ts'
import { fixtureConfig, makeFixture, removeFixture } from '../../guards/test-helpers.ts'
import { recordingLogger } from '../test-helpers.ts'
import { embeds, type EmbedsMiddleware } from './middleware.ts'
import { viteDev, type ViteDevOptions, type ViteDevTemplates } from './vite-dev.ts'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const PAGE =
  '<!doctype html>\n<html>\n<head>\n<title>t</title>\n</head>\n<body><h1>Hello <%= it.name %></h1></body>\n</html>\n'

interface DevApp {
  url: string
  root: string
  server: Server
  middleware: EmbedsMiddleware
  templates: ViteDevTemplates
}

/** A Koa app on 127.0.0.1 whose templates come from `viteDev()` over a fixture project. */
async function devApp(files: Record<string, string> = {}, dev: Partial<ViteDevOptions> = {}): Promise<DevApp> {
  const root = await makeFixture({ 'templates/home.eta': PAGE, ...files })
  cleanups.push(() => removeFixture(root))
  const config: InlineConfig = fixtureConfig(root, {}, { server: { watch: null }, ...dev.config })
  const templates = await viteDev({ root, ...dev, config })
  const middleware = embeds({ templates, vendors: [], logger: recordingLogger() })
  cleanups.push(() => middleware.close())
  const app = new Koa()
  app.use(middleware)
  app.use(async (ctx) => ctx.render('home', { name: 'Ada' }))
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  cleanups.push(() => new Promise((resolve) => server.close(resolve)))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, root, server, middleware, templates }
}

/** Opens Vite's HMR socket the way its client does, on the page's own origin; resolves with its first message. */
function hmrSocket(url: string): Promise<{ socket: WebSocket; first: unknown; messages: unknown[] }> {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'vite-hmr')
  const messages: unknown[] = []
  return new Promise((resolve, reject) => {
    socket.once('error', reject)
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as unknown
      messages.push(message)
      if (messages.length === 1) resolve({ socket, first: message, messages })
    })
  })
}

/** The next message matching `type`, now or later. */
function nextMessage(socket: WebSocket, type: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const onMessage = (data: Buffer): void => {
      const message = JSON.parse(data.toString()) as Record<string, unknown>
      if (message['type'] !== type) return
      socket.off('message', onMessage)
      resolve(message)
    }
    socket.on('message', onMessage)
  })
}

describe('a page rendered with viteDev() templates', () => {
  it("carries Vite's client with the page's nonce at the start of <head>, and Vite answers its requests", async () => {
    const { url } = await devApp()
    const res = await request(`${url}/`)
    const html = await res.body.text()
    const nonce = /'nonce-([^']+)'/.exec(String(res.headers['content-security-policy']))?.[1]
    expect(nonce).toBeTruthy()
    expect(html).toContain(
      `<head><meta property="csp-nonce" nonce="${nonce}"><script type="module" nonce="${nonce}" src="/@vite/client"></script>\n<title>t</title>`,
    )
    expect(html).toContain('<h1>Hello Ada</h1>')

    const client = await request(`${url}/@vite/client`)
    expect(client.statusCode).toBe(200)
    expect(client.headers['content-type']).toMatch(/javascript/)
    expect(await client.body.text()).toContain('ErrorOverlay')
  })

  it('serves HMR on the app’s own port, reloads on a template edit, and opens no listener of its own', async () => {
    const before = await listeningSockets()
    const { url, root, templates } = await devApp()
    await (await request(`${url}/`)).body.dump() // the page a browser would load first
    const { socket, first } = await hmrSocket(url)
    expect(first).toEqual({ type: 'connected' })

    // Every socket this process listens on now that it did not before: the app's, on loopback.
    const added = (await listeningSockets()).filter((s) => !before.some((b) => b.port === s.port))
    expect(added).toEqual([{ address: '127.0.0.1', port: Number(new URL(url).port) }])
    expect(added.every(isLoopback)).toBe(true)

    const reload = nextMessage(socket, 'full-reload')
    const file = path.join(root, 'templates', 'home.eta')
    await writeFile(file, PAGE.replace('Hello', 'Hi'))
    templates.vite.watcher.emit('change', file)
    await reload
    const html = await (await request(`${url}/`)).body.text()
    expect(html).toContain('<h1>Hi Ada</h1>')
    socket.close()
  })

  it('leaves other WebSocket upgrades to the app, and refuses them when the app has no listener of its own', async () => {
    const { url } = await devApp()
    await (await request(`${url}/`)).body.dump()
    const other = new WebSocket(url.replace(/^http/, 'ws'), 'chat')
    const error = await new Promise<Error>((resolve) => other.once('error', resolve))
    expect(error.message).toMatch(/socket hang up|closed before/i)
  })

  it("keeps the config's own server.ws: no relay when HMR is off", async () => {
    const { url, server } = await devApp({}, { config: { server: { ws: false } } })
    await (await request(`${url}/`)).body.dump()
    expect(server.listenerCount('upgrade')).toBe(0)
  })
})

describe('a failed render in development', () => {
  it('is a 500 in Vite’s overlay with its place and frame, reported once in Vite’s terminal', async () => {
    const { url, templates } = await devApp({ 'templates/home.eta': '<p><%= it.user.profile.city %></p>\n' })
    const report = vi.spyOn(templates.vite.config.logger, 'error')
    const res = await request(`${url}/`)
    const page = await res.body.text()
    expect(res.statusCode).toBe(500)
    expect(res.headers['cache-control']).toBe('no-store')
    const nonce = /'nonce-([^']+)'/.exec(String(res.headers['content-security-policy']))?.[1]
    expect(page).toContain(`<script type="module" nonce="${nonce}" src="/@vite/client"></script>`)
    expect(page).toContain('new ErrorOverlay(')
    expect(page).toContain('"loc":{"file":"templates/home.eta","line":1,"column":')
    expect(report).toHaveBeenCalledTimes(1)
    expect(String(report.mock.calls[0]?.[0])).toMatch(
      /TypeError: Cannot read properties of undefined \(reading 'profile'\) at templates\/home\.eta:1:\d+\n> 1 \|/,
    )
  })

  it('a compile error too, with the directive’s place', async () => {
    const { url } = await devApp({ 'templates/home.eta': '<p>\n<<widget colour="red">>\n</p>\n' })
    const res = await request(`${url}/`)
    const page = await res.body.text()
    expect(res.statusCode).toBe(500)
    expect(page).toContain('new ErrorOverlay(')
    expect(page).toMatch(
      /<pre>unknown attribute &#39;colour&#39; on &lt;&lt;widget&gt;&gt; at templates\/home\.eta:2:10 /,
    )
    expect(page).toMatch(/"loc":\{"file":"[^"]*\/templates\/home\.eta","line":2,"column":10\}/)
  })

  it('is left to the app when the route catches it', async () => {
    const root = await makeFixture({ 'templates/home.eta': '<%= it.missing.x %>' })
    cleanups.push(() => removeFixture(root))
    const templates = await viteDev({ root, config: fixtureConfig(root, {}, { server: { watch: null } }) })
    const middleware = embeds({ templates, vendors: [], logger: recordingLogger() })
    cleanups.push(() => middleware.close())
    const app = new Koa()
    app.use(middleware)
    app.use(async (ctx) => {
      await ctx.render('home').catch(() => {
        ctx.status = 503
        ctx.body = 'our own page'
      })
    })
    const server = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    cleanups.push(() => new Promise((resolve) => server.close(resolve)))
    const res = await request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
    expect(res.statusCode).toBe(503)
    expect(await res.body.text()).toBe('our own page')
  })
})

describe('closing', () => {
  it('closes the Vite server viteDev() started, its HMR sockets and the relay', async () => {
    const { url, server, middleware, templates } = await devApp()
    await (await request(`${url}/`)).body.dump()
    const { socket } = await hmrSocket(url)
    const socketClosed = new Promise((resolve) => socket.once('close', resolve))
    expect(server.listenerCount('upgrade')).toBe(1)
    await middleware.close()
    await socketClosed
    expect(server.listenerCount('upgrade')).toBe(0)
    // A closed Vite server no longer runs its module runner.
    await expect(templates()).rejects.toThrow()
  })

  it('leaves a Vite server it was given open', async () => {
    const root = await makeFixture({ 'templates/home.eta': PAGE })
    cleanups.push(() => removeFixture(root))
    const vite = await createServer(
      fixtureConfig(root, {}, { server: { middlewareMode: true, ws: false, watch: null }, appType: 'custom' }),
    )
    cleanups.push(() => vite.close())
    const templates = await viteDev({ vite })
    const middleware = embeds({ templates, vendors: [], logger: recordingLogger() })
    await middleware.close()
    expect(Object.keys(await templates())).toEqual(['home'])
  })

  it('refuses a Vite server that is not in middleware mode', async () => {
    const root = await makeFixture()
    cleanups.push(() => removeFixture(root))
    const vite = await createServer(fixtureConfig(root, {}, { server: { ws: false, watch: null } }))
    cleanups.push(() => vite.close())
    await expect(viteDev({ vite })).rejects.toThrow(/middleware mode/)
  })
})
