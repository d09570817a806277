import { describe, expect, it } from 'vitest'
import { LoginThrottle, resolveThrottleOptions } from './throttle.ts'

describe('LoginThrottle options', () => {
  it('default to 5 failures per 15 minutes per key, and 100 failures a minute for everyone', () => {
    expect(resolveThrottleOptions({})).toEqual({
      maxFailures: 5,
      windowMs: 900_000,
      failureBudget: 100,
      budgetWindowMs: 60_000,
    })
  })

  it.each([
    [{ maxFailures: 0 }, 'options.maxFailures must be a positive integer, got 0'],
    [{ failureBudget: 2.5 }, 'options.failureBudget must be a positive integer, got 2.5'],
    [{ windowMs: 1500 }, 'options.windowMs must be a whole number of seconds in ms, got 1500'],
    [{ budgetWindowMs: -60_000 }, 'options.budgetWindowMs must be a positive integer, got -60000'],
  ])('refuses %o', (options, message) => {
    expect(() => new LoginThrottle(options)).toThrow(message)
  })
})

describe('LoginThrottle', () => {
  it('refuses a key only once it has failed maxFailures times, and a budget only once it is spent', async () => {
    const throttle = new LoginThrottle({ maxFailures: 2, failureBudget: 3 })
    await expect(throttle.fail(['ip:a', 'email:x'])).resolves.toBe(0)
    await expect(throttle.check(['ip:a', 'email:y'])).resolves.toBeUndefined()
    await expect(throttle.fail(['ip:a', 'email:y'])).resolves.toBe(0)
    await expect(throttle.check(['ip:b', 'email:z'])).resolves.toBeUndefined()
    await expect(throttle.check(['ip:a', 'email:z'])).resolves.toMatchObject({ reason: 'locked' })

    const spentFor = await throttle.fail(['ip:c', 'email:z'])
    expect(spentFor).toBeGreaterThan(59_000)
    expect(spentFor).toBeLessThanOrEqual(60_000)
    await expect(throttle.check(['ip:d', 'email:w'])).resolves.toMatchObject({ reason: 'budget' })
    // Said once per window: the next failure (one in flight when it was spent) does not say it again.
    await expect(throttle.fail(['ip:c', 'email:z'])).resolves.toBe(0)
  })

  it('forgets a key at success, so a user who mistyped starts afresh', async () => {
    const throttle = new LoginThrottle({ maxFailures: 1 })
    await throttle.fail(['email:x'])
    await expect(throttle.check(['email:x'])).resolves.toMatchObject({ reason: 'locked' })
    await throttle.succeed(['email:x'])
    await expect(throttle.check(['email:x'])).resolves.toBeUndefined()
  })

  it('reserve() counts an attempt before its password is checked, refuses past a limit, and a success gives it back', async () => {
    const throttle = new LoginThrottle({ maxFailures: 2, failureBudget: 10 })
    await expect(throttle.reserve(['email:x'])).resolves.toEqual({ refusal: undefined, spentForMs: 0 })
    await expect(throttle.reserve(['email:x'])).resolves.toEqual({ refusal: undefined, spentForMs: 0 })
    // Both were counted before either was known to fail: the third, already in flight, is refused.
    const third = await throttle.reserve(['email:x'])
    expect(third.refusal).toMatchObject({ reason: 'locked' })
    expect(third.refusal!.retryAfterMs).toBeGreaterThan(0)

    // A success gives back its share of the budget: ten reserved logins that succeed spend none of it.
    for (let i = 0; i < 10; i++) {
      await expect(throttle.reserve([`email:ok-${i}`])).resolves.toMatchObject({ refusal: undefined })
      await throttle.succeedReserved([`email:ok-${i}`])
    }
    await expect(throttle.check(['email:y'])).resolves.toBeUndefined()
  })

  it('reserve() refuses once the budget is spent, and says so once, on the attempt that spent it', async () => {
    const throttle = new LoginThrottle({ failureBudget: 2 })
    await expect(throttle.reserve(['ip:a'])).resolves.toEqual({ refusal: undefined, spentForMs: 0 })
    const spending = await throttle.reserve(['ip:b'])
    expect(spending.refusal).toBeUndefined()
    expect(spending.spentForMs).toBeGreaterThan(59_000)
    await expect(throttle.reserve(['ip:c'])).resolves.toMatchObject({ refusal: { reason: 'budget' }, spentForMs: 0 })
  })
})
