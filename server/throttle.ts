/**
 * Slows repeated bad logins: after `maxFailures` failures for one key (the
 * client address, and separately the email tried) within `windowMs`, further
 * attempts for that key are refused until the window has passed. In memory,
 * per instance: behind a load balancer each instance counts on its own.
 */

export interface LoginThrottleOptions {
  /** Failures allowed per key within the window. @default 5 */
  maxFailures?: number
  /** @default 900000 (15 minutes) */
  windowMs?: number
  /** Keys remembered at most; the oldest are forgotten first. @default 10000 */
  maxKeys?: number
  now?: () => number
}

interface Entry {
  failures: number
  since: number
}

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>()
  private readonly maxFailures: number
  private readonly windowMs: number
  private readonly maxKeys: number
  private readonly now: () => number

  constructor(options: LoginThrottleOptions = {}) {
    this.maxFailures = options.maxFailures ?? 5
    this.windowMs = options.windowMs ?? 15 * 60 * 1000
    this.maxKeys = options.maxKeys ?? 10_000
    this.now = options.now ?? Date.now
  }

  /** Milliseconds until `keys` may try again; 0 when none of them is throttled. */
  retryAfter(keys: string[]): number {
    let wait = 0
    for (const key of keys) {
      const entry = this.current(key)
      if (entry && entry.failures >= this.maxFailures) wait = Math.max(wait, entry.since + this.windowMs - this.now())
    }
    return wait
  }

  /** Counts one failed attempt for each of `keys`. */
  fail(keys: string[]): void {
    for (const key of keys) {
      const entry = this.current(key) ?? { failures: 0, since: this.now() }
      entry.failures++
      this.entries.delete(key)
      this.entries.set(key, entry)
    }
    while (this.entries.size > this.maxKeys) {
      const oldest = this.entries.keys().next().value
      if (oldest === undefined) break
      this.entries.delete(oldest)
    }
  }

  /** A successful login clears its keys. */
  succeed(keys: string[]): void {
    for (const key of keys) this.entries.delete(key)
  }

  private current(key: string): Entry | undefined {
    const entry = this.entries.get(key)
    if (entry && this.now() - entry.since >= this.windowMs) {
      this.entries.delete(key)
      return undefined
    }
    return entry
  }
}
