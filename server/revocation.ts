/**
 * Session revocation (issue 11): logout ends that session everywhere, not
 * only in the browser that logged out. Each session gets a random id at
 * login; logout records it as revoked until the session cookie would have
 * expired anyway, and a request whose session id is revoked is anonymous.
 *
 * Revocations are kept in this instance's memory always, and in the shared
 * store (Redis) too when there is one, so a cookie copied before logout is
 * refused by every instance. Redis failing never fails a request: the check
 * falls back to this instance's own copy (which knows every logout made
 * here), and the outage is logged once (`StoreHealth`).
 *
 * Nothing in the store names a session: the key is an HMAC of the session id
 * (`Sealer.storeKey`), the value is sealed, so a value that does not open is
 * ignored (and logged without its content).
 */
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import { MemoryStore } from '../plugin/runtime/index.ts'
import { Sealer } from '../plugin/runtime/store/seal.ts'
import type { DemoShared } from './shared.ts'

/** A new session id: 128 random bits, base64url. */
export function newSessionId(): string {
  return randomBytes(16).toString('base64url')
}

const SESSION_ID = /^[A-Za-z0-9_-]{22}$/
const REVOKED = Buffer.from('1')
const PURPOSE = 'revoked'
/**
 * Revocations one instance remembers in memory: each is a few hundred bytes,
 * kept for a session's lifetime; this many logouts within one lifetime on one
 * instance before the oldest is forgotten there (Redis keeps its own).
 */
const LOCAL_ENTRIES = 200_000

export interface SessionRevocationsOptions {
  /** How long a revocation is kept: the session cookie's lifetime, after which the cookie is refused anyway. */
  ttlMs: number
  /** The shared store and its secrets; unset, revocations stay in this instance. */
  shared?: DemoShared
  /** The secrets that name keys when there is no shared store. */
  secretKeys: readonly string[]
  logger: Logger
}

export class SessionRevocations {
  private readonly local = new MemoryStore({ maxEntries: LOCAL_ENTRIES })
  /**
   * One sealer per secret of the ring, newest first. A revocation is written
   * under the newest secret's name and looked up under every one's: after
   * `SESSION_KEYS` is rotated (a new key first), revocations written before
   * are still found until the old key leaves the ring — with one key, one `get`.
   */
  private readonly sealers: Sealer[]

  constructor(private readonly options: SessionRevocationsOptions) {
    const secrets = options.shared?.secretKeys ?? options.secretKeys
    this.sealers = secrets.map((secret) => new Sealer([secret], 'session revocation secretKeys'))
  }

  /** Whether `sid` is a session id as `newSessionId` makes them (a session without one is not ours). */
  static isSessionId(sid: unknown): sid is string {
    return typeof sid === 'string' && SESSION_ID.test(sid)
  }

  /** Records `sid` as revoked, here and (when it answers) in the shared store. Never rejects. */
  async revoke(sid: string): Promise<void> {
    const key = this.sealers[0]!.storeKey(PURPOSE, sid)
    const value = this.sealers[0]!.seal(key, REVOKED)
    await this.local.set(key, value, this.options.ttlMs)
    const shared = this.options.shared
    if (!shared) return
    const mark = shared.health.mark()
    try {
      await shared.store.set(key, value, this.options.ttlMs)
      shared.health.answered(mark)
    } catch (error) {
      // This instance still refuses the session; the others do once they can read it (never, for this one).
      shared.health.failed(error)
    }
  }

  /** Whether `sid` was revoked: here first, then in the shared store; a store that fails counts as "not there". */
  async isRevoked(sid: string): Promise<boolean> {
    const keys = this.sealers.map((sealer) => sealer.storeKey(PURPOSE, sid))
    const local = await Promise.all(keys.map((key) => this.local.get(key)))
    if (local.some((value) => value !== undefined)) return true
    const shared = this.options.shared
    if (!shared) return false
    const mark = shared.health.mark()
    let values: (Buffer | undefined)[]
    try {
      values = await Promise.all(keys.map((key) => shared.store.get(key)))
    } catch (error) {
      shared.health.failed(error)
      return false
    }
    shared.health.answered(mark)
    return values.some((value, i) => value !== undefined && this.opens(i, keys[i]!, value))
  }

  private opens(index: number, key: string, value: Buffer): boolean {
    if (this.sealers[index]!.open(key, value)?.equals(REVOKED)) return true
    // A value written by someone without our secret, or corrupted: ignored, and never repeated in the log.
    this.options.logger.warn({ bytes: value.length }, 'ignored a session revocation in Redis that does not open')
    return false
  }
}
