/**
 * The shared store of one process: what an instance uses when no Redis is
 * configured (`npm start`), and what it would fall back to. Shares nothing
 * with other instances, by definition.
 *
 * A `Map` in least-recently-used order, bounded by `maxEntries`. Expiry is
 * checked against the injected clock when a key is read, so no timer runs:
 * an expired entry stays until it is read, replaced or pushed out by the
 * bound. Values are copied in and out, so a caller that reuses its buffer
 * cannot change what is stored (as with Redis).
 */
import { integer } from '../check.ts'
import { checkKey, checkTtl, checkValue, StoreUnavailableError, type SharedStore } from './store.ts'

export interface MemoryStoreOptions {
  /**
   * Most keys kept; when a new key would exceed it, the least recently used
   * (read or written) key is dropped first.
   * @default 10_000
   */
  maxEntries?: number
  /**
   * The clock, in milliseconds (inject a fake one in tests). A value expires
   * once more than its `ttlMs` has passed on this clock, as in Redis.
   * @default Date.now
   */
  now?: () => number
}

interface Entry {
  value: Buffer
  /** The last millisecond at which the value is still there. */
  expiresAt: number
}

/** `SharedStore` in this process's memory. */
export class MemoryStore implements SharedStore {
  private readonly maxEntries: number
  private readonly now: () => number
  // Least recently used first: a Map iterates in insertion order, and a use re-inserts.
  private readonly entries = new Map<string, Entry>()
  private closed = false

  constructor(options: MemoryStoreOptions = {}) {
    this.maxEntries = integer('options.store.maxEntries', options.maxEntries, 10_000)
    this.now = options.now ?? Date.now
  }

  /** How many keys are held, expired ones not yet dropped included. */
  get size(): number {
    return this.entries.size
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.run(() => {
      checkKey(key)
      const entry = this.live(key)
      return entry && Buffer.from(entry.value)
    })
  }

  set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    return this.run(() => {
      checkKey(key)
      checkValue(value)
      checkTtl(ttlMs)
      this.put(key, { value: Buffer.from(value), expiresAt: this.now() + ttlMs })
    })
  }

  setIfAbsent(key: string, value: Buffer, ttlMs: number): Promise<boolean> {
    return this.run(() => {
      checkKey(key)
      checkValue(value)
      checkTtl(ttlMs)
      if (this.live(key)) return false
      this.put(key, { value: Buffer.from(value), expiresAt: this.now() + ttlMs })
      return true
    })
  }

  delete(key: string): Promise<void> {
    return this.run(() => {
      checkKey(key)
      this.entries.delete(key)
    })
  }

  increment(key: string, ttlMs: number): Promise<number> {
    return this.run(() => {
      checkKey(key)
      checkTtl(ttlMs)
      const entry = this.live(key)
      const text = entry?.value.toString('latin1') ?? '0'
      // The same refusal as Redis's INCR: only a decimal integer is a counter.
      if (!/^-?\d{1,15}$/.test(text)) {
        throw new StoreUnavailableError('memory store increment failed: the key holds a value that is not a counter')
      }
      const count = Number(text) + 1
      this.put(key, { value: Buffer.from(String(count), 'latin1'), expiresAt: entry?.expiresAt ?? this.now() + ttlMs })
      return count
    })
  }

  close(): Promise<void> {
    this.closed = true
    this.entries.clear()
    return Promise.resolve()
  }

  /** Runs `operation` as an async call: a misuse or a closed store rejects, never throws synchronously. */
  private run<T>(operation: () => T): Promise<T> {
    try {
      if (this.closed) throw new StoreUnavailableError('memory store is closed')
      return Promise.resolve(operation())
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)))
    }
  }

  /** The unexpired entry at `key`, now the most recently used; an expired one is dropped. */
  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    this.entries.delete(key)
    if (this.now() > entry.expiresAt) return undefined
    this.entries.set(key, entry)
    return entry
  }

  private put(key: string, entry: Entry): void {
    this.entries.delete(key)
    this.entries.set(key, entry)
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break
      this.entries.delete(oldest)
    }
  }
}
