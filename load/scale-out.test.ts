/**
 * Two instances behind one (imaginary) load balancer (issue 6): they share
 * `SESSION_KEYS`, so a session made on one is valid on the other; everything
 * else — counters, caches, breakers — is per instance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import {
  carameloTokens,
  getPage,
  login,
  sdkTokens,
  startVendors,
  unescapeHtml,
  shown,
  widgetTokens,
  type Vendors,
} from './client.ts'
import { CANARIES, PASSWORD, serverEnv, startServer, type ServerProcess } from './server.ts'

let vendors: Vendors
let a: ServerProcess
let b: ServerProcess

beforeAll(async () => {
  vendors = await startVendors()
  ;[a, b] = await Promise.all([startServer(serverEnv(vendors.urls)), startServer(serverEnv(vendors.urls))])
})

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()])
  await vendors?.close()
})

/** `eta_embeds_vendor_calls_total` by vendor, from an instance's /metrics. */
async function vendorCalls(server: ServerProcess): Promise<Record<string, number>> {
  const res = await request(`${server.url}/metrics`, { headers: { authorization: `Bearer ${CANARIES.metricsToken}` } })
  const text = await res.body.text()
  expect(res.statusCode).toBe(200)
  const calls: Record<string, number> = {}
  for (const [, vendor = '', n] of text.matchAll(/^eta_embeds_vendor_calls_total\{vendor="([^"]+)"\} (\d+)$/gm)) {
    calls[vendor] = Number(n)
  }
  return calls
}

describe('two instances sharing SESSION_KEYS', () => {
  it('accept each other’s sessions, and count only their own vendor calls', async () => {
    expect(a.port).not.toBe(b.port)
    const cookie = await login(a.url, 'alice@example.com', PASSWORD)

    const onA = [await getPage(a.url, cookie), await getPage(a.url, cookie)]
    const onB = await getPage(b.url, cookie)
    for (const page of [...onA, onB]) {
      expect(page.status).toBe(200)
      expect(page.body).toContain('Hello, Alice!')
      expect(shown(page.body)).not.toContain('data-fallback=')
      expect([widgetTokens(page.body), sdkTokens(page.body), carameloTokens(page.body)].map((t) => t.length)).toEqual([
        1, 1, 1,
      ])
    }

    // Two pages on A, one on B; each page is one call per vendor flow, labelled
    // by adapter name (the lazy widget calls none until its frame loads).
    expect(await vendorCalls(a)).toEqual({ 'returning-proxy': 2, 'returning-sdk': 2, caramelo: 2 })
    expect(await vendorCalls(b)).toEqual({ 'returning-proxy': 1, 'returning-sdk': 1, caramelo: 1 })
    expect(vendors.caramelo.minted).toHaveLength(3)
    expect(vendors.returningSdk.minted).toHaveLength(3)
  })

  it('serve a lazy frame that the other instance rendered (its URL is signed with keys from SESSION_KEYS)', async () => {
    const cookie = await login(a.url, 'alice@example.com', PASSWORD)
    const home = await getPage(a.url, cookie)
    const src = /<iframe [^>]*loading="lazy" src="([^"]+)"/.exec(home.body)?.[1]
    // The adapter's name, the directive's attributes (sorted), then the signature over all of them.
    expect(src).toMatch(
      /^\/_embeds\/widget\?vendor=returning-proxy&amp;fallback=[^"]*&amp;type=milestone&amp;sig=[\w-]+$/,
    )
    const frame = await getPage(b.url, cookie, { path: unescapeHtml(src ?? '') })
    expect(frame.status).toBe(200)
    expect(frame.body).toMatch(/\btoken\s*:\s*"ey/)
  })

  it('(control) an instance with other keys does not accept that session', async () => {
    const other = await startServer(serverEnv(vendors.urls, { SESSION_KEYS: `other-${CANARIES.sessionKey}` }))
    try {
      const cookie = await login(a.url, 'alice@example.com', PASSWORD)
      const res = await request(`${other.url}/`, { headers: { cookie } })
      await res.body.dump()
      expect([res.statusCode, res.headers['location']]).toEqual([302, '/login'])
    } finally {
      await other.stop()
    }
  })
})
