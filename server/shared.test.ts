/**
 * `REDIS_URL` (issue 11): demo instances on one real Redis act as one — a
 * bad-login count and a logout reach every instance — and Redis is never a
 * single point of failure: down at start, killed mid-traffic, each is one log
 * line and no failed request. Nothing in Redis names a user, an address or a
 * session. Redis is Debian's `redis-server` on a free loopback port.
 */
import { Redis } from 'ioredis'
import { pino, type Logger } from 'pino'
import { request } from 'undici'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Sealer } from '../plugin/runtime/store/seal.ts'
import { useRedisServer } from '../plugin/runtime/store/test-helpers.ts'
import { storeSecretKeys } from './config.ts'
import { openShared, type DemoShared } from './shared.ts'
import { closeDemos, cookies, login, recordingLogger, startDemo } from './test-helpers.ts'

const redis = useRedisServer()
const SESSION_KEYS = ['fleet-key-0123456789abcdef']
const PASSWORD = 'demo-password'
const UNREACHABLE = /^REDIS_URL .* is unreachable: this instance works from memory until it answers$/
const OUTAGE = 'shared store unavailable; this instance works from its own memory'
const RECOVERED = 'shared store available again'
/**
 * Each Redis command's deadline here (`REDIS_TIMEOUT_MS`), far above the
 * default 100 ms. The sharing cases count on Redis answering: at 100 ms, a
 * machine at load 14 saw answers late, each instance then rightly counted from
 * its own memory, and "at most five" became seven. The outage cases stop or
 * kill Redis, which fails commands at once (refused, or the connection closed),
 * whatever the deadline; with the default, a late answer before or after the
 * outage was a second outage line. A hung Redis, where the deadline itself
 * decides, is the store's own test (redis.test.ts, on a paused redis-server).
 */
const REDIS_DEADLINE_MS = 5000

const opened: DemoShared[] = []
let admin: Redis | undefined

beforeEach(async () => {
  if (!admin) {
    admin = new Redis(redis().url, { lazyConnect: true })
    // The tests stop and kill Redis: this client's connection errors are expected.
    admin.on('error', () => {})
  }
  if (admin.status === 'wait') await admin.connect()
  await admin.flushall()
})

afterEach(async () => {
  await closeDemos()
  await Promise.all(opened.splice(0).map((shared) => shared.store.close()))
})

afterAll(() => {
  admin?.disconnect()
})

/** The shared state of one instance, on `url`. */
async function share(logger: Logger, url = redis().url): Promise<DemoShared> {
  const shared = await openShared(url, storeSecretKeys(SESSION_KEYS), logger, REDIS_DEADLINE_MS)
  opened.push(shared)
  return shared
}

/** An instance of the demo on its own store connection, as `npm start` with REDIS_URL makes it. */
async function instance(logger: Logger = pino({ level: 'silent' }), url?: string): Promise<string> {
  return startDemo({ sessionKeys: SESSION_KEYS, proxy: 1, shared: await share(logger, url), logger })
}

/** A login from `address` (through the one trusted proxy); answers its status. */
async function attempt(base: string, email: string, password: string, address = '203.0.113.9'): Promise<number> {
  const res = await login(base, email, password, { 'x-forwarded-for': address })
  await res.body.dump()
  return res.statusCode
}

/** Logs alice in on `base` and answers her session cookie. */
async function aliceSession(base: string): Promise<string> {
  const res = await login(base, 'alice@example.com', PASSWORD)
  await res.body.dump()
  expect(res.statusCode).toBe(302)
  return cookies(res)
}

/** GET / with `cookie`: the status, and the Set-Cookie headers of the answer. */
async function home(base: string, cookie: string): Promise<{ status: number; body: string; setCookie: string[] }> {
  const res = await request(`${base}/`, { headers: { cookie } })
  return {
    status: res.statusCode,
    body: await res.body.text(),
    setCookie: ([] as string[]).concat(res.headers['set-cookie'] ?? []),
  }
}

async function logout(base: string, cookie: string): Promise<void> {
  const res = await request(`${base}/logout`, { method: 'POST', headers: { cookie } })
  await res.body.dump()
  expect(res.statusCode).toBe(302)
}

/** The session id inside a `sid=…` cookie (koa-session's base64 JSON). */
function sessionId(cookie: string): string {
  const value = /(?:^|; )sid=([^;]+)/.exec(cookie)?.[1] ?? ''
  return (JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as { sid: string }).sid
}

function messages(lines: Record<string, unknown>[]): unknown[] {
  return lines.map((l) => l['msg'])
}

describe('two instances on one Redis', () => {
  it('count bad logins together: five spread over both, the sixth for that account is 429 on either', async () => {
    const [a, b] = [await instance(), await instance()]
    // Each failure from a new address: only the account's own count can lock it.
    for (let i = 0; i < 5; i++) {
      expect(await attempt(i % 2 ? b : a, 'alice@example.com', 'wrong', `198.51.100.${i}`)).toBe(401)
    }
    expect(await attempt(a, 'alice@example.com', PASSWORD, '198.51.100.50')).toBe(429)
    expect(await attempt(b, 'alice@example.com', PASSWORD, '198.51.100.51')).toBe(429)
    // (control) another account is not locked, on either.
    expect(await attempt(b, 'bob@example.com', PASSWORD, '198.51.100.52')).toBe(302)
  })

  it('count bad logins in flight together: of twelve at once over both, at most five get their password checked', async () => {
    const [a, b] = [await instance(), await instance()]
    const statuses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => attempt(i % 2 ? b : a, 'alice@example.com', 'wrong', `198.51.100.${i}`)),
    )
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5)
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([])
    expect(await attempt(b, 'alice@example.com', PASSWORD, '198.51.100.99')).toBe(429)
  })

  it('share a logout: a cookie replayed after logout on A is anonymous on B, which clears it', async () => {
    const [a, b] = [await instance(), await instance()]
    const session = await aliceSession(a)
    await expect(home(b, session)).resolves.toMatchObject({ status: 200, body: 'home of Alice' })

    await logout(a, session)

    const replayed = await home(b, session)
    expect(replayed.status).toBe(302)
    expect(replayed.setCookie.find((c) => c.startsWith('sid='))).toMatch(/expires=Thu, 01 Jan 1970/i)
    expect((await home(a, session)).status).toBe(302)
    // (control) a new login is a new session, valid on both.
    const next = await aliceSession(b)
    await expect(home(a, next)).resolves.toMatchObject({ status: 200, body: 'home of Alice' })
  })

  it('ignore a revocation in Redis that does not open, and log it without its content', async () => {
    const { logger, lines } = recordingLogger()
    const [a, b] = [await instance(logger), await instance(logger)]
    const session = await aliceSession(a)
    // Someone with write access to Redis, but not the key, forges a revocation under the right name.
    const name = new Sealer(storeSecretKeys(SESSION_KEYS)).storeKey('revoked', sessionId(session))
    await admin!.set(`eta-embeds:${name}`, 'forged-revocation-value', 'PX', 60_000)

    await expect(home(b, session)).resolves.toMatchObject({ status: 200, body: 'home of Alice' })
    const ignored = lines.filter((l) => l['msg'] === 'ignored a session revocation in Redis that does not open')
    expect(ignored).toHaveLength(1)
    expect(ignored[0]).toMatchObject({ level: 40, bytes: 23 })
    expect(JSON.stringify(lines)).not.toContain('forged-revocation')
    // (control) a real logout still ends it.
    await logout(a, session)
    expect((await home(b, session)).status).toBe(302)
  })

  it('keep no email, address or session id in Redis, raw or encoded', async () => {
    const [a, b] = [await instance(), await instance()]
    expect(await attempt(a, 'Carol.Canary@Example.com', 'wrong', '198.51.100.77')).toBe(401)
    expect(await attempt(b, 'bob@example.com', 'wrong', '198.51.100.78')).toBe(401)
    const session = await aliceSession(b)
    const sid = (JSON.parse(Buffer.from(/sid=([^;]+)/.exec(session)![1]!, 'base64').toString()) as { sid: string }).sid
    await logout(a, session)

    const keys = await admin!.keys('*')
    // What was written: the throttle's counters (two addresses, two emails, the budget) and a revocation.
    expect(keys.some((k) => k.startsWith('eta-embeds:login-failures:login:'))).toBe(true)
    expect(keys.some((k) => k.startsWith('eta-embeds:login-budget:login:'))).toBe(true)
    expect(keys.some((k) => k.startsWith('eta-embeds:revoked:'))).toBe(true)
    const values = await Promise.all(keys.map((k) => admin!.getBuffer(k)))
    const dump = Buffer.concat([Buffer.from(keys.join('\n')), ...values.filter((v): v is Buffer => v !== null)])
    const canaries = [
      'carol.canary@example.com',
      'Carol.Canary@Example.com',
      'bob@example.com',
      'alice@example.com',
      '198.51.100.77',
      '198.51.100.78',
      '127.0.0.1',
      sid,
    ]
    for (const canary of canaries) {
      for (const encoded of [
        canary,
        ...(['base64', 'base64url', 'hex'] as const).map((e) => Buffer.from(canary).toString(e)),
      ]) {
        expect(dump.includes(Buffer.from(encoded)), `${canary} as ${encoded}`).toBe(false)
        expect(dump.includes(Buffer.from(encoded.toLowerCase())), `${canary} as ${encoded}`).toBe(false)
      }
    }
    expect(dump.includes(Buffer.from(sid, 'base64url')), 'the session id bytes').toBe(false)
  })
})

describe('one instance without Redis', () => {
  it('refuses a cookie replayed after logout (revocations in its own memory)', async () => {
    const base = await startDemo({ sessionKeys: SESSION_KEYS })
    const session = await aliceSession(base)
    await expect(home(base, session)).resolves.toMatchObject({ status: 200 })
    await logout(base, session)
    const replayed = await home(base, session)
    expect(replayed.status).toBe(302)
    expect(replayed.setCookie.find((c) => c.startsWith('sid='))).toMatch(/expires=Thu, 01 Jan 1970/i)
  })
})

describe('Redis is no single point of failure', () => {
  it('down at start: the instance starts, says so in one line (password masked), and logs in and throttles on its own', async () => {
    const server = redis()
    await server.stop()
    try {
      const { logger, lines } = recordingLogger()
      const base = await instance(logger, `redis://:hunter2-redis-password@127.0.0.1:${server.port}/0`)
      expect(messages(lines).filter((m) => UNREACHABLE.test(String(m)))).toEqual([
        `REDIS_URL redis://***@127.0.0.1:${server.port}/0 is unreachable: this instance works from memory until it answers`,
      ])

      const session = await aliceSession(base)
      await expect(home(base, session)).resolves.toMatchObject({ status: 200, body: 'home of Alice' })
      await logout(base, session)
      expect((await home(base, session)).status).toBe(302)
      for (let i = 0; i < 5; i++) expect(await attempt(base, 'bob@example.com', 'wrong', `198.51.100.${i}`)).toBe(401)
      expect(await attempt(base, 'bob@example.com', PASSWORD, '198.51.100.9')).toBe(429)

      // Still the same outage: no second line, and never the password.
      expect(messages(lines).filter((m) => m === OUTAGE || UNREACHABLE.test(String(m)))).toHaveLength(1)
      expect(JSON.stringify(lines)).not.toContain('hunter2')
    } finally {
      await server.restart()
    }
  })

  it('killed mid-traffic: no 5xx, and each instance logs one line for the outage and one when it answers again', async () => {
    const [logA, logB] = [recordingLogger(), recordingLogger()]
    const [a, b] = [await instance(logA.logger), await instance(logB.logger)]
    const session = await aliceSession(a)
    await expect(home(b, session)).resolves.toMatchObject({ status: 200 })

    const server = redis()
    await server.kill()
    const statuses: number[] = []
    for (let round = 0; round < 10; round++) {
      const results = await Promise.all([
        home(a, session).then((r) => r.status),
        home(b, session).then((r) => r.status),
        attempt(round % 2 ? a : b, 'bob@example.com', 'wrong', `198.51.100.${round}`),
      ])
      statuses.push(...results)
    }
    expect(statuses.filter((s) => s >= 500)).toEqual([])
    // Logged in all along (the revocation check fell back), and bob throttled per instance: 5 failures on each.
    expect(statuses.filter((s) => s === 200)).toHaveLength(20)
    for (const { lines } of [logA, logB]) expect(messages(lines).filter((m) => m === OUTAGE)).toHaveLength(1)

    await server.restart()
    await expect
      .poll(async () => {
        await Promise.all([home(a, session), home(b, session)])
        return [logA, logB].map(({ lines }) => messages(lines).filter((m) => m === RECOVERED).length)
      })
      .toEqual([1, 1])
    for (const { lines } of [logA, logB]) expect(messages(lines).filter((m) => m === OUTAGE)).toHaveLength(1)
  })
})
