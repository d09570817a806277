/**
 * The widget page cache shared by every instance (issue 11): one vendor GET
 * per TTL for the whole fleet instead of one per instance. A layer in front of
 * the page dispatcher (page-cache.ts, built then without its own cache):
 *
 * 1. this instance's memory, while the page is fresh;
 * 2. else the store: a page another instance fetched, checked before use;
 * 3. else a short lock (`setIfAbsent`, one directive deadline): the instance
 *    that takes it fetches and stores the page; the others poll the store and
 *    fetch themselves if it does not come within half their deadline;
 * 4. a store that fails at any step: fetch, as without a store.
 *
 * The page is the same for every user and holds no token; it is sealed all
 * the same, so that a value written into the store by anyone without the
 * secret is ignored rather than rendered. What opens is still checked: its
 * size, its content type and its shape (`valid`).
 */
import { fleetOnce, type SharedState } from '../store/shared.ts'
import type { VendorAnswer } from './request.ts'

export interface SharedPageCacheOptions {
  shared: SharedState
  /** How long a fetched page is served, by every instance. */
  ttlMs: number
  /** Most pages this instance keeps in memory. */
  maxEntries: number
  /** Largest page stored or accepted from the store, in bytes. */
  maxEntryBytes: number
  /** The directive deadline: the lock's life. */
  deadlineMs: number
  now: () => number
  /** Whether a page's text is the vendor's page (for example: it has its token placeholder). */
  valid: (text: string) => boolean
}

interface StoredPage {
  contentType: string
  text: string
  /** Until when (ms on the shared clock) the page is served. */
  freshUntil: number
}

const HTML = /^text\/html\b/i

/** Pages by URL, in this instance's memory and in the shared store. */
export class SharedPageCache {
  // Least recently used first (a Map iterates in insertion order).
  private readonly local = new Map<string, StoredPage>()

  constructor(private readonly options: SharedPageCacheOptions) {}

  /** The page at `url`: from memory, from the store, or from `fetch` (and then stored). */
  async get(url: string, signal: AbortSignal, fetch: () => Promise<VendorAnswer>): Promise<VendorAnswer> {
    const { shared, now } = this.options
    const kept = this.fresh(url)
    if (kept) return answer(kept)
    const key = shared.key('page', url)
    return fleetOnce(shared, {
      lockKey: shared.key('page-fetch', url),
      lockMs: this.options.deadlineMs,
      waitUntil: now() + this.options.deadlineMs / 2,
      now,
      signal,
      lookup: async () => {
        const stored = await this.stored(key)
        return stored.page ? { value: answer(this.keep(url, stored.page)), held: true } : stored
      },
      make: () => this.fetchAndStore(url, key, fetch),
      alone: fetch,
    })
  }

  private async fetchAndStore(url: string, key: string, fetch: () => Promise<VendorAnswer>): Promise<VendorAnswer> {
    const { shared, now, ttlMs } = this.options
    const fetched = await fetch()
    const page = { contentType: fetched.contentType, text: fetched.text, freshUntil: now() + ttlMs }
    if (fetched.status === 200 && this.acceptable(page)) {
      this.keep(url, page)
      await shared.writeSealed(key, Buffer.from(JSON.stringify(page), 'utf8'), ttlMs)
    }
    return fetched
  }

  /**
   * A page from the store that opens, parses and passes the checks; anything
   * else is ignored (and logged). `held`: the key held a value, usable or not.
   */
  private async stored(key: string): Promise<{ page?: StoredPage; held: boolean }> {
    const { shared, now } = this.options
    const read = await shared.readSealed(key, 'page')
    if (!read?.value) return { held: read?.held ?? false }
    if (read.value.length > 2 * this.options.maxEntryBytes + 1024) {
      shared.ignored('page', 'it is larger than the largest page stored')
      return { held: true }
    }
    let page: Partial<StoredPage> | null
    try {
      page = JSON.parse(read.value.toString('utf8')) as Partial<StoredPage> | null
    } catch {
      page = null
    }
    if (
      typeof page?.contentType !== 'string' ||
      typeof page.text !== 'string' ||
      typeof page.freshUntil !== 'number' ||
      !this.acceptable(page as StoredPage)
    ) {
      shared.ignored('page', 'it is not a widget page')
      return { held: true }
    }
    // Never kept longer than our own TTL, whatever the value says.
    const freshUntil = Math.min(page.freshUntil, now() + this.options.ttlMs)
    const fresh = freshUntil > now()
    return fresh ? { page: { contentType: page.contentType, text: page.text, freshUntil }, held: true } : { held: true }
  }

  private acceptable(page: StoredPage): boolean {
    return (
      HTML.test(page.contentType) &&
      Buffer.byteLength(page.text, 'utf8') <= this.options.maxEntryBytes &&
      this.options.valid(page.text)
    )
  }

  private fresh(url: string): StoredPage | undefined {
    const page = this.local.get(url)
    if (!page) return undefined
    this.local.delete(url)
    if (this.options.now() >= page.freshUntil) return undefined
    this.local.set(url, page)
    return page
  }

  private keep(url: string, page: StoredPage): StoredPage {
    this.local.delete(url)
    this.local.set(url, page)
    for (const oldest of this.local.keys()) {
      if (this.local.size <= this.options.maxEntries) break
      this.local.delete(oldest)
    }
    return page
  }
}

function answer(page: StoredPage): VendorAnswer {
  return { status: 200, contentType: page.contentType, text: page.text }
}
