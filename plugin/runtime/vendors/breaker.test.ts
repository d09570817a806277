import { describe, expect, it } from 'vitest'
import { CircuitBreaker, type BreakerState, type CircuitBreakerOptions } from './breaker.ts'

/** A breaker on a clock the test moves by hand, recording every transition. */
function setup(options: CircuitBreakerOptions = {}) {
  const clock = { t: 1_000_000 }
  const changes: [BreakerState, BreakerState][] = []
  const breaker = new CircuitBreaker({
    failureThreshold: 3,
    cooldownMs: 10_000,
    now: () => clock.t,
    onChange: (from, to) => void changes.push([from, to]),
    ...options,
  })
  return { breaker, clock, changes }
}

function fail(breaker: CircuitBreaker, times: number): void {
  for (let i = 0; i < times; i++) breaker.failure()
}

describe('CircuitBreaker', () => {
  it('starts closed and lets every call through', () => {
    const { breaker, changes } = setup()
    expect(breaker.state).toBe('closed')
    expect([breaker.allow(), breaker.allow(), breaker.allow()]).toEqual([true, true, true])
    expect(changes).toEqual([])
  })

  it('opens after failureThreshold consecutive failures, not before', () => {
    const { breaker, changes } = setup()
    fail(breaker, 2)
    expect(breaker.state).toBe('closed')
    expect(breaker.allow()).toBe(true)
    breaker.failure()
    expect(breaker.state).toBe('open')
    expect(changes).toEqual([['closed', 'open']])
  })

  it('counts consecutive failures only: a success in between resets the count', () => {
    const { breaker } = setup()
    fail(breaker, 2)
    breaker.success()
    fail(breaker, 2)
    expect(breaker.state).toBe('closed')
    breaker.failure()
    expect(breaker.state).toBe('open')
  })

  it('refuses every call while open, until the cooldown has passed', () => {
    const { breaker, clock } = setup()
    fail(breaker, 3)
    expect(breaker.allow()).toBe(false)
    clock.t += 9_999
    expect(breaker.allow()).toBe(false)
    expect(breaker.state).toBe('open')
  })

  it('lets exactly one probe through once the cooldown is over, and refuses the others while it runs', () => {
    const { breaker, clock, changes } = setup()
    fail(breaker, 3)
    clock.t += 10_000
    expect(breaker.state).toBe('open')
    expect(breaker.allow()).toBe(true)
    expect(breaker.state).toBe('half-open')
    expect([breaker.allow(), breaker.allow(), breaker.allow()]).toEqual([false, false, false])
    expect(changes).toEqual([
      ['closed', 'open'],
      ['open', 'half-open'],
    ])
  })

  it('closes when the probe succeeds, with the failure count reset', () => {
    const { breaker, clock, changes } = setup()
    fail(breaker, 3)
    clock.t += 10_000
    breaker.allow()
    breaker.success()
    expect(breaker.state).toBe('closed')
    expect(breaker.allow()).toBe(true)
    expect(changes.at(-1)).toEqual(['half-open', 'closed'])
    // A full threshold is needed again: the failures before opening do not count.
    fail(breaker, 2)
    expect(breaker.state).toBe('closed')
    breaker.failure()
    expect(breaker.state).toBe('open')
  })

  it('opens again for a fresh cooldown when the probe fails', () => {
    const { breaker, clock, changes } = setup()
    fail(breaker, 3)
    clock.t += 10_000
    breaker.allow()
    clock.t += 500
    breaker.failure()
    expect(breaker.state).toBe('open')
    expect(changes.at(-1)).toEqual(['half-open', 'open'])
    // The cooldown counts from the probe's failure, not from the first opening.
    clock.t += 9_999
    expect(breaker.allow()).toBe(false)
    clock.t += 1
    expect(breaker.allow()).toBe(true)
    expect(breaker.state).toBe('half-open')
  })

  it('ignores outcomes reported while open (calls that started before the circuit opened)', () => {
    const { breaker, clock, changes } = setup()
    fail(breaker, 3)
    clock.t += 5_000
    breaker.success()
    breaker.failure()
    expect(breaker.state).toBe('open')
    // The late failure did not restart the cooldown either.
    clock.t += 5_000
    expect(breaker.allow()).toBe(true)
    expect(changes).toEqual([
      ['closed', 'open'],
      ['open', 'half-open'],
    ])
  })

  it('sends a new probe when the previous one never reported within a cooldown', () => {
    const { breaker, clock } = setup()
    fail(breaker, 3)
    clock.t += 10_000
    expect(breaker.allow()).toBe(true)
    clock.t += 9_999
    expect(breaker.allow()).toBe(false)
    clock.t += 1
    expect(breaker.allow()).toBe(true)
    expect(breaker.allow()).toBe(false)
    expect(breaker.state).toBe('half-open')
  })

  it('defaults to 5 failures and a 30 s cooldown', () => {
    const clock = { t: 0 }
    const breaker = new CircuitBreaker({ now: () => clock.t })
    fail(breaker, 4)
    expect(breaker.state).toBe('closed')
    breaker.failure()
    expect(breaker.state).toBe('open')
    clock.t = 29_999
    expect(breaker.allow()).toBe(false)
    clock.t = 30_000
    expect(breaker.allow()).toBe(true)
  })

  it.each([
    [{ failureThreshold: 0 }, 'options.failureThreshold must be a positive integer, got 0'],
    [{ failureThreshold: 1.5 }, 'options.failureThreshold must be a positive integer, got 1.5'],
    [{ cooldownMs: -1 }, 'options.cooldownMs must be a positive integer, got -1'],
    [{ cooldownMs: Number.NaN }, 'options.cooldownMs must be a positive integer, got NaN'],
  ])('refuses bad options %o', (options, message) => {
    expect(() => new CircuitBreaker(options)).toThrow(new TypeError(message))
  })
})
