/**
 * The shared-store seam (issue 11): the few operations that the caches, the
 * breakers, the login throttle and session revocation need to share state
 * between instances. Two implementations: `MemoryStore` (one process, the
 * default) and `RedisStore` (a fleet).
 *
 * The store is never a single point of failure: every implementation answers
 * within a short deadline, and any failure (down, slow, closed, a reply it
 * cannot use) is one error type, `StoreUnavailableError`, so a caller has one
 * `catch` that falls back to working without the store.
 *
 * Keys are built by us (a purpose and an HMAC, see `Sealer.storeKey`), never
 * from raw user input; a key that is not one is a bug, refused with a
 * `TypeError` like any other misuse of an option.
 */
import { EmbedsError } from '../../errors.ts'

/** Shared key-value state with expiry. Every method rejects with `StoreUnavailableError` on any failure. */
export interface SharedStore {
  /** The value stored at `key`, or `undefined` when there is none or it has expired. */
  get(key: string): Promise<Buffer | undefined>
  /** Stores `value` at `key` for `ttlMs` milliseconds, replacing any value and expiry there. */
  set(key: string, value: Buffer, ttlMs: number): Promise<void>
  /**
   * Stores `value` at `key` for `ttlMs` only when `key` holds nothing (or only
   * an expired value). `true` when this call stored it: of concurrent calls on
   * one key, across every instance sharing the store, exactly one gets `true`
   * (a lock, a half-open probe claim).
   */
  setIfAbsent(key: string, value: Buffer, ttlMs: number): Promise<boolean>
  /** Removes `key`; nothing happens when it holds nothing. */
  delete(key: string): Promise<void>
  /**
   * Adds one to the counter at `key`, atomically, and returns the new value.
   * An absent counter is created at 0 with an expiry of `ttlMs` before the
   * increment; an existing one keeps its expiry (a fixed window). A key that
   * holds something other than a counter rejects.
   */
  increment(key: string, ttlMs: number): Promise<number>
  /** Releases the store's resources (a connection); every later call rejects. Idempotent. */
  close(): Promise<void>
}

/**
 * The store could not answer: unreachable, past its deadline, closed, or an
 * answer it could not use. `cause` is the underlying error; the message names
 * the operation and the cause, never a stored value.
 */
export class StoreUnavailableError extends EmbedsError {
  declare readonly code: 'ERR_STORE_UNAVAILABLE'
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STORE_UNAVAILABLE', message, options)
  }
}

/** Longest key accepted, prefix excluded. */
export const MAX_KEY_LENGTH = 512

// Printable ASCII without the space: what a purpose, a `:` and base64url are made of.
const KEY_PATTERN = /^[\x21-\x7e]+$/

/**
 * Refuses a key that is empty, longer than `MAX_KEY_LENGTH` or not printable
 * ASCII. The message never repeats the key: a bug that passed an email or a
 * token as a key must not put it in the logs.
 */
export function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH || !KEY_PATTERN.test(key)) {
    const what = typeof key === 'string' ? `${key.length} characters` : typeof key
    throw new TypeError(
      `store key must be 1 to ${MAX_KEY_LENGTH} printable ASCII characters without spaces, got ${what} ` +
        '(build keys with Sealer.storeKey)',
    )
  }
}

/** Refuses a TTL that is not a positive safe integer of milliseconds. */
export function checkTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) {
    throw new TypeError(`store ttlMs must be a positive integer of milliseconds, got ${String(ttlMs)}`)
  }
}

/** Refuses a value that is not a Buffer (a string would be stored differently by each implementation). */
export function checkValue(value: Buffer): void {
  if (!Buffer.isBuffer(value)) throw new TypeError(`store value must be a Buffer, got ${typeof value}`)
}
