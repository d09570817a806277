/**
 * The `SharedStore` contract, run against both implementations: `MemoryStore`
 * with a fake clock, and `RedisStore` against a real redis-server (started
 * here, stopped after). What one does, the other does.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MemoryStore } from './memory.ts'
import { RedisStore } from './redis.ts'
import { StoreUnavailableError, type SharedStore } from './store.ts'
import { useRedisServer } from './test-helpers.ts'

interface Subject {
  name: string
  /** A new, empty store. */
  create(): Promise<SharedStore>
  /** A TTL that the expiry tests wait out (fake time for memory, real time for Redis). */
  shortTtlMs: number
  /** Lets `ms` pass: moves the fake clock; a no-op for Redis, where real time passes while polling. */
  tick(ms: number): void
}

const redisServer = useRedisServer()
let clock = 1_000_000
let prefixes = 0

const subjects: Subject[] = [
  {
    name: 'MemoryStore',
    create: () => Promise.resolve(new MemoryStore({ now: () => clock })),
    shortTtlMs: 200,
    tick: (ms) => (clock += ms),
  },
  {
    name: 'RedisStore',
    async create() {
      // A prefix per test keeps the tests' keys apart on the one server. The
      // deadline is generous here: this suite checks behaviour, not latency, and
      // must not flip on a busy machine (the fault tests use the default).
      const store = new RedisStore({ url: redisServer().url, keyPrefix: `contract-${++prefixes}:`, timeoutMs: 2000 })
      expect(await store.connect()).toBe(true)
      return store
    },
    shortTtlMs: 300,
    tick: () => {},
  },
]

const value = (text: string) => Buffer.from(text)

describe.each(subjects)('$name', (subject) => {
  let store: SharedStore

  beforeEach(async () => {
    store = await subject.create()
  })
  afterEach(async () => {
    await store.close()
  })

  /** Polls `read` (moving the fake clock between reads) until it gives `expected`. */
  async function eventually<T>(read: () => Promise<T>, expected: T): Promise<void> {
    await expect
      .poll(
        () => {
          subject.tick(20)
          return read()
        },
        { timeout: 5000, interval: 20 },
      )
      .toEqual(expected)
  }

  describe('get and set', () => {
    it('reads back what was set, and nothing for a key never set', async () => {
      await store.set('greeting', value('hello'), 60_000)
      await expect(store.get('greeting')).resolves.toEqual(value('hello'))
      await expect(store.get('never-set')).resolves.toBeUndefined()
    })

    it('keeps any bytes, the empty value included', async () => {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
      await store.set('bytes', bytes, 60_000)
      await store.set('empty', Buffer.alloc(0), 60_000)
      await expect(store.get('bytes')).resolves.toEqual(bytes)
      await expect(store.get('empty')).resolves.toEqual(Buffer.alloc(0))
    })

    it('stores a copy: changing the buffer after set changes nothing stored', async () => {
      const buffer = value('before')
      await store.set('copied', buffer, 60_000)
      buffer.write('AFTER!')
      await expect(store.get('copied')).resolves.toEqual(value('before'))
    })

    it('forgets a value once its TTL has passed', async () => {
      await store.set('short', value('soon gone'), subject.shortTtlMs)
      await expect(store.get('short')).resolves.toEqual(value('soon gone'))
      await eventually(() => store.get('short'), undefined)
    })

    it('replaces both the value and the TTL', async () => {
      await store.set('replaced', value('long-lived'), 60_000)
      await store.set('replaced', value('short-lived'), subject.shortTtlMs)
      await expect(store.get('replaced')).resolves.toEqual(value('short-lived'))
      await eventually(() => store.get('replaced'), undefined)
    })
  })

  describe('setIfAbsent', () => {
    it('stores only into an empty key, and says whether it did', async () => {
      await expect(store.setIfAbsent('lock', value('first'), 60_000)).resolves.toBe(true)
      await expect(store.setIfAbsent('lock', value('second'), 60_000)).resolves.toBe(false)
      await expect(store.get('lock')).resolves.toEqual(value('first'))
    })

    it('claims a key again once it was deleted or has expired', async () => {
      await expect(store.setIfAbsent('probe', value('a'), subject.shortTtlMs)).resolves.toBe(true)
      await store.delete('probe')
      await expect(store.setIfAbsent('probe', value('b'), subject.shortTtlMs)).resolves.toBe(true)
      await expect(store.setIfAbsent('probe', value('c'), 60_000)).resolves.toBe(false)
      await eventually(() => store.setIfAbsent('probe', value('d'), 60_000), true)
      await expect(store.get('probe')).resolves.toEqual(value('d'))
    })

    it('of 50 concurrent claims, exactly one wins, and its value is the one stored', async () => {
      const claims = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.setIfAbsent('contended', value(`claimant-${i}`), 60_000)),
      )
      expect(claims.filter(Boolean)).toHaveLength(1)
      const winner = claims.indexOf(true)
      await expect(store.get('contended')).resolves.toEqual(value(`claimant-${winner}`))
    })
  })

  describe('delete', () => {
    it('removes a key, and is a no-op on a key that holds nothing', async () => {
      await store.set('doomed', value('x'), 60_000)
      await store.delete('doomed')
      await expect(store.get('doomed')).resolves.toBeUndefined()
      await expect(store.delete('never-set')).resolves.toBeUndefined()
    })
  })

  describe('increment', () => {
    it('creates a counter at 0 and returns each new value; the counter reads as its decimal text', async () => {
      await expect(store.increment('hits', 60_000)).resolves.toBe(1)
      await expect(store.increment('hits', 60_000)).resolves.toBe(2)
      await expect(store.increment('hits', 60_000)).resolves.toBe(3)
      await expect(store.get('hits')).resolves.toEqual(value('3'))
    })

    it('is atomic: 100 concurrent increments return 1 to 100, each once', async () => {
      const counts = await Promise.all(Array.from({ length: 100 }, () => store.increment('busy', 60_000)))
      expect(counts.toSorted((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
      await expect(store.get('busy')).resolves.toEqual(value('100'))
    })

    it('keeps the expiry set when the counter was created: increments do not extend it (a fixed window)', async () => {
      await expect(store.increment('window', subject.shortTtlMs)).resolves.toBe(1)
      await expect(store.increment('window', subject.shortTtlMs)).resolves.toBe(2)
      // Increments every 20 ms, well within the TTL: were each one to extend the
      // expiry, the counter would never start again at 1.
      await eventually(() => store.increment('window', subject.shortTtlMs), 1)
    })

    it('rejects with StoreUnavailableError on a key that holds something other than a counter', async () => {
      await store.set('text', value('not a number'), 60_000)
      await expect(store.increment('text', 60_000)).rejects.toThrow(StoreUnavailableError)
      await expect(store.get('text')).resolves.toEqual(value('not a number'))
    })
  })

  describe('validation', () => {
    const badKeys: [string, string][] = [
      ['empty', ''],
      ['with a space', 'user alice'],
      ['with a newline', 'line\nbreak'],
      ['not ASCII', 'clé'],
      ['over 512 characters', 'k'.repeat(513)],
    ]

    it.each(badKeys)('refuses a key %s, from every method, as a rejected promise', async (_, key) => {
      await expect(store.get(key)).rejects.toThrow(TypeError)
      await expect(store.set(key, value('v'), 1000)).rejects.toThrow(TypeError)
      await expect(store.setIfAbsent(key, value('v'), 1000)).rejects.toThrow(TypeError)
      await expect(store.delete(key)).rejects.toThrow(TypeError)
      await expect(store.increment(key, 1000)).rejects.toThrow(TypeError)
    })

    it('accepts a key of 512 printable characters', async () => {
      const key = `${'!~'.repeat(255)}ok`
      await store.set(key, value('v'), 60_000)
      await expect(store.get(key)).resolves.toEqual(value('v'))
    })

    it('never repeats the refused key in the message (it might be an email or a token)', async () => {
      await expect(store.get('alice@example.com secret-token')).rejects.toThrow(
        /^store key must be 1 to 512 printable ASCII characters without spaces, got 30 characters/,
      )
      const error = await store.get('alice@example.com secret-token').catch((e: unknown) => e)
      expect(String(error)).not.toMatch(/alice|secret-token/)
    })

    it.each([0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])('refuses a TTL of %s', async (ttl) => {
      await expect(store.set('k', value('v'), ttl)).rejects.toThrow(/^store ttlMs must be a positive integer/)
      await expect(store.setIfAbsent('k', value('v'), ttl)).rejects.toThrow(TypeError)
      await expect(store.increment('k', ttl)).rejects.toThrow(TypeError)
      await expect(store.get('k')).resolves.toBeUndefined()
    })

    it('refuses a value that is not a Buffer', async () => {
      const text = 'plain string' as unknown as Buffer
      await expect(store.set('k', text, 1000)).rejects.toThrow('store value must be a Buffer, got string')
      await expect(store.setIfAbsent('k', text, 1000)).rejects.toThrow(TypeError)
    })
  })

  describe('close', () => {
    it('makes every later call reject with StoreUnavailableError, and can be called twice', async () => {
      await store.set('k', value('v'), 60_000)
      await store.close()
      await expect(store.close()).resolves.toBeUndefined()
      await expect(store.get('k')).rejects.toThrow(StoreUnavailableError)
      await expect(store.set('k', value('v'), 1000)).rejects.toThrow(StoreUnavailableError)
      await expect(store.setIfAbsent('k', value('v'), 1000)).rejects.toThrow(StoreUnavailableError)
      await expect(store.delete('k')).rejects.toThrow(StoreUnavailableError)
      await expect(store.increment('c', 1000)).rejects.toThrow(StoreUnavailableError)
    })
  })
})
