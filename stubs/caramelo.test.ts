import { once } from 'node:events'
import { runInNewContext } from 'node:vm'
import { request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { startCarameloStub } from './index.ts'
import type { CarameloStub } from './index.ts'

const SECRET = 'test-secret-token-0123456789'
const PROJECT = 'demo-project'
const ALICE = { external_customer_id: 'u-alice', name: 'Alice', email: 'alice@example.com', lang: 'en' }

let stub: CarameloStub
const openSockets: WebSocket[] = []

beforeEach(async () => {
  stub = await startCarameloStub({ secretToken: SECRET, projectId: PROJECT })
})

afterEach(async () => {
  for (const socket of openSockets.splice(0)) socket.terminate()
  await stub.close()
})

function auth(body: unknown, project = PROJECT) {
  return request(`${stub.apiUrl}/api/chatbox/project/${project}/intranet-auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

async function mintToken(identity: Record<string, string> = ALICE): Promise<string> {
  const res = await auth({ secret_token: SECRET, ...identity })
  expect(res.statusCode).toBe(200)
  const { real_time_access_token: token } = (await res.body.json()) as { real_time_access_token: string }
  return token
}

/** Opens the chat WebSocket, sends one auth message, and resolves the first answer and the close code. */
async function authenticateSocket(message: unknown): Promise<{ reply: unknown; closed: Promise<number> }> {
  const socket = new WebSocket(`${stub.apiUrl.replace(/^http/, 'ws')}/ws`)
  openSockets.push(socket)
  const closed = once(socket, 'close').then(([code]) => code as number)
  await once(socket, 'open')
  socket.send(JSON.stringify(message))
  const [data] = (await once(socket, 'message')) as [Buffer]
  return { reply: JSON.parse(data.toString('utf8')), closed }
}

describe('intranet-auth', () => {
  it('mints a token, records the body fields, and answers the documented shape', async () => {
    const res = await auth({ secret_token: SECRET, ...ALICE })
    const body = (await res.body.json()) as Record<string, unknown>

    expect(res.statusCode).toBe(200)
    expect(body).toEqual({
      real_time_access_token: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/),
      customer_id: expect.any(String),
      chat: { id: expect.any(String) },
      chatbot: { name: 'Caramelo' },
    })
    expect(stub.minted).toEqual([
      {
        token: body['real_time_access_token'],
        externalCustomerId: 'u-alice',
        name: 'Alice',
        email: 'alice@example.com',
        lang: 'en',
        usedAt: null,
      },
    ])
    expect(JSON.parse(stub.received[0]?.body ?? '')).toEqual({ secret_token: SECRET, ...ALICE })
  })

  it('mints a new token every time, with a customer id stable per external id', async () => {
    const ids = async (identity: Record<string, string>) => {
      const res = await auth({ secret_token: SECRET, ...identity })
      return (await res.body.json()) as { real_time_access_token: string; customer_id: string }
    }
    const [first, second, bob] = [
      await ids(ALICE),
      await ids(ALICE),
      await ids({ ...ALICE, external_customer_id: 'u-bob' }),
    ]

    expect(first.real_time_access_token).not.toBe(second.real_time_access_token)
    expect(first.customer_id).toBe(second.customer_id)
    expect(bob.customer_id).not.toBe(first.customer_id)
    expect(first.customer_id).not.toContain('u-alice')
  })

  it.each([
    ['a wrong secret', { secret_token: 'not-the-secret', ...ALICE }],
    ['no secret', ALICE],
  ])('answers 401 for %s, mints nothing and echoes no secret', async (_, body) => {
    const res = await auth(body)
    const text = await res.body.text()

    expect(res.statusCode).toBe(401)
    expect(text).not.toContain(SECRET)
    expect(text).not.toContain('not-the-secret')
    expect(stub.minted).toEqual([])
  })

  it.each([
    ['bad JSON', '{"secret_token":', PROJECT, 400],
    ['a JSON array', '[]', PROJECT, 400],
    ['an unknown project', { secret_token: SECRET, ...ALICE }, 'other-project', 404],
    ['a missing name', { secret_token: SECRET, ...ALICE, name: undefined }, PROJECT, 422],
    ['an empty email', { secret_token: SECRET, ...ALICE, email: '' }, PROJECT, 422],
    ['a numeric external id', { secret_token: SECRET, ...ALICE, external_customer_id: 42 }, PROJECT, 422],
  ])('answers %s with its status and mints nothing', async (_, body, project, status) => {
    const res = await auth(body, project)
    await res.body.dump()
    expect(res.statusCode).toBe(status)
    expect(stub.minted).toEqual([])
  })

  it('answers 413 for an oversized body', async () => {
    const res = await auth({ secret_token: SECRET, ...ALICE, name: 'x'.repeat(70 * 1024) })
    await res.body.dump()
    expect(res.statusCode).toBe(413)
    expect(stub.minted).toEqual([])
  })
})

describe('WebSocket', () => {
  it('accepts a token once, greets by name, and rejects its second use', async () => {
    const token = await mintToken()

    const first = await authenticateSocket({ type: 'auth', token, project_id: PROJECT })
    expect(first.reply).toEqual({ type: 'greeting', text: 'Hi Alice! How can I help?' })
    expect(stub.minted[0]?.usedAt).toEqual(expect.any(Number))

    const second = await authenticateSocket({ type: 'auth', token, project_id: PROJECT })
    expect(second.reply).toEqual({ type: 'error' })
    expect(await second.closed).toBe(1008)
    expect(stub.sockets).toEqual([
      { token, accepted: true, at: expect.any(Number) },
      { token, accepted: false, at: expect.any(Number) },
    ])
    expect(stub.received.filter((entry) => entry.path === '/ws')).toHaveLength(2)
  })

  it('rejects an unknown token and a wrong project id without using up the token', async () => {
    const token = await mintToken()

    const unknown = await authenticateSocket({ type: 'auth', token: 'unknown-token', project_id: PROJECT })
    const wrongProject = await authenticateSocket({ type: 'auth', token, project_id: 'other-project' })

    expect([unknown.reply, wrongProject.reply]).toEqual([{ type: 'error' }, { type: 'error' }])
    expect(stub.minted[0]?.usedAt).toBeNull()
    expect(stub.sockets.map((attempt) => attempt.accepted)).toEqual([false, false])
  })

  it('close() ends an open chat', async () => {
    const token = await mintToken()
    const chat = await authenticateSocket({ type: 'auth', token, project_id: PROJECT })

    await stub.close()
    await expect(chat.closed).resolves.toEqual(expect.any(Number))
  })
})

describe('SDK scripts', () => {
  it.each(['/sdk/latest/authenticated.js', '/sdk/latest/index.js'])('serves %s as JavaScript', async (path) => {
    const res = await request(`${stub.apiUrl}${path}`)
    const source = await res.body.text()

    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('application/javascript; charset=utf-8')
    expect(source).not.toContain('innerHTML')
  })

  it('exposes the authenticated SDK as sdkUrl', () => {
    expect(stub.sdkUrl).toBe(`${stub.apiUrl}/sdk/latest/authenticated.js`)
  })

  it('the authenticated SDK opens the chat with the page token and shows the greeting', async () => {
    const token = await mintToken()
    const box = await runSdk(stub.sdkUrl, { secure_connection_token: token, project_id: PROJECT })

    await expect.poll(() => box.textContent).toBe('Hi Alice! How can I help?')
    expect(box).toMatchObject({
      id: 'carameloai-chatbot',
      attributes: { role: 'complementary', 'aria-label': 'Chatbot' },
    })
    expect(box.style.cssText).toContain('position:fixed')
  })

  it('the authenticated SDK shows an error for a used token and for missing config', async () => {
    const token = await mintToken()
    await authenticateSocket({ type: 'auth', token, project_id: PROJECT })

    const reused = await runSdk(stub.sdkUrl, { secure_connection_token: token, project_id: PROJECT })
    await expect.poll(() => reused.textContent).toBe('Chatbot error')

    const unconfigured = await runSdk(stub.sdkUrl, undefined)
    expect(unconfigured.textContent).toBe('Chatbot error: not configured')
  })

  it('the authenticated SDK shows an error when the chat server cannot be reached', async () => {
    const gone = await startCarameloStub({ secretToken: SECRET, projectId: PROJECT })
    await gone.close()
    const box = await runSdk(stub.sdkUrl, { secure_connection_token: 'x', project_id: PROJECT }, gone.sdkUrl)
    await expect.poll(() => box.textContent).toBe('Chatbot error')
  })

  it('the public SDK only shows that it was loaded', async () => {
    const box = await runSdk(`${stub.apiUrl}/sdk/latest/index.js`, {
      secure_connection_token: 'x',
      project_id: PROJECT,
    })
    expect(box.textContent).toBe('Chatbot error: public SDK loaded')
    expect(stub.sockets).toEqual([])
  })

  it('anything else is 404', async () => {
    const res = await request(`${stub.apiUrl}/sdk/latest/other.js`)
    await res.body.dump()
    expect(res.statusCode).toBe(404)
  })
})

interface FakeElement {
  id: string
  textContent: string
  style: { cssText: string }
  attributes: Record<string, string>
  setAttribute(name: string, value: string): void
}

/**
 * Runs the SDK served at `src` against a minimal DOM, with the `ws` client standing in for the
 * browser's WebSocket; `scriptSrc` is the URL the script believes it was loaded from.
 */
async function runSdk(src: string, config: unknown, scriptSrc = src): Promise<FakeElement> {
  const source = await (await request(src)).body.text()
  const box: FakeElement = {
    id: '',
    textContent: '',
    style: { cssText: '' },
    attributes: {},
    setAttribute(name, value) {
      this.attributes[name] = value
    },
  }
  const body = { children: [] as FakeElement[], appendChild: (child: FakeElement) => body.children.push(child) }
  const document = { currentScript: { src: scriptSrc }, body, createElement: () => box }
  const TrackedWebSocket = class extends WebSocket {
    constructor(url: string) {
      super(url)
      openSockets.push(this)
    }
  }
  runInNewContext(source, { window: { carameloaiChatbot: config }, document, WebSocket: TrackedWebSocket, URL, JSON })
  expect(body.children).toEqual([box])
  return box
}

describe('test hooks', () => {
  it('setTokenOverride answers the given token, records it, and the WebSocket accepts it once', async () => {
    const hostile = '"</script><script>window.pwned=3</script>'
    stub.setTokenOverride(hostile)
    expect(await mintToken()).toBe(hostile)
    expect(stub.minted).toEqual([expect.objectContaining({ token: hostile, externalCustomerId: 'u-alice' })])

    const first = await authenticateSocket({ type: 'auth', token: hostile, project_id: PROJECT })
    expect(first.reply).toEqual({ type: 'greeting', text: 'Hi Alice! How can I help?' })

    stub.setTokenOverride(undefined)
    expect(await mintToken()).not.toBe(hostile)
  })

  it('setAuthAnswer answers exactly the given status and body and mints nothing', async () => {
    stub.setAuthAnswer({ status: 200, body: '<html>not json' })
    const res = await auth({ secret_token: SECRET, ...ALICE })
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toBe('<html>not json')
    expect(stub.minted).toEqual([])

    stub.setAuthAnswer(undefined)
    await expect(mintToken()).resolves.toEqual(expect.any(String))
  })
})
