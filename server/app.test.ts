/**
 * The demo app's session and login rules, against a real listening app:
 * identity only in the signed cookie, key rotation and cross-site refusal.
 * Bad-login throttling is in login.test.ts.
 */
import { pino } from 'pino'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { sessionKeys } from './config.ts'
import { closeDemos, cookies, login, startDemo } from './test-helpers.ts'

const logger = pino({ level: 'silent' })

afterEach(closeDemos)

/** The demo signing sessions with `keys`. */
function start(keys: string[]): Promise<string> {
  return startDemo({ sessionKeys: keys })
}

/** What the `sid` cookie among `setCookies` holds (koa-session's base64 JSON). */
function sessionContent(setCookies: string[]): Record<string, unknown> {
  const value = /sid=([^;]+)/.exec(setCookies.join(';'))?.[1] ?? ''
  return JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as Record<string, unknown>
}

describe('sessions', () => {
  it('log in sets a signed, httpOnly, SameSite=Lax cookie holding the user id and a random session id only', async () => {
    const base = await start(['key-one-0123456789abcdef'])
    const res = await login(base, 'alice@example.com', 'demo-password')
    await res.body.dump()

    expect(res.statusCode).toBe(302)
    const set = ([] as string[]).concat(res.headers['set-cookie'] ?? [])
    expect(set.find((c) => c.startsWith('sid='))).toMatch(/httponly/i)
    expect(set.find((c) => c.startsWith('sid='))).toMatch(/samesite=lax/i)
    const content = sessionContent(set)
    expect(Object.keys(content).sort()).toEqual(['_expire', '_maxAge', 'sid', 'uid'])
    expect(content['uid']).toBe('usr_alice_5f1c2a')
    // 128 random bits, what logout revokes (issue 11), and a fresh one at every login.
    expect(content['sid']).toMatch(/^[A-Za-z0-9_-]{22}$/)
    const again = await login(base, 'alice@example.com', 'demo-password')
    await again.body.dump()
    expect(sessionContent(([] as string[]).concat(again.headers['set-cookie'] ?? []))['sid']).not.toBe(content['sid'])

    const home = await request(`${base}/`, { headers: { cookie: cookies(res) } })
    await expect(home.body.text()).resolves.toBe('home of Alice')
  })

  it('ignores a session cookie whose signature does not verify', async () => {
    const base = await start(['key-one-0123456789abcdef'])
    const forged = Buffer.from(JSON.stringify({ uid: 'usr_alice_5f1c2a' })).toString('base64')
    const res = await request(`${base}/`, { headers: { cookie: `sid=${forged}; sid.sig=AAAAAAAAAAAAAAAAAAAAAAAAAAA` } })
    await res.body.dump()
    expect(res.statusCode).toBe(302)
    expect(res.headers['location']).toBe('/login')
  })

  it('keeps sessions signed with an older key valid after rotation, and not after its removal', async () => {
    const signedWithOld = cookies(
      await login(await start(['old-key-0123456789abcdef']), 'bob@example.com', 'demo-password'),
    )

    const rotated = await request(`${await start(['new-key-0123456789abcdef', 'old-key-0123456789abcdef'])}/`, {
      headers: { cookie: signedWithOld },
    })
    await expect(rotated.body.text()).resolves.toBe('home of Bob')

    const retired = await request(`${await start(['new-key-0123456789abcdef'])}/`, {
      headers: { cookie: signedWithOld },
    })
    await retired.body.dump()
    expect(retired.statusCode).toBe(302)
  })

  it('ends the session at logout', async () => {
    const base = await start(['key-one-0123456789abcdef'])
    const session = cookies(await login(base, 'alice@example.com', 'demo-password'))
    const out = await request(`${base}/logout`, { method: 'POST', headers: { cookie: session } })
    await out.body.dump()
    const after = await request(`${base}/`, { headers: { cookie: cookies(out) } })
    await after.body.dump()
    expect(after.statusCode).toBe(302)
  })
})

describe('login protection', () => {
  it.each([
    ['a cross-site fetch', { 'sec-fetch-site': 'cross-site' }],
    ['a same-site but other-origin fetch', { 'sec-fetch-site': 'same-site' }],
    ['a foreign Origin', { origin: 'https://evil.example' }],
  ])('refuses %s to /login and /logout', async (_what, headers) => {
    const base = await start(['key-one-0123456789abcdef'])
    const res = await login(base, 'alice@example.com', 'demo-password', headers)
    await res.body.dump()
    expect(res.statusCode).toBe(403)
    expect(res.headers['set-cookie']).toBeUndefined()
    const out = await request(`${base}/logout`, { method: 'POST', headers })
    await out.body.dump()
    expect(out.statusCode).toBe(403)
  })
})

describe('/metrics', () => {
  const token = 'demo-metrics-token-0123456789'

  it('is not served at all without a metrics token', async () => {
    const res = await request(`${await startDemo()}/metrics`)
    await res.body.dump()
    expect(res.statusCode).toBe(404)
  })

  it('with a metrics token, answers its bearer only', async () => {
    const base = await startDemo({ metricsToken: token })
    const anonymous = await request(`${base}/metrics`)
    await expect(anonymous.body.text()).resolves.not.toContain('eta_embeds')
    expect(anonymous.statusCode).toBe(401)
    expect(anonymous.headers['www-authenticate']).toBe('Bearer realm="metrics"')

    // A logged-in user is not the operator either.
    const session = cookies(await login(base, 'alice@example.com', 'demo-password'))
    const user = await request(`${base}/metrics`, { headers: { cookie: session } })
    await user.body.dump()
    expect(user.statusCode).toBe(401)

    const operator = await request(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })
    await expect(operator.body.text()).resolves.toContain('eta_embeds_vendor_calls_total')
    expect(operator.statusCode).toBe(200)
  })
})

describe('session keys', () => {
  it('are required in production', () => {
    expect(() => sessionKeys({}, logger, false)).toThrow(/SESSION_KEYS is required in production/)
    expect(() => sessionKeys({ SESSION_KEYS: 'short' }, logger, false)).toThrow(/shorter than 16/)
  })

  it('are made up for the run in development, and the first of several signs', () => {
    expect(sessionKeys({}, logger, true)).toHaveLength(1)
    expect(
      sessionKeys({ SESSION_KEYS: ' new-key-0123456789abcdef , old-key-0123456789abcdef ' }, logger, false),
    ).toEqual(['new-key-0123456789abcdef', 'old-key-0123456789abcdef'])
  })
})
