/**
 * Slows bad logins (issue 9, hole 5). Two rules, both counting failures only:
 *
 * - Per key — the client's address, and separately the email tried: after
 *   `maxFailures` failures within `windowMs` of the key's first failure, every
 *   attempt for that key is refused until that window ends. A key is forgotten
 *   when its window ends and never earlier: nothing an attacker sends can
 *   crowd a locked account out of memory and so unlock it.
 * - For everyone together: `failureBudget` failures per `budgetWindowMs`.
 *   Once spent, every login is refused until the budget's window ends (the
 *   README's security model says why everyone). This bounds what an attacker
 *   with many addresses can try, and it bounds memory: a failure creates at
 *   most two keys and a key lives `windowMs` at most, so at most
 *   `2 × failureBudget × (windowMs / budgetWindowMs + 1)` keys exist at once.
 *
 * The counters are rate-limiter-flexible's in-memory limiters, per instance.
 * `RateLimiterRedis` takes the same options and shares them between instances.
 */
import { RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible'

export interface LoginThrottleOptions {
  /** Failures allowed per address and per email within `windowMs`; past them, attempts are refused. @default 5 */
  maxFailures?: number
  /**
   * How long a key's failures count, from its first failure; a locked key is
   * refused until it ends. A whole number of seconds. @default 900000 (15 minutes)
   */
  windowMs?: number
  /** Failures allowed from everyone together within `budgetWindowMs`; past them, every login is refused. @default 100 */
  failureBudget?: number
  /** The failure budget's window. A whole number of seconds. @default 60000 (1 minute) */
  budgetWindowMs?: number
}

export type ResolvedLoginThrottleOptions = Required<LoginThrottleOptions>

/** Why an attempt is refused, and for how long. */
export interface Refusal {
  /** `locked`: one of the attempt's keys failed too often; `budget`: everyone's failure budget is spent. */
  reason: 'locked' | 'budget'
  retryAfterMs: number
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback
  if (!Number.isInteger(v) || v <= 0) throw new TypeError(`options.${name} must be a positive integer, got ${value}`)
  return v
}

function wholeSeconds(name: string, value: number | undefined, fallback: number): number {
  const v = positiveInteger(name, value, fallback)
  // The limiters count in seconds (and so does Redis, where they will move).
  if (v % 1000 !== 0) throw new TypeError(`options.${name} must be a whole number of seconds in ms, got ${value}`)
  return v
}

/** Fills the defaults; throws a `TypeError` naming the bad option. */
export function resolveThrottleOptions(options: LoginThrottleOptions): ResolvedLoginThrottleOptions {
  return {
    maxFailures: positiveInteger('maxFailures', options.maxFailures, 5),
    windowMs: wholeSeconds('windowMs', options.windowMs, 15 * 60 * 1000),
    failureBudget: positiveInteger('failureBudget', options.failureBudget, 100),
    budgetWindowMs: wholeSeconds('budgetWindowMs', options.budgetWindowMs, 60 * 1000),
  }
}

/** The budget's one key: everyone's failures count against it. */
const EVERYONE = 'everyone'

export class LoginThrottle {
  readonly options: ResolvedLoginThrottleOptions
  private readonly failures: RateLimiterAbstract
  private readonly budget: RateLimiterAbstract

  constructor(options: LoginThrottleOptions = {}) {
    this.options = resolveThrottleOptions(options)
    this.failures = new RateLimiterMemory({
      keyPrefix: 'login-failures',
      points: this.options.maxFailures,
      duration: this.options.windowMs / 1000,
    })
    this.budget = new RateLimiterMemory({
      keyPrefix: 'login-budget',
      points: this.options.failureBudget,
      duration: this.options.budgetWindowMs / 1000,
    })
  }

  /**
   * Whether an attempt for `keys` must be refused, and for how long. Reads
   * only: a refused attempt creates no key.
   */
  async check(keys: readonly string[]): Promise<Refusal | undefined> {
    const budget = await spentFor(this.budget, EVERYONE, this.options.failureBudget)
    if (budget > 0) return { reason: 'budget', retryAfterMs: budget }
    let wait = 0
    for (const key of keys) wait = Math.max(wait, await spentFor(this.failures, key, this.options.maxFailures))
    return wait > 0 ? { reason: 'locked', retryAfterMs: wait } : undefined
  }

  /**
   * Counts one failed attempt against each of `keys` and against the budget.
   * Answers how long logins are now refused for when this very failure spent
   * the budget — once per budget window — and 0 otherwise.
   *
   * The route calls `check()`, verifies the password and calls this with no
   * other request running in between: the in-memory limiters' promises are
   * already settled, so no I/O can interleave. With a store behind real I/O
   * (Redis), attempts in flight together could each pass `check()` before
   * any of them is counted: moving there must close that gap.
   */
  async fail(keys: readonly string[]): Promise<number> {
    const budget = await this.budget.penalty(EVERYONE)
    await Promise.all(keys.map((key) => this.failures.penalty(key)))
    return budget.consumedPoints === this.options.failureBudget ? budget.msBeforeNext : 0
  }

  /** A successful login clears its keys' failures. */
  async succeed(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((key) => this.failures.delete(key)))
  }
}

/** Milliseconds until `key` has fewer than `limit` failures again; 0 when it has fewer now. */
async function spentFor(limiter: RateLimiterAbstract, key: string, limit: number): Promise<number> {
  const res = await limiter.get(key)
  // An in-memory record lingers until its timer removes it; past its end it no longer counts.
  if (!res || res.msBeforeNext <= 0 || res.consumedPoints < limit) return 0
  return res.msBeforeNext
}
