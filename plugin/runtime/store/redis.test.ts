/**
 * What only the Redis store has: its options, its key prefix, and how it
 * behaves when Redis fails (issue 11: Redis is never a single point of
 * failure). Every test runs against a real redis-server; the fault tests
 * start their own, to stop, kill, pause and restart it.
 */
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { RedisStore, type RedisStoreOptions } from './redis.ts'
import { StoreUnavailableError, type SharedStore } from './store.ts'
import { RedisServer, useRedisServer } from './test-helpers.ts'

const value = (text: string) => Buffer.from(text)

/**
 * The command deadline of these tests' stores, far above the default 100 ms:
 * most cases need Redis to answer, and a busy machine sees answers late (a
 * late answer is a failed call). A stopped or killed Redis fails calls at once
 * whatever the deadline, and a paused one misses any deadline.
 */
const ANSWERS_MS = 5000

/** A store closed when the test ends. */
function storeFor(url: string, options: Partial<RedisStoreOptions> = {}): RedisStore {
  const store = new RedisStore({ url, timeoutMs: ANSWERS_MS, ...options })
  onTestFinished(() => store.close())
  return store
}

/** A server of this test's own, disposed of when the test ends. */
async function ownServer(): Promise<RedisServer> {
  const server = await RedisServer.start()
  onTestFinished(() => server.dispose())
  return server
}

/** Whether a set then a get through `store` works right now. */
async function works(store: SharedStore): Promise<boolean> {
  try {
    await store.set('probe', value('ok'), 10_000)
    return (await store.get('probe'))?.toString() === 'ok'
  } catch {
    return false
  }
}

/**
 * Records, until the test ends, what must never happen when Redis fails: an
 * unhandled rejection, an uncaught exception (an 'error' event nobody listens
 * to), or ioredis's own report of an 'error' event without a listener.
 */
function watchForUnhandled(): { events: string[] } {
  const events: string[] = []
  const onRejection = (reason: unknown) => events.push(`unhandledRejection: ${String(reason)}`)
  const onException = (error: unknown) => events.push(`uncaughtException: ${String(error)}`)
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
  const consoleError = vi.spyOn(console, 'error')
  onTestFinished(() => {
    process.off('unhandledRejection', onRejection)
    process.off('uncaughtException', onException)
    consoleError.mockRestore()
  })
  return {
    get events() {
      const reported = consoleError.mock.calls.filter((args) => String(args[0]).includes('[ioredis]'))
      return [...events, ...reported.map((args) => `console.error: ${args.map(String).join(' ')}`)]
    },
  }
}

/** Every operation once, each settled. */
function everyOperation(store: SharedStore): Promise<PromiseSettledResult<unknown>[]> {
  return Promise.allSettled([
    store.get('k'),
    store.set('k', value('secret-value-canary'), 10_000),
    store.setIfAbsent('k', value('secret-value-canary'), 10_000),
    store.delete('k'),
    store.increment('c', 10_000),
  ])
}

/**
 * Asserts that every outcome is a StoreUnavailableError whose message holds
 * no stored value, and says why it failed: `'deadline'` when each call waited
 * for its deadline, `'refused'` when none did (refused at once).
 */
function expectAllUnavailable(outcomes: PromiseSettledResult<unknown>[], why: 'deadline' | 'refused'): void {
  for (const outcome of outcomes) {
    expect(outcome.status).toBe('rejected')
    const reason = (outcome as PromiseRejectedResult).reason as Error
    expect(reason).toBeInstanceOf(StoreUnavailableError)
    expect(reason).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', message: expect.stringMatching(/^redis store /) })
    expect(reason.message).not.toContain('secret-value-canary')
    if (why === 'deadline') expect(reason.message).toMatch(/timed out/)
    else expect(reason.message).not.toMatch(/timed out/)
  }
}

describe('RedisStore', () => {
  const server = useRedisServer()

  it('connect() resolves true once Redis answers, and the store then works', async () => {
    const store = storeFor(server().url)
    await expect(store.connect()).resolves.toBe(true)
    await expect(store.connect()).resolves.toBe(true)
    expect(await works(store)).toBe(true)
  })

  it('keeps stores with different prefixes apart on one Redis, under their prefix', async () => {
    const a = storeFor(server().url, { keyPrefix: 'app-a:' })
    const b = storeFor(server().url, { keyPrefix: 'app-b:' })
    const raw = storeFor(server().url, { keyPrefix: '' })
    await Promise.all([a.connect(), b.connect(), raw.connect()])
    await a.set('shared-name', value('from a'), 60_000)
    await expect(b.get('shared-name')).resolves.toBeUndefined()
    await b.set('shared-name', value('from b'), 60_000)
    await expect(a.increment('count', 60_000)).resolves.toBe(1)
    await expect(b.increment('count', 60_000)).resolves.toBe(1)
    await a.delete('shared-name')
    await expect(b.get('shared-name')).resolves.toEqual(value('from b'))
    // What Redis holds: each key under its store's prefix.
    await expect(raw.get('app-b:shared-name')).resolves.toEqual(value('from b'))
    await expect(raw.get('app-a:shared-name')).resolves.toBeUndefined()
    await expect(raw.get('app-a:count')).resolves.toEqual(value('1'))
  })

  it('uses eta-embeds: as the default prefix', async () => {
    const store = storeFor(server().url)
    const raw = storeFor(server().url, { keyPrefix: '' })
    await Promise.all([store.connect(), raw.connect()])
    await store.set('default-prefixed', value('v'), 60_000)
    await expect(raw.get('eta-embeds:default-prefixed')).resolves.toEqual(value('v'))
  })

  describe('options', () => {
    it('refuses a URL that is not redis:// or rediss://, never repeating its password', () => {
      expect(() => new RedisStore({ url: 'http://127.0.0.1:6379' })).toThrow(
        "options.store.url must be a redis:// or rediss:// URL, got 'http://127.0.0.1:6379'",
      )
      expect(() => new RedisStore({ url: 'redis//user:hunter2@host' })).toThrow(/^options\.store\.url must be/)
      expect(() => new RedisStore({ url: 'http://user:hunter2@host' })).toThrow("got 'http://***@host'")
    })

    it('refuses a bad deadline or prefix, naming the option', () => {
      const url = 'redis://127.0.0.1:1'
      expect(() => new RedisStore({ url, timeoutMs: 0 })).toThrow('options.store.timeoutMs must be a positive integer')
      expect(() => new RedisStore({ url, connectTimeoutMs: 1.5 })).toThrow('options.store.connectTimeoutMs')
      expect(() => new RedisStore({ url, maxReconnectDelayMs: -1 })).toThrow('options.store.maxReconnectDelayMs')
      expect(() => new RedisStore({ url, keyPrefix: 'has space:' })).toThrow(
        "options.store.keyPrefix must be at most 64 printable ASCII characters without spaces, got 'has space:'",
      )
    })
  })

  describe('when Redis fails', () => {
    it('Redis stopped: every call rejects with StoreUnavailableError, promptly, and nothing is left unhandled', async () => {
      const watch = watchForUnhandled()
      const own = await ownServer()
      const store = storeFor(own.url)
      expect(await store.connect()).toBe(true)
      await store.set('k', value('v'), 60_000)

      await own.stop()
      // Refused, not timed out: nothing waits for Redis (the deadline is 5 s; none is reached).
      expectAllUnavailable(await everyOperation(store), 'refused')

      // Nothing queues while Redis is away: a burst is refused too.
      const burst = await Promise.allSettled(Array.from({ length: 1000 }, (_, i) => store.get(`key-${i}`)))
      expectAllUnavailable(burst, 'refused')
      expect(watch.events).toEqual([])
    })

    it('Redis hung: every call rejects at its deadline; once it answers again, the same store works', async () => {
      const watch = watchForUnhandled()
      const own = await ownServer()
      // A paused Redis misses any deadline; 1 s (not the default 100 ms) is one a
      // resumed Redis meets on a busy machine, and short enough to wait out.
      const store = storeFor(own.url, { timeoutMs: 1000 })
      expect(await store.connect()).toBe(true)

      own.pause()
      // Each call settles, and by its deadline, not by the connection dropping (after 10 deadlines).
      expectAllUnavailable(await everyOperation(store), 'deadline')

      own.resume()
      await expect.poll(() => works(store), { timeout: 10_000, interval: 50 }).toBe(true)
      expect(watch.events).toEqual([])
    })

    it('Redis down when the store starts: connect() says false, calls reject, and Redis started later is used', async () => {
      const watch = watchForUnhandled()
      const own = await ownServer()
      await own.stop()
      const store = storeFor(own.url)

      const started = performance.now()
      await expect(store.connect()).resolves.toBe(false)
      expect(performance.now() - started).toBeLessThan(5000)
      expectAllUnavailable(await everyOperation(store), 'refused')

      await own.restart()
      await expect.poll(() => works(store), { timeout: 10_000, interval: 50 }).toBe(true)
      await expect(store.connect()).resolves.toBe(true)
      expect(watch.events).toEqual([])
    })

    it('Redis killed mid-use, then restarted: calls in flight settle, failures are StoreUnavailableError, the same store recovers', async () => {
      const watch = watchForUnhandled()
      const own = await ownServer()
      const store = storeFor(own.url)
      expect(await store.connect()).toBe(true)

      // Ten callers using the store in a loop, as requests would.
      let running = true
      let succeeded = 0
      const failures: unknown[] = []
      const callers = Array.from({ length: 10 }, async (_, i) => {
        while (running) {
          try {
            await store.set(`caller-${i}`, value('v'), 10_000)
            await store.increment(`hits-${i}`, 10_000)
            succeeded++
          } catch (error) {
            failures.push(error)
            // Gives the event loop a turn: a failure while Redis is down is immediate.
            await new Promise((resolve) => setImmediate(resolve))
          }
        }
      })

      await expect.poll(() => succeeded, { timeout: 5000 }).toBeGreaterThan(50)
      await own.kill()
      await expect.poll(() => failures.length, { timeout: 5000 }).toBeGreaterThan(0)
      await own.restart()
      const before = succeeded
      await expect.poll(() => succeeded, { timeout: 10_000 }).toBeGreaterThan(before + 50)
      running = false
      await Promise.all(callers)

      expect(failures.every((failure) => failure instanceof StoreUnavailableError)).toBe(true)
      expect(await works(store)).toBe(true)
      expect(watch.events).toEqual([])
    })

    it('after close(), connect() says false and every call rejects', async () => {
      const store = new RedisStore({ url: server().url })
      expect(await store.connect()).toBe(true)
      await store.close()
      await expect(store.connect()).resolves.toBe(false)
      await expect(store.get('k')).rejects.toThrow(StoreUnavailableError)
    })
  })
})

describe('RedisServer (the test harness)', () => {
  it('fails, never skips, when redis-server is missing, saying how to install it', async () => {
    await expect(RedisServer.start({ binary: 'redis-server-that-is-not-installed' })).rejects.toThrow(
      /redis-server-that-is-not-installed was not found: .*`sudo apt-get install -y redis-server`/,
    )
  })
})
