/**
 * A circuit breaker per vendor (issue 4, "resilience"): after a run of
 * consecutive failures the vendor is not called at all for a cooldown, so a
 * dead vendor costs each page nothing instead of a full deadline; then one
 * probe call decides whether it is back.
 *
 * Pure: no timers, no I/O. Time comes from the injected `now`, and the state
 * only moves when a caller asks (`allow()`) or reports (`success()`/`failure()`).
 */
import { integer } from '../check.ts'

/** Where a breaker stands. */
export type BreakerState = 'closed' | 'open' | 'half-open'

export interface CircuitBreakerOptions {
  /**
   * Consecutive failures that open the circuit. Any success resets the count.
   * @default 5
   */
  failureThreshold?: number
  /**
   * How long an open circuit refuses every call before it lets one probe through, in milliseconds.
   * @default 30_000
   */
  cooldownMs?: number
  /**
   * The clock, in milliseconds (inject a fake one in tests).
   * @default Date.now
   */
  now?: () => number
  /**
   * Called after every state change, for logging and metrics. It must not throw.
   * @example onChange: (from, to) => metrics.breakerState('returning-proxy', to)
   */
  onChange?: (from: BreakerState, to: BreakerState) => void
}

export interface ResolvedBreakerOptions {
  failureThreshold: number
  cooldownMs: number
  now: () => number
  onChange: ((from: BreakerState, to: BreakerState) => void) | undefined
}

/** Fills defaults; `path` names the options in errors (`options.breaker`). */
export function resolveBreakerOptions(options: CircuitBreakerOptions, path = 'options'): ResolvedBreakerOptions {
  return {
    failureThreshold: integer(`${path}.failureThreshold`, options.failureThreshold, 5),
    cooldownMs: integer(`${path}.cooldownMs`, options.cooldownMs, 30_000),
    now: options.now ?? Date.now,
    onChange: options.onChange,
  }
}

/**
 * `closed` → (`failureThreshold` consecutive failures) → `open` → (cooldown
 * over, next `allow()`) → `half-open` with exactly one probe let through →
 * probe `success()` → `closed`, probe `failure()` → `open` for a fresh cooldown.
 *
 * Outcomes are reported to the breaker, not to a call: a success or failure
 * reported while `half-open` decides the probe. One reported while `open`
 * (a call that started before the circuit opened) changes nothing.
 *
 * @example
 * const breaker = new CircuitBreaker({ onChange: (from, to) => log.info({ from, to }, 'breaker') })
 * if (!breaker.allow()) return fallback()
 * try { const page = await callVendor(); breaker.success(); return page }
 * catch (error) { breaker.failure(); throw error }
 */
export class CircuitBreaker {
  private readonly options: ResolvedBreakerOptions
  private current: BreakerState = 'closed'
  private failures = 0
  private openedAt = 0
  private probeStartedAt: number | undefined

  constructor(options: CircuitBreakerOptions = {}) {
    this.options = resolveBreakerOptions(options)
  }

  /** The state as of the last call; an `open` circuit becomes `half-open` at the first `allow()` after its cooldown. */
  get state(): BreakerState {
    return this.current
  }

  /** Whether the caller may call the vendor now. `true` while `half-open` means: you are the probe, report back. */
  allow(): boolean {
    const now = this.options.now()
    if (this.current === 'closed') return true
    if (this.current === 'open') {
      if (now - this.openedAt < this.options.cooldownMs) return false
      this.move('half-open')
      this.probeStartedAt = now
      return true
    }
    // A probe that never reported (its caller crashed or forgot) must not
    // keep the vendor switched off forever: after a cooldown, send another.
    if (this.probeStartedAt !== undefined && now - this.probeStartedAt < this.options.cooldownMs) return false
    this.probeStartedAt = now
    return true
  }

  /** Reports a call that worked: resets the failure count, and closes a half-open circuit. */
  success(): void {
    if (this.current === 'open') return
    this.failures = 0
    if (this.current === 'half-open') {
      this.probeStartedAt = undefined
      this.move('closed')
    }
  }

  /** Reports a call that failed: counts it, and opens the circuit at the threshold or when the probe failed. */
  failure(): void {
    if (this.current === 'open') return
    if (this.current === 'closed' && ++this.failures < this.options.failureThreshold) return
    this.failures = 0
    this.probeStartedAt = undefined
    this.openedAt = this.options.now()
    this.move('open')
  }

  private move(to: BreakerState): void {
    const from = this.current
    this.current = to
    this.options.onChange?.(from, to)
  }
}
