/**
 * Three instances act as one on Redis (issue 11): one redis-server, the
 * vendor stubs, and three production servers with `REDIS_URL`,
 * `EMBEDS_REUSE_WIDGET_TOKENS=1` and the same `SESSION_KEYS`, behind a
 * round-robin client (request i goes to instance i % 3). The stubs' own
 * records (`received`, `minted`) are the witness of every vendor call: what
 * the fleet did, not what it says it did. The cases run in order on the same
 * fleet; the breaker case, which leaves Caramelo switched off, comes last but
 * for the scan of Redis, which reads what all the others stored.
 */
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RedisServer } from '../plugin/runtime/store/test-helpers.ts'
import {
  carameloTokens,
  getPage,
  login,
  sdkTokens,
  startVendors,
  unescapeHtml,
  shown,
  widgetTokens,
  type Page,
  type Vendors,
} from './client.ts'
import {
  ALICE,
  BOB,
  badLogin,
  encodedForms,
  fleetEnv,
  homeStatus,
  loadUser,
  logout,
  redisContents,
  startFleet,
} from './fleet.ts'
import { CANARIES, PASSWORD, WIDGET_ID, type ServerProcess } from './server.ts'

const VIEWS = 30
const SIGNIN = /^\/widget\/[^/]+\/signin$/
const SDK_TOKEN = '/v2/api/widget-access-keys/token'
const INTRANET_AUTH = /^\/api\/chatbox\/project\/[^/]+\/intranet-auth$/
/** The account the bad-login case locks (nobody else uses it). */
const TARGET = loadUser(1)

let redis: RedisServer
let vendors: Vendors
let fleet: ServerProcess[] = []
const at = (i: number): ServerProcess => {
  const server = fleet[i % fleet.length]
  if (!server) throw new Error('the fleet did not start')
  return server
}

beforeAll(async () => {
  redis = await RedisServer.start()
  vendors = await startVendors()
  // The counts checked here assume Redis answers: fleetEnv's deadlines see to it.
  fleet = await startFleet(3, fleetEnv(vendors, redis.url, 1))
})

afterAll(async () => {
  await Promise.all(fleet.map((s) => s.stop()))
  await vendors?.close()
  await redis?.dispose()
})

/** How many of `values` are each distinct value. */
function tally(values: string[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const v of values) out[v] = (out[v] ?? 0) + 1
  return out
}

/** Resolves once `server`'s /metrics shows `vendor`'s breaker open; fails after 15 s of polling. */
async function breakerOpen(server: ServerProcess, vendor: string): Promise<void> {
  const line = `eta_embeds_breaker_open{vendor="${vendor}"} 1`
  let last = ''
  for (const start = Date.now(); Date.now() - start < 15_000; await new Promise((r) => setTimeout(r, 50))) {
    const res = await request(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${CANARIES.metricsToken}` },
    })
    last = await res.body.text()
    if (last.split('\n').includes(line)) return
  }
  throw new Error(`${server.url}/metrics never showed ${line}; last answer:\n${last}`)
}

function expectWholePage(page: Page, name: string): void {
  expect(page.status).toBe(200)
  expect(page.body).toContain(`Hello, ${name}!`)
  expect(shown(page.body)).not.toContain('data-fallback=')
}

describe('three instances on one Redis, round-robin', () => {
  it(`${VIEWS} views of alice and bob: one widget page, one token per user and flow, one Caramelo token per view`, async () => {
    const users = [
      { ...ALICE, name: 'Alice', cookie: await login(at(0).url, ALICE.email, PASSWORD) },
      { ...BOB, name: 'Bob', cookie: await login(at(1).url, BOB.email, PASSWORD) },
    ] as const
    const seen = { proxy: [] as string[], sdk: [] as string[], caramelo: [] as string[] }
    for (let i = 0; i < VIEWS; i++) {
      const user = users[i % 2] ?? users[0]
      const page = await getPage(at(i).url, user.cookie)
      expectWholePage(page, user.name)
      const tokens = [widgetTokens(page.body), sdkTokens(page.body), carameloTokens(page.body)]
      expect(tokens.map((t) => t.length)).toEqual([1, 1, 1])
      const [[proxy = ''], [sdk = ''], [chat = '']] = tokens as [string[], string[], string[]]
      // Each token is one the vendor minted for this very user.
      expect(vendors.returning.minted.find((m) => m.token === proxy)?.email).toBe(user.email)
      expect(vendors.returningSdk.minted.find((m) => m.token === sdk)?.identifiers['data-email']).toBe(user.email)
      expect(vendors.caramelo.minted.find((m) => m.token === chat)?.externalCustomerId).toBe(user.id)
      seen.proxy.push(proxy)
      seen.sdk.push(sdk)
      seen.caramelo.push(chat)
    }

    const { returning, returningSdk, caramelo } = vendors
    const pageGets = returning.received.filter((r) => r.method === 'GET' && r.path === `/store/${WIDGET_ID}`)
    const signins = returning.received.filter((r) => r.method === 'POST' && SIGNIN.test(r.path))
    const sdkCalls = returningSdk.received.filter((r) => r.method === 'POST' && r.path === SDK_TOKEN)
    const chatCalls = caramelo.received.filter((r) => r.method === 'POST' && INTRANET_AUTH.test(r.path))
    console.log(
      `[fleet] ${VIEWS} views on 3 instances: widget-page GETs ${pageGets.length}, ` +
        `Returning sign-ins ${JSON.stringify(tally(signins.map((r) => r.headers['email'] ?? '')))}, ` +
        `SDK tokens ${JSON.stringify(tally(returningSdk.minted.map((m) => m.identifiers['data-email'] ?? '')))}, ` +
        `Caramelo intranet-auth ${chatCalls.length}`,
    )
    // The widget page once for the fleet within its TTL (one per instance without Redis).
    expect(pageGets).toHaveLength(1)
    // One sign-in and one embed token per user for the fleet, reused by every instance.
    expect(tally(signins.map((r) => r.headers['email'] ?? ''))).toEqual({ [ALICE.email]: 1, [BOB.email]: 1 })
    expect(tally(returning.minted.map((m) => m.email))).toEqual({ [ALICE.email]: 1, [BOB.email]: 1 })
    expect(sdkCalls).toHaveLength(2)
    expect(tally(returningSdk.minted.map((m) => m.identifiers['data-email'] ?? ''))).toEqual({
      [ALICE.email]: 1,
      [BOB.email]: 1,
    })
    expect(new Set(seen.proxy).size).toBe(2)
    expect(new Set(seen.sdk).size).toBe(2)
    // Caramelo's tokens are single-use: one call and one distinct token per view, never stored.
    expect(chatCalls).toHaveLength(VIEWS)
    expect(caramelo.minted).toHaveLength(VIEWS)
    expect(new Set(seen.caramelo).size).toBe(VIEWS)
  })

  it('a lazy frame asked of all three instances at once fetches its widget page once (single-flight across instances)', async () => {
    const cookie = await login(at(2).url, ALICE.email, PASSWORD)
    const home = await getPage(at(2).url, cookie)
    const src = /<iframe [^>]*loading="lazy" src="([^"]+)"/.exec(home.body)?.[1]
    expect(src).toBeDefined()
    const path = unescapeHtml(src ?? '')
    const aliceToken = vendors.returning.minted.find((m) => m.email === ALICE.email)?.token
    const pagePath = /\/milestone\/[^/]+$/

    // Six frames at once, two per instance, with nothing cached yet for that page.
    const frames = await Promise.all(fleet.flatMap((s) => [0, 1].map(() => getPage(s.url, cookie, { path }))))

    for (const frame of frames) {
      expect(frame.status).toBe(200)
      expect(/\btoken\s*:\s*"([^"]*)"/.exec(frame.body)?.[1]).toBe(aliceToken)
    }
    const gets = vendors.returning.received.filter((r) => r.method === 'GET' && pagePath.test(r.path))
    expect(gets).toHaveLength(1)
    // Alice's token was reused: still her one sign-in.
    expect(vendors.returning.minted.filter((m) => m.email === ALICE.email)).toHaveLength(1)
  })

  it('the 6th bad login for one account is refused (429) whichever instance gets it', async () => {
    // Five failures spread over the three instances, each from its own address:
    // only the account's count can reach the limit.
    for (let i = 0; i < 5; i++) expect(await badLogin(at(i).url, TARGET.email, `192.0.2.${i + 1}`)).toBe(401)
    for (const [i, server] of fleet.entries()) {
      expect(await badLogin(server.url, TARGET.email, `198.51.100.${i + 1}`), `instance ${i}`).toBe(429)
    }
    // (control) the lock is that account's: another one logs in on every instance.
    for (const server of fleet) await expect(login(server.url, BOB.email, PASSWORD)).resolves.toContain('sid=')
  })

  it('a session cookie replayed after logout is anonymous on every instance', async () => {
    const cookie = await login(at(0).url, ALICE.email, PASSWORD)
    for (const server of fleet) expect(await homeStatus(server.url, cookie)).toEqual([200, undefined])

    await logout(at(0).url, cookie)

    for (const [i, server] of fleet.entries()) {
      expect(await homeStatus(server.url, cookie), `instance ${i}`).toEqual([302, '/login'])
    }
  })

  it('a breaker opened by one instance is open on the others: their next render falls back without calling the vendor', async () => {
    const cookie = await login(at(0).url, BOB.email, PASSWORD)
    const calls = (): number => vendors.caramelo.received.filter((r) => INTRANET_AUTH.test(r.path)).length
    vendors.caramelo.setAuthAnswer({ status: 500, body: '{"error":"down"}' })
    // The demo's breaker opens after 5 consecutive failures: all of them on instance 0.
    for (let i = 0; i < 5; i++) {
      const before = calls()
      const page = await getPage(at(0).url, cookie)
      expect(page.status).toBe(200)
      expect(shown(page.body)).toContain('data-fallback="caramelo"')
      expect(calls()).toBe(before + 1)
    }
    const opened = calls()

    // The others learn it from their background sync of the store (every
    // second), not on a page's path: wait for each one's own account of it.
    for (const server of fleet) await breakerOpen(server, 'caramelo')
    for (const [i, server] of fleet.entries()) {
      const page = await getPage(server.url, cookie)
      expect(page.status, `instance ${i}`).toBe(200)
      expect(shown(page.body), `instance ${i}`).toContain('data-fallback="caramelo"')
      // The other vendors still work on that page.
      expect(
        [widgetTokens(page.body), sdkTokens(page.body)].map((t) => t.length),
        `instance ${i}`,
      ).toEqual([1, 1])
      expect(calls(), `instance ${i} called Caramelo`).toBe(opened)
    }
  })

  it('Redis holds no secret, email, user id or token — raw or encoded', async () => {
    const entries = await redisContents(redis.url)
    const secrets = [
      ...Object.values(CANARIES),
      PASSWORD,
      ...[ALICE, BOB, TARGET].flatMap((u) => [u.email, u.id]),
      ...vendors.returning.minted.map((m) => m.token),
      ...vendors.returningSdk.minted.map((m) => m.token),
      ...vendors.caramelo.minted.map((m) => m.token),
    ]
    const forms = secrets.flatMap((secret) => encodedForms(secret).map((form) => ({ secret, form })))
    const found: string[] = []
    for (const { key, values } of entries) {
      for (const bytes of [key, ...values]) {
        const text = bytes.toString('latin1')
        for (const { secret, form } of forms) {
          if (text.includes(form)) found.push(`'${secret.slice(0, 12)}…' in key ${key.toString('latin1')}`)
        }
      }
    }
    const types = tally(entries.map((e) => e.type))
    console.log(
      `[fleet] Redis after every case: ${entries.length} keys ${JSON.stringify(types)}, ` +
        `${entries.reduce((n, e) => n + e.values.length, 0)} values; looked for ${secrets.length} secrets ` +
        `in ${forms.length} forms; vendor calls: widget pages ${vendors.returning.received.filter((r) => r.method === 'GET' && !r.path.includes('/assets/')).length}, ` +
        `sign-ins ${vendors.returning.minted.length}, SDK tokens ${vendors.returningSdk.minted.length}, ` +
        `Caramelo intranet-auth ${vendors.caramelo.received.filter((r) => INTRANET_AUTH.test(r.path)).length}`,
    )
    // The fleet did use Redis: an empty store would prove nothing.
    expect(entries.length).toBeGreaterThan(0)
    expect(found).toEqual([])
  })
})
