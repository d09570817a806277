import { setImmediate as nextIoTurn } from 'node:timers/promises'
import { cacheStores, MockAgent, request, type Dispatcher } from 'undici'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { widgetPageDispatcher, type WidgetPageCacheOptions } from './page-cache.ts'
import { deferred } from '../test-helpers.ts'

const ORIGIN = 'https://widgets.vendor.test'
const PATH = '/store/w1'
const HTML = { 'content-type': 'text/html; charset=utf-8' }
const V1 = '<!doctype html><title>v1</title><script>window.__WIDGET_INIT__ = { token: "" };</script>'
const V2 = '<!doctype html><title>v2</title><script>window.__WIDGET_INIT__ = { token: "" };</script>'
const T0 = new Date('2030-01-01T00:00:00.000Z').getTime()

let agent: MockAgent
let upstream: number

beforeEach(() => {
  // Only Date is faked: undici's cache and MemoryCacheStore read Date.now(),
  // while the MockAgent and the streams keep their real timers and ticks.
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(T0)
  agent = new MockAgent()
  agent.disableNetConnect()
  upstream = 0
})

afterEach(async () => {
  vi.useRealTimers()
  vi.restoreAllMocks()
  try {
    agent.assertNoPendingInterceptors()
  } finally {
    await agent.close()
  }
})

function pages(options: WidgetPageCacheOptions = {}): Dispatcher {
  return widgetPageDispatcher(agent, { onUpstream: () => upstream++, ...options })
}

/** Declares the vendor's next answer to the widget page GET. */
function vendor(color = 'light') {
  return agent.get(ORIGIN).intercept({ path: PATH, method: 'GET', query: { color } })
}

async function get(dispatcher: Dispatcher, color = 'light', signal?: AbortSignal) {
  const res = await request(`${ORIGIN}${PATH}?color=${color}`, { dispatcher, signal })
  return { status: res.statusCode, body: await res.body.text() }
}

function advance(ms: number): void {
  vi.setSystemTime(Date.now() + ms)
}

/**
 * Lets a background revalidation that the vendor has answered reach the
 * store: the cache writes its entry on a later tick (stream `final`). One I/O
 * turn, not a wall-clock wait.
 */
async function settled(): Promise<void> {
  await nextIoTurn()
  await nextIoTurn()
}

const connectionError = (code: string) => Object.assign(new Error(`connection failed (${code})`), { code })

describe('widgetPageDispatcher: single flight and freshness', () => {
  it('sends one upstream request for 1 000 concurrent renders, and gives all of them the same page', async () => {
    const writes = vi.spyOn(cacheStores.MemoryCacheStore.prototype, 'createWriteStream')
    const dispatcher = pages()
    // Held until all 1 000 are in flight: a MockAgent answers synchronously
    // otherwise, and the cache alone would make the requests look deduplicated.
    const vendorAnswers = deferred<string>()
    vendor().reply(200, () => vendorAnswers.promise, { headers: HTML })
    const pending = Promise.all(Array.from({ length: 1000 }, () => get(dispatcher)))
    vendorAnswers.resolve(V1)
    const results = await pending
    expect(upstream).toBe(1)
    expect(new Set(results.map((r) => `${r.status} ${r.body}`))).toEqual(new Set([`200 ${V1}`]))
    expect(results).toHaveLength(1000)
    // Deduplicated before the cache too: the page is stored once, not once per render.
    expect(writes).toHaveBeenCalledTimes(1)
  })

  it('answers from the cache within the TTL, with no upstream request', async () => {
    const dispatcher = pages()
    vendor().reply(200, V1, { headers: HTML })
    await get(dispatcher)
    advance(59_999)
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V1 })
    expect(upstream).toBe(1)
  })

  it('after the TTL, within stale-while-revalidate: serves the stale page at once and refreshes it once', async () => {
    const dispatcher = pages()
    vendor().reply(200, V1, { headers: HTML })
    await get(dispatcher)
    advance(60_001)
    // The revalidation is held until the test lets the vendor answer.
    const vendorAnswers = deferred<string>()
    vendor().reply(200, () => vendorAnswers.promise, { headers: HTML })
    // Several renders see the stale page while the revalidation is in flight: none waits for it...
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V1 })
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V1 })
    await Promise.all([get(dispatcher), get(dispatcher), get(dispatcher)])
    // ...and they share one background request.
    expect(upstream).toBe(2)
    vendorAnswers.resolve(V2)
    await settled()
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V2 })
    expect(upstream).toBe(2)
  })

  it('after TTL + stale-while-revalidate: fetches again before answering', async () => {
    const dispatcher = pages()
    vendor().reply(200, V1, { headers: HTML })
    await get(dispatcher)
    advance(60_000 + 300_000 + 1)
    vendor().reply(200, V2, { headers: HTML })
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V2 })
    expect(upstream).toBe(2)
  })

  it('applies custom ttlMs and staleWhileRevalidateMs (0: no stale serving)', async () => {
    const dispatcher = pages({ ttlMs: 10_000, staleWhileRevalidateMs: 0 })
    vendor().reply(200, V1, { headers: HTML })
    await get(dispatcher)
    advance(9_999)
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V1 })
    advance(2)
    vendor().reply(200, V2, { headers: HTML })
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V2 })
    expect(upstream).toBe(2)
  })

  it('keeps each ?color= as its own entry', async () => {
    const dispatcher = pages()
    vendor('light').reply(200, V1, { headers: HTML })
    vendor('dark').reply(200, V2, { headers: HTML })
    await expect(get(dispatcher, 'light')).resolves.toEqual({ status: 200, body: V1 })
    await expect(get(dispatcher, 'dark')).resolves.toEqual({ status: 200, body: V2 })
    await expect(get(dispatcher, 'light')).resolves.toEqual({ status: 200, body: V1 })
    await expect(get(dispatcher, 'dark')).resolves.toEqual({ status: 200, body: V2 })
    expect(upstream).toBe(2)
  })

  it('keeps at most maxEntries pages, dropping the least recently used', async () => {
    const dispatcher = pages({ maxEntries: 1 })
    vendor('light').reply(200, V1, { headers: HTML })
    vendor('dark').reply(200, V2, { headers: HTML })
    vendor('light').reply(200, V1, { headers: HTML })
    await get(dispatcher, 'light')
    await get(dispatcher, 'dark')
    await expect(get(dispatcher, 'light')).resolves.toEqual({ status: 200, body: V1 })
    expect(upstream).toBe(3)
  })
})

describe("widgetPageDispatcher: by default our TTL wins over the vendor's caching headers", () => {
  // Many servers send `no-store` on every HTML answer; the widget page is the
  // same for every user and carries no token (vendor docs), so by default it
  // is cached for our TTL whatever the vendor says.
  it.each([
    'no-store',
    'private, max-age=600',
    'no-cache',
    'max-age=0',
    'no-store, no-cache, must-revalidate, proxy-revalidate',
  ])('sends one request upstream for three renders when the vendor says %s', async (cacheControl) => {
    const dispatcher = pages()
    vendor().reply(200, V1, {
      headers: { ...HTML, 'cache-control': cacheControl, pragma: 'no-cache', expires: '0', vary: '*' },
    })
    for (let i = 0; i < 3; i++) await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V1 })
    expect(upstream).toBe(1)
  })

  it('uses our TTL, not a longer one the vendor asks for', async () => {
    const dispatcher = pages({ ttlMs: 10_000, staleWhileRevalidateMs: 0 })
    vendor().reply(200, V1, { headers: { ...HTML, 'cache-control': 'public, max-age=86400, immutable' } })
    await get(dispatcher)
    advance(10_001)
    vendor().reply(200, V2, { headers: { ...HTML, 'cache-control': 'no-store' } })
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V2 })
    expect(upstream).toBe(2)
  })
})

describe("widgetPageDispatcher: honorVendorCacheControl — the vendor's own caching headers win", () => {
  it.each(['no-store', 'private, max-age=600', 'no-cache', 'max-age=0'])(
    'sends every request upstream when the vendor says %s',
    async (cacheControl) => {
      const dispatcher = pages({ honorVendorCacheControl: true })
      for (let i = 0; i < 3; i++) vendor().reply(200, V1, { headers: { ...HTML, 'cache-control': cacheControl } })
      for (let i = 0; i < 3; i++) await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V1 })
      expect(upstream).toBe(3)
    },
  )

  it.each(['max-age=5', 's-maxage=5, max-age=600'])('honours %s over the default TTL', async (cacheControl) => {
    const dispatcher = pages({ honorVendorCacheControl: true })
    vendor().reply(200, V1, { headers: { ...HTML, 'cache-control': cacheControl } })
    await get(dispatcher)
    advance(4_999)
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V1 })
    advance(2)
    vendor().reply(200, V2, { headers: HTML })
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V2 })
    expect(upstream).toBe(2)
  })

  it("honours the vendor's stale-while-revalidate window", async () => {
    const dispatcher = pages({ honorVendorCacheControl: true })
    vendor().reply(200, V1, { headers: { ...HTML, 'cache-control': 'max-age=5, stale-while-revalidate=10' } })
    await get(dispatcher)
    advance(15_001)
    // Past the vendor's 5 + 10 s (our defaults would still serve it stale): a blocking fetch.
    vendor().reply(200, V2, { headers: HTML })
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V2 })
    expect(upstream).toBe(2)
  })

  it('honours an expires header', async () => {
    const dispatcher = pages({ honorVendorCacheControl: true })
    const expires = new Date(T0 + 5_000).toUTCString()
    vendor().reply(200, V1, { headers: { ...HTML, expires } })
    await get(dispatcher)
    advance(4_999)
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V1 })
    advance(2)
    vendor().reply(200, V2, { headers: HTML })
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V2 })
    expect(upstream).toBe(2)
  })
})

describe('widgetPageDispatcher: errors', () => {
  it.each(['ECONNRESET', 'ECONNREFUSED', 'UND_ERR_SOCKET'])(
    'retries once on %s, and the second answer is used',
    async (code) => {
      const dispatcher = pages()
      vendor().replyWithError(connectionError(code))
      vendor().reply(200, V1, { headers: HTML })
      await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V1 })
      // One request upstream, however many attempts it took.
      expect(upstream).toBe(1)
    },
  )

  it('lets the error through when the retry fails too', async () => {
    const dispatcher = pages()
    vendor().replyWithError(connectionError('ECONNRESET'))
    vendor().replyWithError(connectionError('ECONNRESET'))
    await expect(get(dispatcher)).rejects.toMatchObject({ code: 'ECONNRESET' })
  })

  it.each([
    ['a DNS failure', connectionError('ENOTFOUND')],
    ['an error without a code', new Error('something else')],
  ])('does not retry %s', async (_case, error) => {
    const dispatcher = pages()
    vendor().replyWithError(error)
    await expect(get(dispatcher)).rejects.toBe(error)
  })

  it('does not retry when retry is false', async () => {
    const dispatcher = pages({ retry: false })
    vendor().replyWithError(connectionError('ECONNRESET'))
    await expect(get(dispatcher)).rejects.toMatchObject({ code: 'ECONNRESET' })
  })

  it('does not retry a request whose signal aborted (a deadline)', async () => {
    const dispatcher = pages()
    const vendorAnswers = deferred<string>()
    vendor().reply(200, () => vendorAnswers.promise, { headers: HTML })
    const deadline = new AbortController()
    const pending = get(dispatcher, 'light', deadline.signal)
    deadline.abort(new DOMException('deadline', 'TimeoutError'))
    // A retry would have found no second answer declared and failed differently.
    await expect(pending).rejects.toMatchObject({ name: 'TimeoutError' })
    vendorAnswers.resolve(V1)
    expect(upstream).toBe(1)
  })

  it('fails only the render that gave up; the renders that joined it get the page, and it is cached', async () => {
    const dispatcher = pages()
    const vendorAnswers = deferred<string>()
    vendor().reply(200, () => vendorAnswers.promise, { headers: HTML })
    const first = new AbortController()
    const results = Promise.allSettled([get(dispatcher, 'light', first.signal), get(dispatcher)])
    first.abort(new DOMException('deadline', 'TimeoutError'))
    vendorAnswers.resolve(V1)
    const [a, b] = await results
    expect(a).toMatchObject({ status: 'rejected', reason: { name: 'TimeoutError' } })
    expect(b).toEqual({ status: 'fulfilled', value: { status: 200, body: V1 } })
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V1 })
    expect(upstream).toBe(1)
  })

  it('caches the page even when the only render that asked for it gave up before it came', async () => {
    const dispatcher = pages()
    const vendorAnswers = deferred<string>()
    vendor().reply(200, () => vendorAnswers.promise, { headers: HTML })
    const deadline = new AbortController()
    const pending = get(dispatcher, 'light', deadline.signal)
    deadline.abort(new DOMException('deadline', 'TimeoutError'))
    await expect(pending).rejects.toMatchObject({ name: 'TimeoutError' })
    vendorAnswers.resolve(V1)
    await settled()
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V1 })
    expect(upstream).toBe(1)
  })

  it('neither retries nor caches a 500, even one that says it may be cached', async () => {
    const dispatcher = pages()
    vendor().reply(500, 'vendor error', { headers: { 'cache-control': 'public, max-age=600', expires: 'x' } })
    await expect(get(dispatcher)).resolves.toEqual({ status: 500, body: 'vendor error' })
    vendor().reply(200, V1, { headers: HTML })
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V1 })
    expect(upstream).toBe(2)
  })

  it('never caches an error page that undici would keep heuristically (404 with last-modified)', async () => {
    const dispatcher = pages()
    const lastModified = new Date(T0 - 86_400_000).toUTCString()
    vendor().reply(404, 'gone', { headers: { 'last-modified': lastModified } })
    await expect(get(dispatcher)).resolves.toEqual({ status: 404, body: 'gone' })
    vendor().reply(200, V1, { headers: HTML })
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V1 })
  })

  it('keeps serving the stale page when its revalidation fails, even with no-store', async () => {
    const dispatcher = pages()
    vendor().reply(200, V1, { headers: HTML })
    await get(dispatcher)
    advance(60_001)
    vendor().reply(503, 'down', { headers: { 'cache-control': 'no-store' } })
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V1 })
    await settled()
    // Still stored: served stale again, and this revalidation succeeds.
    vendor().reply(200, V2, { headers: HTML })
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V1 })
    await settled()
    await expect(get(dispatcher)).resolves.toEqual({ status: 200, body: V2 })
    expect(upstream).toBe(3)
  })
})

describe('widgetPageDispatcher: scope', () => {
  it('passes other methods through untouched and uncounted', async () => {
    const dispatcher = pages()
    agent.get(ORIGIN).intercept({ path: '/widget/c/signin', method: 'POST' }).reply(200, { token: 'a.b.c' })
    const res = await request(`${ORIGIN}/widget/c/signin`, { dispatcher, method: 'POST' })
    await expect(res.body.json()).resolves.toEqual({ token: 'a.b.c' })
    expect(upstream).toBe(0)
  })

  it.each([
    [{ ttlMs: 0 }, 'options.ttlMs must be a positive integer, got 0'],
    [{ staleWhileRevalidateMs: -1 }, 'options.staleWhileRevalidateMs must be a non-negative integer, got -1'],
    [{ maxEntries: 1.5 }, 'options.maxEntries must be a positive integer, got 1.5'],
    [{ maxEntryBytes: 0 }, 'options.maxEntryBytes must be a positive integer, got 0'],
  ])('refuses bad options %o', (options, message) => {
    expect(() => widgetPageDispatcher(agent, options)).toThrow(new TypeError(message))
  })
})
