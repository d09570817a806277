import { cacheStores } from 'undici'
import { describe, expect, it } from 'vitest'
import { LruCacheStore } from './page-cache-store.ts'

const ORIGIN = 'https://widgets.vendor.test'
const NOW = Date.now()

const key = (path: string) => ({ origin: ORIGIN, method: 'GET', path })
const value = (deleteIn = 120_000) => ({
  statusCode: 200,
  statusMessage: 'OK',
  headers: { 'content-type': 'text/html' },
  cachedAt: NOW,
  staleAt: NOW + 60_000,
  deleteAt: NOW + deleteIn,
})

type Store = Pick<LruCacheStore, 'createWriteStream'>

/** Writes one entry the way undici's cache handler does, and waits until the store has it. */
function put(store: Store, path: string, body = 'page', deleteIn?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = store.createWriteStream(key(path), value(deleteIn))
    if (!stream) return reject(new Error('store refused the entry'))
    stream.on('error', reject).on('close', resolve).end(Buffer.from(body))
  })
}

function bodyOf(store: LruCacheStore, path: string): string | undefined {
  const found = store.get(key(path))
  if (found instanceof Promise) throw new Error('expected a synchronous store')
  if (!found?.body) return undefined
  return Buffer.concat([...(found.body as Iterable<Buffer>)]).toString()
}

describe('LruCacheStore', () => {
  it("fixes what it exists for: undici's MemoryCacheStore keeps single-entry URLs past maxCount", async () => {
    const memory = new cacheStores.MemoryCacheStore({ maxCount: 2 })
    for (const path of ['/a', '/b', '/c', '/d']) await put(memory, path)
    const kept = ['/a', '/b', '/c', '/d'].filter((path) => memory.get(key(path)) !== undefined)
    // If this ever fails, undici enforces maxCount itself and the wrapper can go.
    expect(kept).toEqual(['/a', '/b', '/c', '/d'])
  })

  it('keeps at most maxEntries URLs, dropping the least recently used', async () => {
    const store = new LruCacheStore({ maxEntries: 2, maxEntryBytes: 1024 })
    await put(store, '/a', 'A')
    await put(store, '/b', 'B')
    // Reading '/a' makes '/b' the least recently used.
    expect(bodyOf(store, '/a')).toBe('A')
    await put(store, '/c', 'C')
    expect(store.size).toBe(2)
    expect(bodyOf(store, '/a')).toBe('A')
    expect(bodyOf(store, '/b')).toBeUndefined()
    expect(bodyOf(store, '/c')).toBe('C')
  })

  it('counts a rewritten URL once', async () => {
    const store = new LruCacheStore({ maxEntries: 2, maxEntryBytes: 1024 })
    await put(store, '/a', 'A1')
    await put(store, '/a', 'A2')
    await put(store, '/b', 'B')
    expect(store.size).toBe(2)
    expect(bodyOf(store, '/a')).toBe('A2')
    expect(bodyOf(store, '/b')).toBe('B')
  })

  it('does not store, nor count, a body of maxEntryBytes or more', async () => {
    const store = new LruCacheStore({ maxEntries: 2, maxEntryBytes: 4 })
    await put(store, '/big', 'abcd')
    expect(store.size).toBe(0)
    expect(bodyOf(store, '/big')).toBeUndefined()
  })

  it('forgets a deleted URL', async () => {
    const store = new LruCacheStore({ maxEntries: 2, maxEntryBytes: 1024 })
    await put(store, '/a', 'A')
    await store.delete(key('/a'))
    expect(store.size).toBe(0)
    expect(bodyOf(store, '/a')).toBeUndefined()
  })

  it('does not answer with an entry past its deleteAt', async () => {
    const store = new LruCacheStore({ maxEntries: 2, maxEntryBytes: 1024 })
    await put(store, '/old', 'old', -1)
    expect(bodyOf(store, '/old')).toBeUndefined()
  })
})
