/**
 * The counters' route (issue 9, hole 7) through the real Koa middleware:
 * breaker states and failure causes go to the bearer of the metrics token
 * only, and there is no way to serve them to anyone else by accident.
 */
import type { Server } from 'node:http'
import Koa from 'koa'
import { Counter, Registry } from 'prom-client'
import { MockAgent, request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { embeds, type EmbedsMiddleware, type EmbedsMiddlewareOptions } from './middleware.ts'
import { recordingLogger } from '../test-helpers.ts'

const TOKEN = 'metrics-token-4f0c9a2e7b1d-ok'

const running: { server: Server; middleware: EmbedsMiddleware; agent: MockAgent }[] = []

afterEach(async () => {
  for (const { server, middleware, agent } of running.splice(0)) {
    await new Promise((resolve) => server.close(resolve))
    await middleware.close()
    await agent.close()
  }
})

/** A Koa app with the runtime and nothing else; resolves with its base URL. */
async function serve(options: Partial<EmbedsMiddlewareOptions>): Promise<string> {
  const agent = new MockAgent()
  agent.disableNetConnect()
  const middleware = embeds({
    templates: () => Promise.resolve({}),
    dispatcher: agent,
    logger: recordingLogger(),
    ...options,
  })
  const app = new Koa()
  app.use(middleware)
  const server = app.listen(0, '127.0.0.1')
  running.push({ server, middleware, agent })
  await new Promise((resolve) => server.once('listening', resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('no port')
  return `http://127.0.0.1:${address.port}`
}

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers })
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
}

describe('metricsPath', () => {
  it('answers the counters to the bearer of metricsToken only: 401 with WWW-Authenticate and no detail to anyone else', async () => {
    const base = await serve({ metricsPath: '/metrics', metricsToken: TOKEN })
    for (const authorization of [
      undefined,
      '',
      'Bearer',
      'Bearer wrong',
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`,
      TOKEN,
    ]) {
      const res = await get(`${base}/metrics`, authorization === undefined ? {} : { authorization })
      expect(res.status, String(authorization)).toBe(401)
      expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"')
      expect(res.headers['cache-control']).toBe('no-store')
      expect(res.body).not.toContain('eta_embeds')
      expect(res.body).not.toContain(TOKEN)
    }

    for (const authorization of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `Bearer  ${TOKEN}`]) {
      const res = await get(`${base}/metrics`, { authorization })
      expect(res.status, authorization).toBe(200)
      expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
      expect(res.headers['cache-control']).toBe('no-store')
      expect(res.body).toContain('# TYPE eta_embeds_vendor_calls_total counter')
    }
  })

  it("serves the app's own registry when given one: the app's metrics and the runtime's in one answer", async () => {
    const registry = new Registry()
    new Counter({ name: 'app_logins_total', help: 'Logins.', registers: [registry] }).inc(2)
    const base = await serve({ metricsPath: '/metrics', metricsToken: TOKEN, metrics: { registry } })
    const res = await get(`${base}/metrics`, { authorization: `Bearer ${TOKEN}` })
    expect(res.status).toBe(200)
    expect(res.body).toContain('app_logins_total 2\n')
    expect(res.body).toContain('# TYPE eta_embeds_vendor_calls_total counter\n')
    expect(res.body).toBe(await registry.metrics())

    // A second middleware on the same registry (another sub-app, a restart in-process) starts too: it shares the metrics.
    const again = await serve({ metricsPath: '/metrics', metricsToken: TOKEN, metrics: { registry } })
    expect((await get(`${again}/metrics`, { authorization: `Bearer ${TOKEN}` })).body).toBe(await registry.metrics())
  })

  it('cannot be served without a token: metricsPath alone is refused at start', () => {
    expect(() => embeds({ templates: () => Promise.resolve({}), metricsPath: '/metrics' })).toThrow(
      'options.metricsPath needs options.metricsToken',
    )
  })

  it.each([
    ['shorter than 16 characters', 'short-token'],
    ['with a space', 'a metrics token with spaces'],
    ['with a character a header cannot carry', 'metrics-token-é-0123456789'],
  ])('refuses a metricsToken %s, without echoing it', (_what, token) => {
    const start = () => embeds({ templates: () => Promise.resolve({}), metricsPath: '/metrics', metricsToken: token })
    expect(start).toThrow(/options\.metricsToken must be 16 or more characters/)
    expect(start).not.toThrow(token)
  })

  it('refuses a metricsToken without a metricsPath, which would serve nothing', () => {
    expect(() => embeds({ templates: () => Promise.resolve({}), metricsToken: TOKEN })).toThrow(
      'options.metricsToken is set but options.metricsPath is not',
    )
  })
})
