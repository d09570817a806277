/**
 * The store behind the widget page cache: undici's `MemoryCacheStore`, with a
 * least-recently-used bound on how many pages it holds.
 *
 * Why the wrapper: in undici 7.30 `MemoryCacheStore` only evicts when a URL
 * holds several entries (its eviction drops half of each URL's entries,
 * rounded down, so a URL with one entry is never dropped), and an entry past
 * its `deleteAt` stays in memory until the same URL is written again. Every
 * widget page is its own URL with one entry, so `maxCount` alone bounds
 * nothing here (see page-cache-store.test.ts).
 */
import { cacheStores, type interceptors } from 'undici'

// undici's cache types, reached through its public API (its type files are
// not importable by name under `moduleResolution: nodenext`).
type CacheStore = NonNullable<NonNullable<Parameters<typeof interceptors.cache>[0]>['store']>
type CacheKey = Parameters<CacheStore['get']>[0]
type CacheValue = Parameters<CacheStore['createWriteStream']>[1]
type GetResult = Exclude<ReturnType<CacheStore['get']>, Promise<unknown>>

export interface LruCacheStoreOptions {
  /** Most pages (distinct origin + path + query) kept; the least recently used is dropped first. */
  maxEntries: number
  /** Largest body stored, in bytes; a larger answer is passed through without being stored. */
  maxEntryBytes: number
}

/** A `CacheStore` for undici's cache interceptor that keeps at most `maxEntries` URLs. */
export class LruCacheStore implements CacheStore {
  private readonly inner: InstanceType<typeof cacheStores.MemoryCacheStore>
  // By `origin:path`, least recently used first (a Map iterates in insertion order).
  private readonly urls = new Map<string, CacheKey>()

  constructor(private readonly options: LruCacheStoreOptions) {
    this.inner = new cacheStores.MemoryCacheStore({
      maxCount: options.maxEntries,
      maxEntrySize: options.maxEntryBytes,
    })
  }

  /** How many URLs are stored. */
  get size(): number {
    return this.urls.size
  }

  get(key: CacheKey): ReturnType<CacheStore['get']> {
    // `MemoryCacheStore` answers synchronously; its type allows a promise.
    const result = this.inner.get(key)
    if (result instanceof Promise) return result.then((found) => this.found(key, found))
    return this.found(key, result)
  }

  createWriteStream(key: CacheKey, value: CacheValue): ReturnType<CacheStore['createWriteStream']> {
    const stream = this.inner.createWriteStream(key, value)
    // 'finish' fires once the entry is in the inner store; a body that was too
    // large or failed destroys the stream instead, and is never counted.
    stream?.once('finish', () => this.touch(key))
    return stream
  }

  delete(key: CacheKey): ReturnType<CacheStore['delete']> {
    this.urls.delete(urlOf(key))
    return this.inner.delete(key)
  }

  private found(key: CacheKey, result: GetResult | undefined): GetResult | undefined {
    if (result) this.touch(key)
    return result
  }

  private touch(key: CacheKey): void {
    const url = urlOf(key)
    this.urls.delete(url)
    this.urls.set(url, key)
    for (const [oldest, oldestKey] of this.urls) {
      if (this.urls.size <= this.options.maxEntries) break
      this.urls.delete(oldest)
      // Deletes every entry of that URL (all methods and `Vary` variants).
      // `MemoryCacheStore` deletes synchronously; its type allows a promise.
      void this.inner.delete(oldestKey)
    }
  }
}

/** The inner store's own grouping: one slot per origin + path (query included). */
function urlOf(key: CacheKey): string {
  return `${key.origin}:${key.path}`
}
