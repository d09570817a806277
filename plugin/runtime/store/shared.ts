/**
 * How the runtime talks to the shared store (issue 11): every call answers,
 * whatever the store does. A store that fails (down, slow, closed) gives
 * `undefined`, and the caller carries on as if there were no store — from its
 * own memory, or from the vendor. Redis is never a single point of failure.
 *
 * One log line per outage, not per call: the first failure says the store is
 * unavailable, the first success after it says it is back. A value that does
 * not open (another key, altered, garbage) or has the wrong shape is ignored
 * with one line naming its purpose, never its content.
 */
import type { EmbedsLogger } from '../options.ts'
import { storeHealth, type StoreHealth } from './health.ts'
import type { Sealer } from './seal.ts'
import type { SharedStore } from './store.ts'

/** A read that the store answered: `value` is `undefined` when the key holds nothing (or nothing usable). */
export interface StoreRead {
  value: Buffer | undefined
  /** Whether the key held a value, usable or not. */
  held: boolean
}

/** The shared store and its sealer, behind calls that never reject. */
export class SharedState {
  private readonly health: StoreHealth

  constructor(
    private readonly store: SharedStore,
    private readonly sealer: Sealer,
    private readonly logger: EmbedsLogger,
  ) {
    // The app may use the same store too: one account of its health per process.
    this.health = storeHealth(store, logger)
  }

  /** The store key of an entry: an HMAC of `parts` (never an email or a token in clear). */
  key(purpose: string, ...parts: string[]): string {
    return this.sealer.storeKey(purpose, ...parts)
  }

  /** What `key` holds, or `undefined` when the store failed. */
  async read(key: string): Promise<StoreRead | undefined> {
    const done = await this.attempt(() => this.store.get(key))
    return done && { value: done.result, held: done.result !== undefined }
  }

  /**
   * What `key` holds, opened: `{ value: undefined }` when it holds nothing or
   * a value that does not open (logged as ignored); `undefined` when the store failed.
   */
  async readSealed(key: string, purpose: string): Promise<StoreRead | undefined> {
    const read = await this.read(key)
    if (!read?.value) return read
    const value = this.sealer.open(key, read.value)
    if (!value) this.ignored(purpose, 'it does not open with the configured secret keys')
    return { value, held: true }
  }

  /** Stores `value` at `key` for `ttlMs`; `false` when the store failed. */
  async write(key: string, value: Buffer, ttlMs: number): Promise<boolean> {
    return (await this.attempt(() => this.store.set(key, value, wholeMs(ttlMs)))) !== undefined
  }

  /** Seals `plaintext` for `key`, then stores it. */
  async writeSealed(key: string, plaintext: Buffer, ttlMs: number): Promise<boolean> {
    return this.write(key, this.sealer.seal(key, plaintext), ttlMs)
  }

  /**
   * Takes `key` for `ttlMs` if nobody holds it: `true` when this call took it
   * (of concurrent calls on every instance, one does), `false` when another
   * holds it, `undefined` when the store failed.
   */
  async claim(key: string, ttlMs: number): Promise<boolean | undefined> {
    return (await this.attempt(() => this.store.setIfAbsent(key, Buffer.from('1'), wholeMs(ttlMs))))?.result
  }

  /** Removes `key`; `false` when the store failed. */
  async remove(key: string): Promise<boolean> {
    return (await this.attempt(() => this.store.delete(key))) !== undefined
  }

  /** Logs a stored value that was ignored: its purpose and why, never its content. */
  ignored(purpose: string, reason: string): void {
    this.logger.warn({ purpose, reason }, 'ignored a value from the shared store')
  }

  /** Runs one store call; a failure is `undefined`, logged once per outage. */
  private async attempt<T>(call: () => Promise<T>): Promise<{ result: T } | undefined> {
    const mark = this.health.mark()
    let result: T
    try {
      result = await call()
    } catch (error) {
      this.health.failed(error)
      return undefined
    }
    this.health.answered(mark)
    return { result }
  }
}

/** A TTL as the store takes it: a positive whole number of milliseconds. */
function wholeMs(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs))
}

/**
 * Waits `ms` milliseconds, for polling the store; `false` at once when
 * `signal` is (or becomes) aborted. The timer never holds the process up.
 */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    const done = (waited: boolean) => {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      resolve(waited)
    }
    const onAbort = () => done(false)
    const timer = setTimeout(() => done(true), ms)
    timer.unref()
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** How often an instance waiting for another's fetch or mint looks at the store. */
const POLL_MS = 20

/** A value the fleet makes once (a token, a page) and keeps in the store for the others. */
export interface FleetOnce<T> {
  /** Held by the instance that makes the value, for `lockMs` at most. */
  lockKey: string
  lockMs: number
  /** When an instance waiting for another's value stops and makes its own. */
  waitUntil: number
  now: () => number
  signal: AbortSignal
  /** What the store holds: `value` when usable; `held` when the key held anything, usable or not. */
  lookup: () => Promise<{ value?: T; held: boolean }>
  /** Makes the value and stores it (the lock, if taken, is released afterwards). */
  make: () => Promise<T>
  /** Makes the value for this render only: another instance holds the lock and nothing came in time. */
  alone: () => Promise<T>
}

/**
 * The value from the store, else made by the one instance that takes the
 * lock while the others poll the store for it; with a store that fails,
 * made here. Of concurrent calls across the fleet, one makes the value.
 */
export async function fleetOnce<T>(shared: SharedState, o: FleetOnce<T>): Promise<T> {
  for (;;) {
    const stored = await o.lookup()
    if (stored.value !== undefined) return stored.value
    const claimed = await shared.claim(o.lockKey, o.lockMs)
    // No store to agree through: make it here.
    if (claimed === undefined) return o.make()
    if (claimed) {
      try {
        // Another instance may have stored the value and let go of the lock
        // between our read (nothing there) and our claim: look once more.
        const late = stored.held ? undefined : await o.lookup()
        return late?.value !== undefined ? late.value : await o.make()
      } finally {
        // Those waiting see the value, or (after a failure) are free to try.
        await shared.remove(o.lockKey)
      }
    }
    // Another instance is making it: it should appear shortly.
    if (o.now() >= o.waitUntil || !(await pause(POLL_MS, o.signal))) return o.alone()
  }
}
