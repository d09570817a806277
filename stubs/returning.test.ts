import { runInNewContext } from 'node:vm'
import { decodeJwt } from 'jose'
import { Client, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startReturningStub } from './index.ts'
import type { ReturningStub } from './index.ts'

const API_KEY = 'test-api-key-0123456789'
const COMMUNITY = 'demo-community'

let stub: ReturningStub

beforeEach(async () => {
  stub = await startReturningStub({ apiKey: API_KEY, communityId: COMMUNITY, tokenTtlSeconds: 120 })
})

afterEach(async () => {
  await stub.close()
})

function signin(headers: Record<string, string>, community = COMMUNITY) {
  return request(`${stub.url}/widget/${community}/signin`, { method: 'POST', headers })
}

async function mintFor(email: string): Promise<string> {
  const res = await signin({ 'content-type': 'application/json', 'returningai-api-key': API_KEY, email })
  expect(res.statusCode).toBe(200)
  const { token } = (await res.body.json()) as { token: string }
  return token
}

/** Sends a path exactly as written: undici's `request(url)` would normalise `..` away. */
async function getRaw(path: string): Promise<number> {
  const client = new Client(stub.url)
  try {
    const res = await client.request({ method: 'GET', path })
    await res.body.dump()
    return res.statusCode
  } finally {
    await client.close()
  }
}

function countOf(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1
}

describe('signin', () => {
  it('mints an HS256 JWT for the email header and records it', async () => {
    const token = await mintFor('alice@example.com')

    const claims = decodeJwt(token)
    expect(claims).toMatchObject({ email: 'alice@example.com', sub: 'alice@example.com', iss: 'returning-stub' })
    expect(claims.exp! - claims.iat!).toBe(120)
    expect(stub.minted).toEqual([{ token, email: 'alice@example.com', at: expect.any(Number) }])
    expect(stub.received[0]).toMatchObject({ method: 'POST', path: `/widget/${COMMUNITY}/signin`, body: '' })
    expect(stub.received[0]?.headers['returningai-api-key']).toBe(API_KEY)
  })

  it('mints a distinct token for every signin', async () => {
    const first = await mintFor('alice@example.com')
    const second = await mintFor('alice@example.com')
    expect(first).not.toBe(second)
  })

  it.each([
    ['a wrong key', { 'returningai-api-key': 'not-the-key' }],
    ['no key', {}],
  ])('answers 401 for %s, mints nothing and echoes no secret', async (_, keyHeader) => {
    const res = await signin({ 'content-type': 'application/json', email: 'alice@example.com', ...keyHeader })

    expect(res.statusCode).toBe(401)
    const text = await res.body.text()
    expect(JSON.parse(text)).toEqual({ error: 'invalid api key' })
    expect(text).not.toContain(API_KEY)
    expect(text).not.toContain('not-the-key')
    expect(stub.minted).toEqual([])
  })

  it('answers 404 for an unknown community', async () => {
    const res = await signin(
      { 'content-type': 'application/json', 'returningai-api-key': API_KEY, email: 'a@example.com' },
      'other',
    )
    await res.body.dump()
    expect(res.statusCode).toBe(404)
    expect(stub.minted).toEqual([])
  })

  it.each([
    ['missing', undefined],
    ['without @', 'alice.example.com'],
    ['without a domain dot', 'alice@localhost'],
    ['with a space', 'al ice@example.com'],
  ])('answers 400 for an email header %s', async (_, email) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'returningai-api-key': API_KEY }
    if (email !== undefined) headers['email'] = email
    const res = await signin(headers)
    await res.body.dump()
    expect(res.statusCode).toBe(400)
    expect(stub.minted).toEqual([])
  })

  it('answers 415 without a JSON content type, as the vendor documents that header', async () => {
    const res = await signin({ 'returningai-api-key': API_KEY, email: 'alice@example.com' })
    await res.body.dump()
    expect(res.statusCode).toBe(415)
  })
})

describe('widget page', () => {
  it('is one HTML document with exactly one token placeholder and a relative script', async () => {
    const res = await request(`${stub.url}/store/abc_123-X?color=light`)
    const html = await res.body.text()

    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(html.startsWith('<!doctype html>')).toBe(true)
    expect(countOf(html, 'token: ""')).toBe(1)
    expect(html).toContain(
      '<script>window.__WIDGET_INIT__ = { token: "", widgetType: "store", widgetId: "abc_123-X", color: "light" };</script>',
    )
    expect(html).toContain('<script src="assets/widget.js"></script>')
    expect(html).toContain('<p id="widget-status" role="status">Loading…</p>')
    expect(html).toMatch(/<h1>[^<]*store[^<]*<\/h1>/)
  })

  it('picks the stylesheet from the color and defaults to light', async () => {
    const page = async (query: string) => (await request(`${stub.url}/channel/c1${query}`)).body.text()
    const [dark, light, byDefault] = await Promise.all([page('?color=dark'), page('?color=light'), page('')])

    expect(dark).toContain('color: "dark"')
    expect(dark).not.toBe(light)
    expect(byDefault).toBe(light)
  })

  it('answers 400 for an unknown color', async () => {
    const res = await request(`${stub.url}/store/abc?color=purple`)
    await res.body.dump()
    expect(res.statusCode).toBe(400)
  })

  it.each([
    '/shop/abc',
    '/store/..',
    '/store/../store/abc',
    '/store/%2e%2e',
    '/store/a.b',
    '/store/' + 'x'.repeat(65),
    '/store/',
    '/store/abc/extra',
    '/widget/x',
  ])('answers 404 for %s', async (path) => {
    expect(await getRaw(path)).toBe(404)
  })
})

describe('widget script', () => {
  it('is served as JavaScript, relative to the widget type, and never writes HTML', async () => {
    const res = await request(`${stub.url}/store/assets/widget.js`)
    const source = await res.body.text()

    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('application/javascript; charset=utf-8')
    expect(source).toContain('textContent')
    expect(source).not.toContain('innerHTML')
  })

  it('shows the signed-in email when run with a minted token', async () => {
    const token = await mintFor('alice@example.com')
    const status = await runWidgetScript(`${stub.url}/store/assets/widget.js`, token)
    await expect.poll(() => status.textContent).toBe('Signed in as alice@example.com')
    expect(stub.received.at(-1)).toMatchObject({ path: '/api/me', headers: { authorization: `Bearer ${token}` } })
  })

  it('shows an error without a token and with a rejected one', async () => {
    const empty = await runWidgetScript(`${stub.url}/store/assets/widget.js`, '')
    expect(empty.textContent).toBe('Widget error: no token')

    const rejected = await runWidgetScript(`${stub.url}/store/assets/widget.js`, 'a.b.c')
    await expect.poll(() => rejected.textContent).toBe('Widget error: 401')
  })

  /** Runs the served script against a minimal DOM; `fetch` is real and reaches the stub. */
  async function runWidgetScript(src: string, token: string): Promise<{ textContent: string }> {
    const source = await (await request(src)).body.text()
    const status = { textContent: 'Loading…' }
    const document = {
      currentScript: { src },
      getElementById: (id: string) => (id === 'widget-status' ? status : null),
    }
    runInNewContext(source, { window: { __WIDGET_INIT__: { token } }, document, fetch, URL })
    return status
  }
})

describe('/api/me', () => {
  it('answers the email of a minted token, readable cross-origin', async () => {
    const token = await mintFor('bob@example.com')
    const res = await request(`${stub.url}/api/me`, { headers: { authorization: `Bearer ${token}`, origin: 'null' } })

    expect(res.statusCode).toBe(200)
    expect(res.headers['access-control-allow-origin']).toBe('*')
    expect(await res.body.json()).toEqual({ email: 'bob@example.com' })
  })

  it('rejects a tampered, a foreign-key and a missing token with 401', async () => {
    const token = await mintFor('bob@example.com')
    const [header, payload, signature] = token.split('.') as [string, string, string]
    const forged = Buffer.from(JSON.stringify({ ...decodeJwt(token), email: 'mallory@example.com' })).toString(
      'base64url',
    )
    const flipped = signature.slice(0, -2) + (signature.at(-2) === 'A' ? 'B' : 'A') + signature.at(-1)
    const other = await startReturningStub({ apiKey: API_KEY, communityId: COMMUNITY })
    try {
      const res = await request(`${other.url}/widget/${COMMUNITY}/signin`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'returningai-api-key': API_KEY, email: 'bob@example.com' },
      })
      const { token: foreign } = (await res.body.json()) as { token: string }

      for (const bad of [`${header}.${forged}.${signature}`, `${header}.${payload}.${flipped}`, foreign, undefined]) {
        const me = await request(`${stub.url}/api/me`, {
          headers: bad === undefined ? {} : { authorization: `Bearer ${bad}` },
        })
        const text = await me.body.text()
        expect(me.statusCode).toBe(401)
        expect(me.headers['access-control-allow-origin']).toBe('*')
        if (bad !== undefined) expect(text).not.toContain(bad)
      }
    } finally {
      await other.close()
    }
  })

  it('answers the CORS preflight of the sandboxed widget', async () => {
    const res = await request(`${stub.url}/api/me`, {
      method: 'OPTIONS',
      headers: {
        origin: 'null',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    })
    await res.body.dump()

    expect(res.statusCode).toBe(204)
    expect(res.headers).toMatchObject({
      'access-control-allow-origin': '*',
      'access-control-allow-headers': 'authorization',
      'access-control-allow-methods': 'GET',
    })
  })
})

describe('latency and lifecycle', () => {
  it('holds answers back while latency is set, and close() still returns', async () => {
    stub.setLatency(60_000)
    let settled = false
    const pending = signin({
      'content-type': 'application/json',
      'returningai-api-key': API_KEY,
      email: 'alice@example.com',
    }).finally(() => {
      settled = true
    })

    await expect.poll(() => stub.received.length).toBe(1)
    expect(settled).toBe(false)
    await stub.close()
    await expect(pending).rejects.toThrow()
    expect(stub.minted).toEqual([])
  })

  it('answers again once latency is set back to 0', async () => {
    stub.setLatency(60_000)
    stub.setLatency(0)
    await expect(mintFor('alice@example.com')).resolves.toEqual(expect.any(String))
  })

  it('refuses a negative latency and bad options', async () => {
    expect(() => stub.setLatency(-1)).toThrow(RangeError)
    await expect(startReturningStub({ apiKey: '', communityId: COMMUNITY })).rejects.toThrow(/options\.apiKey/)
    await expect(startReturningStub({ apiKey: API_KEY, communityId: 'a/b' })).rejects.toThrow(/options\.communityId/)
    await expect(startReturningStub({ apiKey: API_KEY, communityId: COMMUNITY, tokenTtlSeconds: 0 })).rejects.toThrow(
      /tokenTtlSeconds/,
    )
  })

  it('answers 413 for an oversized body and 404 for anything unknown', async () => {
    const big = await request(`${stub.url}/widget/${COMMUNITY}/signin`, { method: 'POST', body: 'x'.repeat(70 * 1024) })
    await big.body.dump()
    expect(big.statusCode).toBe(413)

    const unknown = await request(`${stub.url}/nope`)
    await unknown.body.dump()
    expect(unknown.statusCode).toBe(404)
  })
})

describe('test hooks', () => {
  it('setWidgetPage serves the given document, uncacheable, until reset', async () => {
    stub.setWidgetPage('<p>hostile</p>')
    const swapped = await request(`${stub.url}/store/abc`)
    expect(swapped.headers['cache-control']).toBe('no-store')
    expect(await swapped.body.text()).toBe('<p>hostile</p>')

    stub.setWidgetPage(undefined)
    const restored = await request(`${stub.url}/store/abc`)
    expect(restored.headers['cache-control']).toBeUndefined()
    expect(countOf(await restored.body.text(), 'token: ""')).toBe(1)
  })

  it('widgetPageCacheControl is sent with the vendor page', async () => {
    const uncached = await startReturningStub({
      apiKey: API_KEY,
      communityId: COMMUNITY,
      widgetPageCacheControl: 'no-store',
    })
    try {
      const res = await request(`${uncached.url}/store/abc`)
      await res.body.dump()
      expect(res.headers['cache-control']).toBe('no-store')
    } finally {
      await uncached.close()
    }
  })

  it('setTokenOverride answers and records the given token after the usual checks', async () => {
    stub.setTokenOverride('not-a-jwt"</script>')
    expect(await mintFor('alice@example.com')).toBe('not-a-jwt"</script>')
    expect(stub.minted).toEqual([{ token: 'not-a-jwt"</script>', email: 'alice@example.com', at: expect.any(Number) }])

    const refused = await signin({ 'content-type': 'application/json', email: 'alice@example.com' })
    await refused.body.dump()
    expect(refused.statusCode).toBe(401)

    stub.setTokenOverride(undefined)
    expect(decodeJwt(await mintFor('bob@example.com')).email).toBe('bob@example.com')
  })

  it('setSigninAnswer answers exactly the given status and body and mints nothing', async () => {
    stub.setSigninAnswer({ status: 500, body: 'oops', contentType: 'text/plain' })
    const res = await signin({ 'content-type': 'application/json', 'returningai-api-key': API_KEY, email: 'a@b.co' })
    expect(res.statusCode).toBe(500)
    expect(res.headers['content-type']).toBe('text/plain')
    expect(await res.body.text()).toBe('oops')
    expect(stub.minted).toEqual([])

    stub.setSigninAnswer(undefined)
    await expect(mintFor('alice@example.com')).resolves.toEqual(expect.any(String))
  })
})
