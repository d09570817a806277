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
 * With a shared store (`REDIS_URL`, issue 11) they are `RateLimiterRedis` on
 * the store's connection, so every instance counts the same failures and
 * spends the same budget, each with its in-memory twin as the
 * `insuranceLimiter`: when Redis fails (or misses its deadline) the library
 * answers from the twin, and this instance throttles on its own, as it did
 * before Redis. Keys in Redis are HMACs (`Sealer.storeKey`), never the
 * address or email they count.
 */
import {
  RateLimiterMemory,
  RateLimiterRedis,
  type IRateLimiterOptions,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible'
import { integer } from '../plugin/runtime/check.ts'
import { Sealer } from '../plugin/runtime/store/seal.ts'
import type { DemoShared } from './shared.ts'

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

function wholeSeconds(name: string, value: number | undefined, fallback: number): number {
  const v = integer(`options.${name}`, value, fallback)
  // The limiters count in seconds (and so does Redis, where they will move).
  if (v % 1000 !== 0) throw new TypeError(`options.${name} must be a whole number of seconds in ms, got ${value}`)
  return v
}

/** Fills the defaults; throws a `TypeError` naming the bad option. */
export function resolveThrottleOptions(options: LoginThrottleOptions): ResolvedLoginThrottleOptions {
  return {
    maxFailures: integer('options.maxFailures', options.maxFailures, 5),
    windowMs: wholeSeconds('windowMs', options.windowMs, 15 * 60 * 1000),
    failureBudget: integer('options.failureBudget', options.failureBudget, 100),
    budgetWindowMs: wholeSeconds('budgetWindowMs', options.budgetWindowMs, 60 * 1000),
  }
}

/** The budget's one key: everyone's failures count against it. */
const EVERYONE = 'everyone'

export class LoginThrottle {
  readonly options: ResolvedLoginThrottleOptions
  private readonly failures: RateLimiterAbstract
  private readonly budget: RateLimiterAbstract

  private readonly keyName: (key: string) => string
  private readonly shared: Shared | undefined

  /**
   * @param shared Count in the shared store (Redis) so that every instance
   *   counts together; unset, this instance counts on its own.
   */
  constructor(options: LoginThrottleOptions = {}, shared?: DemoShared) {
    this.options = resolveThrottleOptions(options)
    const failures = { points: this.options.maxFailures, duration: this.options.windowMs / 1000 }
    const budget = { points: this.options.failureBudget, duration: this.options.budgetWindowMs / 1000 }
    if (!shared) {
      this.keyName = (key) => key
      this.shared = undefined
      this.failures = new RateLimiterMemory({ keyPrefix: 'login-failures', ...failures })
      this.budget = new RateLimiterMemory({ keyPrefix: 'login-budget', ...budget })
      return
    }
    const sealer = new Sealer(shared.secretKeys, 'shared.secretKeys')
    this.keyName = (key) => sealer.storeKey('login', key)
    this.shared = { health: shared.health, fallbacks: 0 }
    const onFallback = () => void this.shared!.fallbacks++
    const redis = (keyPrefix: string, limits: IRateLimiterOptions) =>
      new RateLimiterRedis({
        storeClient: shared.store.client,
        // RateLimiterRedis writes through the raw client: the store's prefix is added here.
        keyPrefix: `${shared.store.keyPrefix}${keyPrefix}`,
        ...limits,
        insuranceLimiter: new Insurance({ keyPrefix, ...limits }, onFallback),
      })
    this.failures = redis('login-failures', failures)
    this.budget = redis('login-budget', budget)
  }

  /**
   * Whether an attempt for `keys` must be refused, and for how long. Reads
   * only: a refused attempt creates no key.
   */
  check(keys: readonly string[]): Promise<Refusal | undefined> {
    return this.reporting(async () => {
      const budget = await spentFor(this.budget, this.keyName(EVERYONE), this.options.failureBudget)
      if (budget > 0) return { reason: 'budget', retryAfterMs: budget }
      let wait = 0
      for (const key of keys) {
        wait = Math.max(wait, await spentFor(this.failures, this.keyName(key), this.options.maxFailures))
      }
      return wait > 0 ? { reason: 'locked', retryAfterMs: wait } : undefined
    })
  }

  /**
   * Counts one failed attempt against each of `keys` and against the budget.
   * Answers how long logins are now refused for when this very failure spent
   * the budget — once per budget window — and 0 otherwise.
   */
  fail(keys: readonly string[]): Promise<number> {
    return this.reporting(async () => (await this.count(keys)).spentForMs)
  }

  /**
   * Counts an attempt that passed `check()` as a failure before its password
   * is verified, and answers a refusal when this count is past a limit. With
   * Redis, attempts in flight together (on any instances) could each pass
   * `check()` before any of them is counted; counted first, with Redis's
   * atomic increments, at most `maxFailures` of them get their password
   * verified. A login that then succeeds gives its count back (`succeedReserved`).
   * `spentForMs` is `fail()`'s answer, for the route to log when the password was wrong.
   */
  reserve(keys: readonly string[]): Promise<{ refusal: Refusal | undefined; spentForMs: number }> {
    return this.reporting(async () => {
      const { budget, failures, spentForMs } = await this.count(keys)
      if (budget.consumedPoints > this.options.failureBudget) {
        return { refusal: { reason: 'budget', retryAfterMs: budget.msBeforeNext }, spentForMs: 0 }
      }
      const over = failures.filter((res) => res.consumedPoints > this.options.maxFailures)
      if (over.length === 0) return { refusal: undefined, spentForMs }
      const retryAfterMs = Math.max(...over.map((res) => res.msBeforeNext))
      return { refusal: { reason: 'locked', retryAfterMs }, spentForMs: 0 }
    })
  }

  /** A successful login clears its keys' failures. */
  succeed(keys: readonly string[]): Promise<void> {
    return this.reporting(async () => {
      await Promise.all(keys.map((key) => this.failures.delete(this.keyName(key))))
    })
  }

  /** A login counted by `reserve()` succeeded: clears its keys' failures and gives back its share of the budget. */
  succeedReserved(keys: readonly string[]): Promise<void> {
    return this.reporting(async () => {
      await Promise.all([
        ...keys.map((key) => this.failures.delete(this.keyName(key))),
        this.budget.reward(this.keyName(EVERYONE)),
      ])
    })
  }

  private async count(keys: readonly string[]) {
    const budget = await this.budget.penalty(this.keyName(EVERYONE))
    const failures = await Promise.all(keys.map((key) => this.failures.penalty(this.keyName(key))))
    const spentForMs = budget.consumedPoints === this.options.failureBudget ? budget.msBeforeNext : 0
    return { budget, failures, spentForMs }
  }

  /**
   * Runs `operation` and tells the store's health how Redis did: a fallback
   * to the in-memory twin is an outage (logged once), an operation that
   * needed none is Redis answering. Operations running together may hide
   * each other's success: that only delays the "answers again" line.
   */
  private async reporting<T>(operation: () => Promise<T>): Promise<T> {
    const shared = this.shared
    if (!shared) return operation()
    const mark = shared.health.mark()
    const before = shared.fallbacks
    const result = await operation()
    if (shared.fallbacks === before) shared.health.answered(mark)
    else shared.health.failed(new Error('the login throttle answered from memory: Redis failed or missed its deadline'))
    return result
  }
}

interface Shared {
  health: DemoShared['health']
  /** How many times the in-memory twins answered for Redis. */
  fallbacks: number
}

/**
 * The in-memory twin of a Redis limiter, used by rate-limiter-flexible when a
 * Redis command fails. It counts its own uses, so that the outage is logged.
 */
class Insurance extends RateLimiterMemory {
  constructor(
    options: IRateLimiterOptions,
    private readonly onUse: () => void,
  ) {
    super(options)
  }

  override get(...args: Parameters<RateLimiterMemory['get']>): ReturnType<RateLimiterMemory['get']> {
    this.onUse()
    return super.get(...args)
  }

  override penalty(...args: Parameters<RateLimiterMemory['penalty']>): ReturnType<RateLimiterMemory['penalty']> {
    this.onUse()
    return super.penalty(...args)
  }

  override delete(...args: Parameters<RateLimiterMemory['delete']>): ReturnType<RateLimiterMemory['delete']> {
    this.onUse()
    return super.delete(...args)
  }

  override reward(...args: Parameters<RateLimiterMemory['reward']>): ReturnType<RateLimiterMemory['reward']> {
    this.onUse()
    return super.reward(...args)
  }
}

/** Milliseconds until `key` has fewer than `limit` failures again; 0 when it has fewer now. */
async function spentFor(limiter: RateLimiterAbstract, key: string, limit: number): Promise<number> {
  const res = await limiter.get(key)
  // An in-memory record lingers until its timer removes it; past its end it no longer counts.
  if (!res || res.msBeforeNext <= 0 || res.consumedPoints < limit) return 0
  return res.msBeforeNext
}
