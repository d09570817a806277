/**
 * The demo's bad-login throttle (issue 9, hole 5), against a real listening
 * app: per address and per email, keyed by the proxy's view of the address,
 * never forgetting a lock early, and bounded by a failure budget shared by all.
 * Time moves through Vitest's fake `Date`, never through sleeps.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { closeDemos, login, recordingLogger, startDemo } from './test-helpers.ts'
import { LoginThrottle } from './throttle.ts'

const PASSWORD = 'demo-password'

beforeEach(() => {
  // Only Date: sockets and the server keep their real timers.
  vi.useFakeTimers({ toFake: ['Date'] })
})

afterEach(async () => {
  vi.useRealTimers()
  await closeDemos()
})

/** POSTs a login and answers its status (and Retry-After, in seconds, when there is one). */
async function attempt(base: string, email: string, password: string, forwardedFor?: string) {
  const res = await login(base, email, password, forwardedFor ? { 'x-forwarded-for': forwardedFor } : {})
  const body = await res.body.text()
  const retryAfter = res.headers['retry-after']
  return { status: res.statusCode, body, retryAfter: retryAfter === undefined ? undefined : Number(retryAfter) }
}

/** The n-th of many distinct IPv4 addresses. */
function address(n: number): string {
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`
}

describe('the login throttle', () => {
  it('slows repeated bad logins: after five failures even the right password waits', async () => {
    const base = await startDemo({ throttle: new LoginThrottle() })
    for (let i = 0; i < 5; i++) {
      expect((await attempt(base, 'alice@example.com', 'wrong')).status).toBe(401)
    }
    const blocked = await attempt(base, 'alice@example.com', PASSWORD)
    expect(blocked.body).toContain('Too many failed attempts')
    expect(blocked.status).toBe(429)
    expect(blocked.retryAfter).toBeGreaterThan(0)

    vi.setSystemTime(Date.now() + 15 * 60 * 1000)
    expect((await attempt(base, 'alice@example.com', PASSWORD)).status).toBe(302)
  })

  it('keys an address by what the trusted proxy saw: a client rotating the leftmost X-Forwarded-For is still throttled', async () => {
    // One proxy in front: it appends the address it got the request from (203.0.113.9)
    // to whatever X-Forwarded-For the client sent.
    const base = await startDemo({ proxy: 1 })
    for (let i = 0; i < 5; i++) {
      const bad = await attempt(base, `someone-${i}@example.com`, 'wrong', `198.51.100.${i}, 203.0.113.9`)
      expect(bad.status).toBe(401)
    }
    const sixth = await attempt(base, 'alice@example.com', PASSWORD, '198.51.100.77, 203.0.113.9')
    expect(sixth.status).toBe(429)

    // (control) another client of the same proxy is not the one throttled.
    expect((await attempt(base, 'bob@example.com', PASSWORD, '198.51.100.0, 203.0.113.10')).status).toBe(302)
  })

  it('with two proxies in front, keys by the address the outer one saw', async () => {
    const base = await startDemo({ proxy: 2 })
    for (let i = 0; i < 5; i++) {
      const bad = await attempt(base, `someone-${i}@example.com`, 'wrong', `198.51.100.${i}, 203.0.113.9, 10.0.0.2`)
      expect(bad.status).toBe(401)
    }
    expect((await attempt(base, 'alice@example.com', PASSWORD, '198.51.100.77, 203.0.113.9, 10.0.0.2')).status).toBe(
      429,
    )
    expect((await attempt(base, 'bob@example.com', PASSWORD, '203.0.113.10, 10.0.0.2')).status).toBe(302)
  })

  it('never forgets a lock early: 5,001 failures from fresh addresses and emails leave alice locked', async () => {
    // A budget large enough that every one of the attacker's failures is counted
    // (and so creates its two keys): only then could they crowd alice's lock out.
    const base = await startDemo({ proxy: 1, throttle: new LoginThrottle({ failureBudget: 20_000 }) })
    for (let i = 0; i < 5; i++) {
      expect((await attempt(base, 'alice@example.com', 'wrong', '192.0.2.1')).status).toBe(401)
    }
    expect((await attempt(base, 'alice@example.com', PASSWORD, '192.0.2.2')).status).toBe(429)

    const statuses = new Map<number, number>()
    const total = 5_001
    for (let from = 0; from < total; from += 50) {
      const batch = Array.from({ length: Math.min(50, total - from) }, (_, k) =>
        attempt(base, `attacker-${from + k}@example.net`, 'wrong', address(from + k)),
      )
      for (const { status } of await Promise.all(batch)) statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }
    expect(Object.fromEntries(statuses)).toEqual({ 401: total })

    const after = await attempt(base, 'alice@example.com', PASSWORD, '192.0.2.3')
    expect(after.status).toBe(429)
    expect(after.retryAfter).toBeGreaterThan(0)
  }, 120_000)

  it('refuses every login once the failure budget is spent, says so once, and recovers when its window moves', async () => {
    const { logger, lines } = recordingLogger()
    const throttle = new LoginThrottle({ failureBudget: 3, budgetWindowMs: 60_000 })
    const base = await startDemo({ proxy: 1, throttle, logger })
    for (let i = 0; i < 3; i++) {
      expect((await attempt(base, `someone-${i}@example.com`, 'wrong', address(i))).status).toBe(401)
    }

    // Bob has never failed and has the right password, from an address never seen: refused all the same.
    const refused = await attempt(base, 'bob@example.com', PASSWORD, address(100))
    expect(refused.status).toBe(429)
    expect(refused.body).toContain('Too many failed attempts')
    expect(refused.retryAfter).toBeGreaterThan(0)
    expect(refused.retryAfter).toBeLessThanOrEqual(60)
    expect((await attempt(base, `someone-9@example.com`, 'wrong', address(101))).status).toBe(429)
    const spent = lines.filter((l) => String(l['msg']).startsWith('login failure budget spent'))
    expect(spent).toHaveLength(1)
    expect(spent[0]).toMatchObject({ level: 40, failures: 3, retryAfterS: 60 })

    vi.setSystemTime(Date.now() + 60_000)
    expect((await attempt(base, 'bob@example.com', PASSWORD, address(100))).status).toBe(302)
  })
})
