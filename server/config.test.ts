import { describe, expect, it } from 'vitest'
import { metricsToken, proxyHops } from './config.ts'
import { recordingLogger } from './test-helpers.ts'

describe('TRUST_PROXY', () => {
  it('is the number of reverse proxies in front; unset, empty or 0 trusts none', () => {
    expect(proxyHops({})).toBe(0)
    expect(proxyHops({ TRUST_PROXY: '' })).toBe(0)
    expect(proxyHops({ TRUST_PROXY: '0' })).toBe(0)
    expect(proxyHops({ TRUST_PROXY: '1' })).toBe(1)
    expect(proxyHops({ TRUST_PROXY: ' 2 ' })).toBe(2)
  })

  it.each(['true', 'yes', '-1', '1.5', '1,2', '99'])("refuses '%s', saying what it must be", (value) => {
    expect(() => proxyHops({ TRUST_PROXY: value })).toThrow(
      `TRUST_PROXY must be the number of reverse proxies in front of the server (0 to 10; 1 for one), got '${value}'`,
    )
  })
})

describe('METRICS_TOKEN', () => {
  it('is read trimmed, and only whether it is set is logged', () => {
    const { logger, lines } = recordingLogger()
    expect(metricsToken({ METRICS_TOKEN: ' demo-metrics-token-0123456789 ' }, logger)).toBe(
      'demo-metrics-token-0123456789',
    )
    expect(metricsToken({}, logger)).toBeUndefined()
    expect(lines.map((l) => l['msg'])).toEqual([
      'METRICS_TOKEN is set: /metrics answers requests that send it as a bearer token',
      'METRICS_TOKEN is unset: /metrics is off',
    ])
    expect(JSON.stringify(lines)).not.toContain('demo-metrics-token')
  })
})
