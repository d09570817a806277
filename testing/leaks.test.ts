/**
 * The error the checks throw: every leak, grouped by check in the order of the SPEC's invariants, the
 * same leak in several responses said once with its count; and who a token was minted for.
 */
import { describe, expect, it } from 'vitest'
import { describeHolder, isHolder, LeakError, throwLeaks } from './leaks.ts'

describe('LeakError', () => {
  it('groups leaks by check and counts repeats', () => {
    const error = new LeakError([
      { check: 'tokens', message: 'token #1 in GET /track → URL' },
      { check: 'secrets', message: 'WIDGET_API_KEY in GET /config.js → response body' },
      { check: 'secrets', message: 'WIDGET_API_KEY in GET /config.js → response body' },
    ])
    expect(error.code).toBe('ERR_LEAK')
    expect(error.leaks).toHaveLength(3)
    expect(error.message).toBe(
      [
        '3 leaks found:',
        'secrets (no canary in any browser byte, log line or build file):',
        '  - WIDGET_API_KEY in GET /config.js → response body (2 times)',
        "tokens (each only in its user's page and its vendor's own traffic):",
        '  - token #1 in GET /track → URL',
      ].join('\n'),
    )
    expect(() => throwLeaks([])).not.toThrow()
    expect(() => throwLeaks(error.leaks)).toThrow(LeakError)
  })

  it('matches a holder on every field the vendor was told, and none told is nobody', () => {
    const ada = { id: 'u1', email: 'ada@example.com', name: 'Ada' }
    expect(isHolder(ada, { email: 'ada@example.com' })).toBe(true)
    expect(isHolder(ada, { email: 'ada@example.com', id: 'u2' })).toBe(false)
    expect(isHolder(ada, {})).toBe(false)
    expect(describeHolder({ id: 'u1', email: 'ada@example.com' })).toBe('email=ada@example.com, id=u1')
    expect(describeHolder({})).toBe('nobody (no identity sent)')
  })
})
