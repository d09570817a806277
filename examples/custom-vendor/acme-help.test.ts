/**
 * Issue 10: an app adds its own vendor without touching the package — this
 * folder only. Through the public entries, as an app does: the Vite plugin
 * compiles `<<acme-help>>` with the adapter's rules, the Koa runtime resolves
 * it against the adapter's stub, and a failing vendor costs the fallback, one
 * log line and, repeated, an open circuit breaker, as the built-ins do.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import Koa from 'koa'
import { createServer, type ViteDevServer } from 'vite'
import { afterEach, describe, expect, it } from 'vitest'
import { etaEmbeds } from 'vite-plugin-eta-embeds'
import { embeds, viteTemplates, type EmbedsLogger, type EmbedsUser } from 'vite-plugin-eta-embeds/runtime'
import { acmeHelp } from './acme-help.ts'
import { startAcmeStub, type AcmeStub } from './acme-stub.ts'

const API_KEY = 'acme-canary-api-key-5f0d2c'
const ADA: EmbedsUser = { id: 'usr_ada_1815', email: 'ada@example.com', name: 'Ada' }
const PAGE = `<main><h1>Help</h1><<acme-help topic="billing" fallback="help-unavailable">></main>`

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** An app folder with `templates/{name}.eta` for each entry. */
async function app(templates: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'acme-help-'))
  cleanups.push(() => rm(root, { recursive: true, force: true }))
  await mkdir(path.join(root, 'templates'))
  for (const [name, source] of Object.entries(templates)) {
    await writeFile(path.join(root, 'templates', `${name}.eta`), source)
  }
  return root
}

/** Vite in middleware mode with the plugin, told about the app's adapter (or not). */
async function vite(root: string, vendors = [acmeHelp]): Promise<ViteDevServer> {
  const server = await createServer({
    root,
    configFile: false,
    logLevel: 'silent',
    plugins: [etaEmbeds({ vendors })],
    server: { middlewareMode: true, ws: false },
    appType: 'custom',
  })
  cleanups.push(() => server.close())
  return server
}

async function stub(): Promise<AcmeStub> {
  const started = await startAcmeStub(API_KEY)
  cleanups.push(() => started.close())
  return started
}

interface Lines {
  lines: { fields: Record<string, unknown>; message: string }[]
}

/** A Koa app with the runtime, Ada signed in; resolves to its origin and its log. */
async function koa(
  dev: ViteDevServer,
  acme: AcmeStub | undefined,
): Promise<{ origin: string; log: Lines; errors: Error[] }> {
  const log: Lines = { lines: [] }
  const errors: Error[] = []
  const logger: EmbedsLogger = {
    warn: (fields, message) => void log.lines.push({ fields, message }),
    info: (fields, message) => void log.lines.push({ fields, message }),
  }
  const middleware = embeds({
    templates: viteTemplates(dev),
    vendors: acme ? [acmeHelp({ apiKey: API_KEY, apiUrl: acme.url })] : [],
    user: () => ADA,
    logger,
    breaker: { failureThreshold: 2, cooldownMs: 60_000 },
    // The whole page, each directive where it stands: what is checked here is the
    // adapter's HTML, not how the page streams.
    stream: false,
  })
  const application = new Koa()
  application.use(middleware)
  // What ctx.render() rejects with, seen by the route; the runtime answers it (a bare 500, one log line).
  application.use((ctx) =>
    ctx.render('page').catch((error: unknown) => {
      errors.push(error as Error)
      throw error
    }),
  )
  const server: Server = await new Promise((resolve) => {
    const s = application.listen(0, '127.0.0.1', () => resolve(s))
  })
  cleanups.push(async () => {
    await new Promise((resolve) => server.close(resolve))
    await middleware.close()
  })
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, log, errors }
}

describe('an app-defined vendor adapter', () => {
  it('compiles with its rules and renders the session user’s panel, its script once with the nonce', async () => {
    const acme = await stub()
    const root = await app({ page: PAGE, 'help-unavailable': '<p>Help is unavailable.</p>' })
    const { origin, log } = await koa(await vite(root), acme)

    const res = await fetch(origin)
    const html = await res.text()
    expect(res.status).toBe(200)
    expect(acme.sessions).toEqual([{ userId: ADA.id, topic: 'billing', token: expect.any(String) }])
    const token = acme.sessions[0]?.token ?? ''
    const nonce = /script-src 'nonce-([^']+)'/.exec(res.headers.get('content-security-policy') ?? '')?.[1]
    expect(html).toBe(
      `<main><h1>Help</h1><acme-help-panel topic="billing" session="${token}"></acme-help-panel>` +
        `<script nonce="${nonce}" src="${acme.url}/panel.js"></script></main>`,
    )
    expect(JSON.stringify(log.lines)).not.toContain(API_KEY)
  })

  it('fails over like a built-in: the fallback, one log line without secrets, then an open breaker', async () => {
    const acme = await stub()
    const root = await app({ page: PAGE, 'help-unavailable': '<p>Help is unavailable.</p>' })
    const { origin, log } = await koa(await vite(root), acme)
    acme.failWith(503)

    for (let i = 0; i < 3; i++) {
      const res = await fetch(origin)
      expect(res.status).toBe(200)
      expect(await res.text()).toBe('<main><h1>Help</h1><p>Help is unavailable.</p></main>')
    }
    const failures = log.lines.filter((l) => l.message.startsWith('vendor call failed'))
    expect(failures.map((l) => [l.fields['vendor'], l.fields['directive'], l.fields['cause']])).toEqual([
      ['acme-help', 'acme-help', 'ERR_VENDOR_STATUS'],
      ['acme-help', 'acme-help', 'ERR_VENDOR_STATUS'],
      // The third never reached the vendor: two failures opened the breaker.
      ['acme-help', 'acme-help', 'ERR_VENDOR_CIRCUIT_OPEN'],
    ])
    expect(log.lines.some((l) => l.message === 'circuit breaker open' && l.fields['vendor'] === 'acme-help')).toBe(true)
    expect(JSON.stringify(log.lines)).not.toContain(API_KEY)
  })

  it('is checked at compile time by the Vite plugin: a bad value is a located error', async () => {
    const root = await app({ page: `<p>\n  <<acme-help topic="refunds">></p>` })
    const dev = await vite(root)
    await expect(viteTemplates(dev)()).rejects.toThrow(
      /bad value "refunds" for 'topic' on <<acme-help>>.*templates\/page\.eta:2:22.*expected one of billing, orders, account/s,
    )
  })

  it('is an unknown directive to a plugin that was not told about it', async () => {
    const root = await app({ page: PAGE })
    const dev = await vite(root, [])
    await expect(viteTemplates(dev)()).rejects.toThrow(/unknown directive '<<acme-help>>'.*known: widget, caramelo/s)
  })

  it('fails the render with a clear error when the runtime has no adapter for it', async () => {
    const root = await app({ page: PAGE, 'help-unavailable': '<p>Help is unavailable.</p>' })
    const { origin, errors, log } = await koa(await vite(root), undefined)
    const res = await fetch(origin)
    expect(res.status).toBe(500)
    expect(errors.map((e) => e.message)).toEqual([
      '<<acme-help>> at templates/page.eta:1:20 has no vendor adapter in the runtime (pass it, configured, in options.vendors)',
    ])
    expect(log.lines.map((l) => l.message)).toEqual(['render failed: ERR_CONFIG at templates/page.eta:1:20'])
  })
})
