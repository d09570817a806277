import { runInNewContext } from 'node:vm'
import { decodeJwt, jwtVerify } from 'jose'
import { request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startReturningSdkStub } from './index.ts'
import type { ReturningSdkStub, ReturningSdkStubOptions } from './index.ts'

const ACCESS_ID = 'test-access-id-0123'
const ACCESS_KEY = 'test-access-key-0123456789'
const COMMUNITY = 'demo-community'
const JWT_SECRET = 'test-jwt-secret-0123456789abcdef'
const ALICE = { 'data-email': 'alice@example.com', 'data-user-id': 'u-alice' }
const PAGE_ORIGIN = 'http://app.test:3000'
const ELEMENTS = [
  'rai-store-widget',
  'rai-channel-widget',
  'rai-milestone-widget',
  'rai-social-widget',
  'rai-currency-widget',
]

let stub: ReturningSdkStub
/** The stub's clock: tests move it instead of waiting for a token to expire. */
let clock: number

function start(options: Partial<ReturningSdkStubOptions> = {}): Promise<ReturningSdkStub> {
  return startReturningSdkStub({
    accessId: ACCESS_ID,
    accessKey: ACCESS_KEY,
    communityId: COMMUNITY,
    jwtSecret: JWT_SECRET,
    now: () => clock,
    ...options,
  })
}

beforeEach(async () => {
  clock = Date.UTC(2030, 0, 1)
  stub = await start()
})

afterEach(async () => {
  await stub.close()
})

function tokenRequest(body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  return request(`${stub.apiUrl}/v2/api/widget-access-keys/token`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

async function mintFor(userIdentifiers: Record<string, string> = ALICE, target = stub): Promise<string> {
  const res = await request(`${target.apiUrl}/v2/api/widget-access-keys/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ accessId: ACCESS_ID, accessKey: ACCESS_KEY, userIdentifiers }),
  })
  expect(res.statusCode).toBe(200)
  const { data } = (await res.body.json()) as { data: { embedToken: string } }
  return data.embedToken
}

function validate(body: unknown, headers: Record<string, string> = {}) {
  return request(`${stub.apiUrl}/v2/api/widget-access-keys/validate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: PAGE_ORIGIN, ...headers },
    body: JSON.stringify(body),
  })
}

describe('token API', () => {
  it('mints an HS256 embed token carrying the identifiers, for 900 seconds, and records it', async () => {
    const res = await tokenRequest({ accessId: ACCESS_ID, accessKey: ACCESS_KEY, userIdentifiers: ALICE })
    const body = (await res.body.json()) as { data: { embedToken: string; expiresIn: number } }

    expect(res.statusCode).toBe(200)
    expect(body).toEqual({ data: { embedToken: expect.any(String), expiresIn: 900 } })
    const { payload, protectedHeader } = await jwtVerify(body.data.embedToken, new TextEncoder().encode(JWT_SECRET), {
      currentDate: new Date(clock),
    })
    expect(protectedHeader.alg).toBe('HS256')
    expect(payload).toMatchObject({
      uid: 'u-alice',
      email: 'alice@example.com',
      identifiers: ALICE,
      communityId: COMMUNITY,
      iss: 'returning-sdk-stub',
      iat: clock / 1000,
      exp: clock / 1000 + 900,
      jti: expect.any(String),
    })
    expect(stub.minted).toEqual([{ token: body.data.embedToken, identifiers: ALICE, at: clock }])
  })

  it('mints a distinct token every time and answers no CORS, as it is server-to-server', async () => {
    const res = await tokenRequest(
      { accessId: ACCESS_ID, accessKey: ACCESS_KEY, userIdentifiers: ALICE },
      { 'content-type': 'application/json', origin: PAGE_ORIGIN },
    )
    await res.body.dump()
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
    expect(await mintFor()).not.toBe(await mintFor())
  })

  it('follows tokenTtlSeconds and a one-identifier request', async () => {
    const short = await start({ tokenTtlSeconds: 60 })
    try {
      const claims = decodeJwt(await mintFor({ 'data-user-id': 'u-bob' }, short))
      expect(claims.exp! - claims.iat!).toBe(60)
      expect(claims).toMatchObject({ uid: 'u-bob', identifiers: { 'data-user-id': 'u-bob' } })
      expect(claims).not.toHaveProperty('email')
    } finally {
      await short.close()
    }
  })

  it.each([
    ['a wrong key', { accessId: ACCESS_ID, accessKey: 'not-the-key' }],
    ['a wrong id', { accessId: 'not-the-id', accessKey: ACCESS_KEY }],
    ['no key', { accessId: ACCESS_ID }],
    ['a numeric key', { accessId: ACCESS_ID, accessKey: 42 }],
  ])('answers 401 for %s, mints nothing and echoes no credential', async (_, credentials) => {
    const res = await tokenRequest({ ...credentials, userIdentifiers: ALICE })
    const text = await res.body.text()

    expect(res.statusCode).toBe(401)
    expect(JSON.parse(text)).toEqual({ error: 'invalid access key' })
    for (const secret of [ACCESS_ID, ACCESS_KEY, 'not-the-key', 'not-the-id']) expect(text).not.toContain(secret)
    expect(stub.minted).toEqual([])
  })

  it.each([
    ['no content type', {}],
    ['a text content type', { 'content-type': 'text/plain' }],
  ])('answers 415 for %s', async (_, headers) => {
    const res = await tokenRequest({ accessId: ACCESS_ID, accessKey: ACCESS_KEY, userIdentifiers: ALICE }, headers)
    await res.body.dump()
    expect(res.statusCode).toBe(415)
    expect(stub.minted).toEqual([])
  })

  it.each([
    ['bad JSON', '{"accessId":'],
    ['a JSON array', '[]'],
    ['no userIdentifiers', {}],
    ['null userIdentifiers', { userIdentifiers: null }],
    ['an array of identifiers', { userIdentifiers: ['alice@example.com'] }],
    ['a string of identifiers', { userIdentifiers: 'alice@example.com' }],
    ['no identifier at all', { userIdentifiers: {} }],
    ['a key without data-', { userIdentifiers: { email: 'alice@example.com' } }],
    ['an upper-case key', { userIdentifiers: { 'data-Email': 'alice@example.com' } }],
    ['a bare data- key', { userIdentifiers: { 'data-': 'alice@example.com' } }],
    ['a numeric value', { userIdentifiers: { 'data-user-id': 42 } }],
    ['an empty value', { userIdentifiers: { 'data-email': '' } }],
    ['a value over 256 characters', { userIdentifiers: { 'data-email': 'a'.repeat(257) } }],
  ])('answers 400 for %s and mints nothing', async (_, body) => {
    const credentials = { accessId: ACCESS_ID, accessKey: ACCESS_KEY }
    const res = await tokenRequest(typeof body === 'string' ? body : { ...credentials, ...body })
    const text = await res.body.text()

    expect(res.statusCode).toBe(400)
    expect(JSON.parse(text)).toEqual(expect.objectContaining({ error: expect.any(String) }))
    expect(text).not.toContain('alice@example.com')
    expect(text).not.toContain('aaaa')
    expect(stub.minted).toEqual([])
  })

  it('answers 400 naming an identifier the widget is not configured with, and the known ones', async () => {
    const res = await tokenRequest({
      accessId: ACCESS_ID,
      accessKey: ACCESS_KEY,
      userIdentifiers: { ...ALICE, 'data-phone': '+100' },
    })

    expect(res.statusCode).toBe(400)
    expect(await res.body.json()).toEqual({
      error: 'unknown user identifier',
      identifier: 'data-phone',
      known: ['data-email', 'data-user-id'],
    })
    expect(stub.minted).toEqual([])
  })

  it('accepts exactly the identifierNames it is given', async () => {
    const custom = await start({ identifierNames: ['data-customer-id'] })
    try {
      const claims = decodeJwt(await mintFor({ 'data-customer-id': 'CUST-1' }, custom))
      expect(claims['identifiers']).toEqual({ 'data-customer-id': 'CUST-1' })

      const refused = await request(`${custom.apiUrl}/v2/api/widget-access-keys/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ accessId: ACCESS_ID, accessKey: ACCESS_KEY, userIdentifiers: ALICE }),
      })
      expect(refused.statusCode).toBe(400)
      expect(await refused.body.json()).toMatchObject({ identifier: 'data-email', known: ['data-customer-id'] })
    } finally {
      await custom.close()
    }
  })

  it('answers 413 for an oversized body', async () => {
    const res = await tokenRequest({ accessId: ACCESS_ID, accessKey: ACCESS_KEY, padding: 'x'.repeat(70 * 1024) })
    await res.body.dump()
    expect(res.statusCode).toBe(413)
    expect(stub.minted).toEqual([])
  })
})

describe('validate API', () => {
  it('answers the identifiers and community of a minted token, readable by the page origin', async () => {
    const token = await mintFor()
    const res = await validate({ embedToken: token, communityId: COMMUNITY })

    expect(res.statusCode).toBe(200)
    expect(await res.body.json()).toEqual({ data: { valid: true, identifiers: ALICE, communityId: COMMUNITY } })
    expect(res.headers['access-control-allow-origin']).toBe(PAGE_ORIGIN)
    expect(res.headers['vary']).toBe('Origin')
    expect(res.headers['access-control-allow-credentials']).toBeUndefined()
    expect(res.headers['cache-control']).toBe('no-store')
    expect(stub.validated).toEqual([{ token, valid: true, origin: PAGE_ORIGIN, at: clock }])
  })

  it('accepts a token until the second it expires, by the stub clock', async () => {
    const token = await mintFor()

    clock += 899_999
    const late = await validate({ embedToken: token })
    await late.body.dump()
    expect(late.statusCode).toBe(200)

    clock += 1
    const expired = await validate({ embedToken: token })
    expect(expired.statusCode).toBe(401)
    expect(await expired.body.json()).toEqual({ error: 'invalid embed token' })
    expect(stub.validated.map((entry) => entry.valid)).toEqual([true, false])
  })

  it('rejects tampered, foreign, other-community and unknown tokens with 401, echoing none', async () => {
    const token = await mintFor()
    const [header, payload, signature] = token.split('.') as [string, string, string]
    const forged = Buffer.from(
      JSON.stringify({ ...decodeJwt(token), identifiers: { 'data-email': 'mallory@example.com' } }),
    ).toString('base64url')
    const flipped = signature.slice(0, -2) + (signature.at(-2) === 'A' ? 'B' : 'A') + signature.at(-1)
    const foreignStub = await start({ jwtSecret: 'another-secret-0123456789abcdef' })
    const otherCommunity = await start({ communityId: 'other-community' })
    try {
      const bad = [
        `${header}.${forged}.${signature}`,
        `${header}.${payload}.${flipped}`,
        await mintFor(ALICE, foreignStub),
        await mintFor(ALICE, otherCommunity),
        'a.b.c',
      ]
      for (const embedToken of bad) {
        const res = await validate({ embedToken })
        const text = await res.body.text()
        expect(res.statusCode).toBe(401)
        expect(res.headers['access-control-allow-origin']).toBe(PAGE_ORIGIN)
        expect(text).not.toContain(embedToken)
      }
      expect(stub.validated.map((entry) => entry.valid)).toEqual([false, false, false, false, false])
    } finally {
      await Promise.all([foreignStub.close(), otherCommunity.close()])
    }
  })

  it('answers 403 when the element names another community than the token', async () => {
    const token = await mintFor()
    const res = await validate({ embedToken: token, communityId: 'other-community' })
    await res.body.dump()
    expect(res.statusCode).toBe(403)
    expect(stub.validated).toEqual([expect.objectContaining({ token, valid: false })])
  })

  it('answers 400 without an embedToken and 415 without JSON, both readable cross-origin', async () => {
    const missing = await validate({ token: 'x' })
    await missing.body.dump()
    expect(missing.statusCode).toBe(400)
    expect(missing.headers['access-control-allow-origin']).toBe(PAGE_ORIGIN)

    const text = await validate({ embedToken: 'x' }, { 'content-type': 'text/plain' })
    await text.body.dump()
    expect(text.statusCode).toBe(415)
    expect(text.headers['access-control-allow-origin']).toBe(PAGE_ORIGIN)
    expect(stub.validated).toEqual([])
  })

  it('sends no allow-origin to a request without an Origin', async () => {
    const res = await request(`${stub.apiUrl}/v2/api/widget-access-keys/validate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ embedToken: await mintFor() }),
    })
    await res.body.dump()
    expect(res.statusCode).toBe(200)
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
    expect(stub.validated[0]?.origin).toBeUndefined()
  })

  it('answers the CORS preflight of a page on another origin, without credentials', async () => {
    const res = await request(`${stub.apiUrl}/v2/api/widget-access-keys/validate`, {
      method: 'OPTIONS',
      headers: {
        origin: PAGE_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    })
    await res.body.dump()

    expect(res.statusCode).toBe(204)
    expect(res.headers).toMatchObject({
      'access-control-allow-origin': PAGE_ORIGIN,
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'content-type, authorization',
      vary: 'Origin',
    })
    expect(res.headers['access-control-allow-credentials']).toBeUndefined()
  })

  it('answers 404 to a GET, so a token cannot be sent in a URL', async () => {
    const res = await request(`${stub.apiUrl}/v2/api/widget-access-keys/validate?embedToken=${await mintFor()}`)
    await res.body.dump()
    expect(res.statusCode).toBe(404)
    expect(stub.validated).toEqual([])
  })
})

describe('SDK script', () => {
  it('is served as JavaScript at sdkUrl, defines every element, and never evaluates or writes HTML', async () => {
    const res = await request(stub.sdkUrl)
    const source = await res.body.text()

    expect(stub.sdkUrl).toBe(`${stub.apiUrl}/sdk/widget-sdk.js`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('application/javascript; charset=utf-8')
    for (const name of ELEMENTS) expect(source).toContain(`'${name}'`)
    expect(source).toContain(JSON.stringify(stub.apiUrl))
    expect(source).toContain('textContent')
    for (const forbidden of ['eval', 'innerHTML', 'outerHTML', 'insertAdjacentHTML', 'Function(', 'document.write']) {
      expect(source).not.toContain(forbidden)
    }
  })

  it('shows the signed-in email in an open shadow root, sending the token only in the body', async () => {
    const token = await mintFor()
    const sdk = await loadSdk()
    const widget = sdk.mount('rai-store-widget', {
      'community-id': COMMUNITY,
      'embed-token': token,
      theme: 'dark',
      height: '300',
    })

    await expect.poll(() => statusOf(widget).textContent).toBe('Signed in as alice@example.com')
    expect(widget.shadowMode).toBe('open')
    expect(widget.children).toEqual([])
    expect(statusOf(widget).attributes.get('part')).toBe('widget-status')
    expect(widget.shadowRoot?.children[0]?.style).toMatchObject({ height: '300px', background: '#16181d' })
    expect(sdk.fetches).toEqual([
      {
        url: `${stub.apiUrl}/v2/api/widget-access-keys/validate`,
        init: expect.objectContaining({ method: 'POST', credentials: 'omit', referrerPolicy: 'no-referrer' }),
        body: expect.any(String),
      },
    ])
    expect(JSON.parse(sdk.fetches[0]?.body ?? '')).toEqual({ embedToken: token, communityId: COMMUNITY })
    expect(stub.validated).toEqual([expect.objectContaining({ token, valid: true })])
    expect(stub.received.every((entry) => !entry.path.includes(token) && !entry.query['embedToken'])).toBe(true)
  })

  it('renders in the light DOM with bundle-url, and falls back to the user id without an email', async () => {
    const token = await mintFor({ 'data-user-id': 'u-bob' })
    const sdk = await loadSdk()
    const widget = sdk.mount('rai-social-widget', {
      'community-id': COMMUNITY,
      'embed-token': token,
      'bundle-url': 'https://cdn.test/bundle.js',
    })

    await expect.poll(() => statusOf(widget).textContent).toBe('Signed in as u-bob')
    expect(widget.shadowRoot).toBeNull()
    expect(sdk.fetches).toHaveLength(1)
  })

  it('validates at v2-api-url when the element names one', async () => {
    const elsewhere = await start()
    try {
      const token = await mintFor(ALICE, elsewhere)
      const sdk = await loadSdk()
      const widget = sdk.mount('rai-channel-widget', {
        'community-id': COMMUNITY,
        'embed-token': token,
        'channel-id': 'general',
        'v2-api-url': `${elsewhere.apiUrl}/`,
      })

      await expect.poll(() => statusOf(widget).textContent).toBe('Signed in as alice@example.com')
      expect(sdk.fetches[0]?.url).toBe(`${elsewhere.apiUrl}/v2/api/widget-access-keys/validate`)
      expect(elsewhere.validated).toHaveLength(1)
      expect(stub.validated).toEqual([])
    } finally {
      await elsewhere.close()
    }
  })

  it('shows "Widget unavailable" for a rejected token, without calling for a missing one', async () => {
    const sdk = await loadSdk()
    const rejected = sdk.mount('rai-milestone-widget', { 'community-id': COMMUNITY, 'embed-token': 'a.b.c' })
    await expect.poll(() => statusOf(rejected).textContent).toBe('Widget unavailable')

    const token = await mintFor()
    const unconfigured = [
      sdk.mount('rai-currency-widget', { 'community-id': COMMUNITY }),
      sdk.mount('rai-store-widget', { 'embed-token': token }),
      sdk.mount('rai-channel-widget', { 'community-id': COMMUNITY, 'embed-token': token }),
      sdk.mount('rai-store-widget', { 'community-id': COMMUNITY, 'embed-token': token, 'v2-api-url': 'javascript:1' }),
    ]
    expect(unconfigured.map((widget) => statusOf(widget).textContent)).toEqual(Array(4).fill('Widget unavailable'))
    expect(sdk.fetches).toHaveLength(1)
  })

  it('shows "Widget unavailable" when validate cannot be reached', async () => {
    const gone = await start()
    await gone.close()
    const sdk = await loadSdk()
    const widget = sdk.mount('rai-store-widget', {
      'community-id': COMMUNITY,
      'embed-token': await mintFor(),
      'v2-api-url': gone.apiUrl,
    })
    await expect.poll(() => statusOf(widget).textContent).toBe('Widget unavailable')
  })

  it('can be loaded twice on one page, and starts an element once', async () => {
    const sdk = await loadSdk()
    runInNewContext(sdk.source, sdk.context)
    expect([...sdk.registry.keys()]).toEqual(ELEMENTS)

    const widget = sdk.mount('rai-store-widget', { 'community-id': COMMUNITY, 'embed-token': await mintFor() })
    widget.connectedCallback?.()
    await expect.poll(() => statusOf(widget).textContent).toBe('Signed in as alice@example.com')
    expect(sdk.fetches).toHaveLength(1)
  })
})

/** Just enough of an element for the SDK: attributes, children, a style object and a shadow root. */
class FakeElement {
  attributes = new Map<string, string>()
  children: FakeElement[] = []
  style: Record<string, string> = {}
  textContent = ''
  className = ''
  shadowRoot: FakeElement | null = null
  shadowMode: string | undefined
  /** Defined by the SDK's subclass; `declare` keeps a base field from shadowing it. */
  declare connectedCallback?: () => void
  getAttribute(name: string): string | null {
    return this.attributes.get(name) ?? null
  }
  hasAttribute(name: string): boolean {
    return this.attributes.has(name)
  }
  setAttribute(name: string, value: string): void {
    this.attributes.set(name, String(value))
  }
  appendChild(child: FakeElement): FakeElement {
    this.children.push(child)
    return child
  }
  attachShadow(init: { mode: string }): FakeElement {
    this.shadowMode = init.mode
    this.shadowRoot = new FakeElement()
    return this.shadowRoot
  }
}

function statusOf(widget: FakeElement): FakeElement {
  const find = (node: FakeElement): FakeElement | undefined =>
    node.className === 'rai-widget-status' ? node : node.children.map(find).find(Boolean)
  const status = find(widget.shadowRoot ?? widget)
  if (status === undefined) throw new Error('the widget rendered no status element')
  return status
}

/**
 * Runs the served SDK against a minimal DOM and custom-element registry; `fetch` is real and
 * reaches the stub, and every call is recorded.
 */
async function loadSdk() {
  const source = await (await request(stub.sdkUrl)).body.text()
  const registry = new Map<string, new () => FakeElement>()
  const fetches: { url: string; init: RequestInit; body: string | undefined }[] = []
  const context = {
    HTMLElement: FakeElement,
    customElements: {
      get: (name: string) => registry.get(name),
      define: (name: string, constructor: new () => FakeElement) => {
        if (registry.has(name)) throw new Error(`${name} is already defined`)
        registry.set(name, constructor)
      },
    },
    document: { createElement: () => new FakeElement() },
    fetch: (url: string, init: RequestInit) => {
      fetches.push({ url, init, body: typeof init.body === 'string' ? init.body : undefined })
      return fetch(url, init)
    },
    URL,
  }
  runInNewContext(source, context)
  return {
    source,
    context,
    registry,
    fetches,
    mount(name: string, attributes: Record<string, string>): FakeElement {
      const Widget = registry.get(name)
      if (Widget === undefined) throw new Error(`${name} is not defined`)
      const widget = new Widget()
      for (const [attribute, value] of Object.entries(attributes)) widget.setAttribute(attribute, value)
      widget.connectedCallback?.()
      return widget
    },
  }
}

describe('latency and lifecycle', () => {
  it('holds token answers back while latency is set, and close() still returns', async () => {
    stub.setLatency(60_000)
    let settled = false
    const pending = tokenRequest({ accessId: ACCESS_ID, accessKey: ACCESS_KEY, userIdentifiers: ALICE }).finally(() => {
      settled = true
    })

    await expect.poll(() => stub.received.length).toBe(1)
    expect(settled).toBe(false)
    await stub.close()
    await expect(pending).rejects.toThrow()
    expect(stub.minted).toEqual([])
  })

  it('holds validate answers back too, and answers again once latency is 0', async () => {
    const token = await mintFor()
    stub.setLatency(60_000)
    let settled = false
    const pending = validate({ embedToken: token }).finally(() => {
      settled = true
    })
    await expect.poll(() => stub.received.length).toBe(2)
    expect(settled).toBe(false)

    stub.setLatency(0)
    const res = await validate({ embedToken: token })
    await res.body.dump()
    expect(res.statusCode).toBe(200)
    expect(settled).toBe(false)
    await stub.close()
    await expect(pending).rejects.toThrow()
  })

  it('starts with latencyMs and answers after it', async () => {
    const slow = await start({ latencyMs: 20 })
    try {
      await expect(mintFor(ALICE, slow)).resolves.toEqual(expect.any(String))
    } finally {
      await slow.close()
    }
  })

  it.each([
    [{ accessId: '' }, /^options\.accessId must be a non-empty string$/],
    [{ accessKey: '' }, /^options\.accessKey must be a non-empty string$/],
    [{ communityId: 'a/b' }, /^options\.communityId .* got 'a\/b'$/],
    [{ tokenTtlSeconds: 0 }, /^options\.tokenTtlSeconds must be a positive integer, got 0$/],
    [{ tokenTtlSeconds: 1.5 }, /^options\.tokenTtlSeconds/],
    [{ latencyMs: -1 }, /^options\.latencyMs/],
    [{ port: 70000 }, /^options\.port/],
    [{ identifierNames: [] }, /^options\.identifierNames must be a non-empty array/],
    [{ identifierNames: ['data-email', 'email'] }, /^options\.identifierNames\[1\] must match .* got 'email'$/],
    [{ identifierNames: ['data-email', 'data-email'] }, /^options\.identifierNames\[1\] repeats 'data-email'/],
    [{ now: 5 as unknown as () => number }, /^options\.now must be a function/],
  ])('refuses bad options %o with the full option path', async (options, message) => {
    await expect(start(options)).rejects.toThrow(message)
  })

  it('setLatency refuses a negative latency', () => {
    expect(() => stub.setLatency(-1)).toThrow(RangeError)
  })

  it('answers 404 for anything unknown', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['GET', '/v2/api/widget-access-keys/token'],
      ['POST', '/sdk/widget-sdk.js'],
    ] as const) {
      const res = await request(`${stub.apiUrl}${path}`, { method })
      await res.body.dump()
      expect(res.statusCode).toBe(404)
    }
  })
})

describe('test hooks', () => {
  it('setTokenOverride answers and records the given token, which validate accepts until it expires', async () => {
    const hostile = '"><script>window.pwned=1</script>'
    stub.setTokenOverride(hostile)
    expect(await mintFor()).toBe(hostile)
    expect(stub.minted).toEqual([{ token: hostile, identifiers: ALICE, at: clock }])

    const accepted = await validate({ embedToken: hostile })
    expect(await accepted.body.json()).toEqual({ data: { valid: true, identifiers: ALICE, communityId: COMMUNITY } })

    const refused = await tokenRequest({ accessId: ACCESS_ID, accessKey: 'wrong', userIdentifiers: ALICE })
    await refused.body.dump()
    expect(refused.statusCode).toBe(401)

    clock += 900_000
    const expired = await validate({ embedToken: hostile })
    await expired.body.dump()
    expect(expired.statusCode).toBe(401)

    stub.setTokenOverride(undefined)
    expect(decodeJwt(await mintFor()).email).toBe('alice@example.com')
  })

  it('setTokenAnswer answers exactly the given status and body before any check, and mints nothing', async () => {
    stub.setTokenAnswer({ status: 500, body: 'oops', contentType: 'text/plain' })
    const res = await tokenRequest('not even json', {})
    expect(res.statusCode).toBe(500)
    expect(res.headers['content-type']).toBe('text/plain')
    expect(await res.body.text()).toBe('oops')

    stub.setTokenAnswer({ status: 200, body: '{"data":{}}' })
    const empty = await tokenRequest({ accessId: ACCESS_ID, accessKey: ACCESS_KEY, userIdentifiers: ALICE })
    expect(await empty.body.json()).toEqual({ data: {} })
    expect(stub.minted).toEqual([])

    stub.setTokenAnswer(undefined)
    await expect(mintFor()).resolves.toEqual(expect.any(String))
  })
})
