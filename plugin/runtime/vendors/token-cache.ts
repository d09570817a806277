/**
 * Optional reuse of Returning.AI sign-in tokens (issue 4). A Returning.AI JWT
 * is user-scoped and lives about five minutes, so a user who loads several
 * pages in a row can be given the same token instead of a new sign-in each
 * time. This module is only the mechanism; whether it is used is an option
 * that is off by default. Caramelo tokens are single-use and never go here.
 *
 * Pure apart from the injected clock: it stores tokens in memory, never logs,
 * and never looks at anything in a token but its expiry.
 */
import { integer } from '../check.ts'

export interface TokenCacheOptions {
  /**
   * Most identities kept; the least recently used one is dropped first.
   * @default 1000
   */
  maxEntries?: number
  /**
   * A token is reused only while `now < exp * 1000 - refreshBeforeExpiryMs`,
   * so the widget gets a token with at least this much life left.
   * @default 30_000
   */
  refreshBeforeExpiryMs?: number
  /**
   * The clock, in milliseconds (inject a fake one in tests).
   * @default Date.now
   */
  now?: () => number
}

interface ResolvedTokenCacheOptions {
  maxEntries: number
  refreshBeforeExpiryMs: number
  now: () => number
}

interface Entry {
  token: string
  /** Until when (ms) the token may be handed out again. */
  reusableUntil: number
}

/** Fills defaults; `path` names the options in errors (`options.vendors[0].reuseTokens`). */
export function resolveTokenCacheOptions(options: TokenCacheOptions, path = 'options'): ResolvedTokenCacheOptions {
  return {
    maxEntries: integer(`${path}.maxEntries`, options.maxEntries, 1000),
    refreshBeforeExpiryMs: integer(`${path}.refreshBeforeExpiryMs`, options.refreshBeforeExpiryMs, 30_000, 0),
    now: options.now ?? Date.now,
  }
}

// Three base64url parts: header, payload and signature.
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/
const MAX_JWT_LENGTH = 8192

/** Whether `token` is a string shaped like a JWT, of at most 8192 characters (a vendor's token is checked with it). */
export function isJwtShaped(token: unknown): token is string {
  return typeof token === 'string' && token.length <= MAX_JWT_LENGTH && JWT_SHAPE.test(token)
}

/**
 * Until when (ms) `token` may be handed out again: `refreshBeforeExpiryMs`
 * before its `exp`; `undefined` when it has no readable `exp`.
 */
export function reusableUntil(token: string, refreshBeforeExpiryMs: number): number | undefined {
  const exp = jwtExpiry(token)
  return exp === undefined ? undefined : exp * 1000 - refreshBeforeExpiryMs
}

/**
 * The `exp` claim of a JWT, in seconds, or `undefined` when the token has no
 * readable numeric `exp`. The signature is not checked: the token is the
 * vendor's, handed to the vendor's widget, and only its lifetime matters here.
 */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.')
  if (parts.length !== 3 || !parts[1]) return undefined
  let payload: unknown
  try {
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
  const exp = (payload as { exp?: unknown } | null)?.exp
  return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined
}

/**
 * Tokens by verified identity, with single-flight minting.
 *
 * Keys are opaque strings. Pass a hash of the verified user's id and email
 * (for example a SHA-256 or an HMAC of `id + '\n' + email`), never the raw
 * email: keys sit in memory and may show up in heap dumps or debugging output.
 *
 * @example
 * const tokens = new TokenCache()
 * const jwt = await tokens.get(identityHash, () => signIn(user))
 */
export class TokenCache {
  private readonly options: ResolvedTokenCacheOptions
  // A Map iterates in insertion order: re-inserting on use keeps the least
  // recently used entry first, which is the one eviction drops.
  private readonly entries = new Map<string, Entry>()
  private readonly minting = new Map<string, Promise<string>>()

  constructor(options: TokenCacheOptions = {}) {
    this.options = resolveTokenCacheOptions(options)
  }

  /** How many identities have a token stored (tokens being minted are not counted). */
  get size(): number {
    return this.entries.size
  }

  /**
   * A stored token for `key` that is still usable, or the result of `mint()`.
   * Concurrent calls for one key share one `mint()`; when it fails, all of
   * them reject with its error and nothing is stored. A minted token without
   * a numeric `exp`, or with too little life left, is returned but not stored.
   */
  get(key: string, mint: () => Promise<string>): Promise<string> {
    const entry = this.entries.get(key)
    if (entry) {
      this.entries.delete(key)
      if (this.options.now() < entry.reusableUntil) {
        this.entries.set(key, entry)
        return Promise.resolve(entry.token)
      }
    }
    const running = this.minting.get(key)
    if (running) return running
    const minted = this.mint(key, mint)
    this.minting.set(key, minted)
    return minted
  }

  /** Forgets the token for `key` (for example at logout, or when the vendor refused it). */
  delete(key: string): boolean {
    return this.entries.delete(key)
  }

  private async mint(key: string, mint: () => Promise<string>): Promise<string> {
    try {
      // Called on a later microtask: even a `mint` that throws synchronously
      // settles after `get()` registered this flight, so cleanup never races it.
      const token = await Promise.resolve().then(mint)
      this.store(key, token)
      return token
    } finally {
      this.minting.delete(key)
    }
  }

  private store(key: string, token: string): void {
    const until = reusableUntil(token, this.options.refreshBeforeExpiryMs)
    if (until === undefined || this.options.now() >= until) return
    this.entries.set(key, { token, reusableUntil: until })
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.options.maxEntries) break
      this.entries.delete(oldest)
    }
  }
}
