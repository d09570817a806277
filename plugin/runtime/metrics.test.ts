import { describe, expect, it } from 'vitest'
import { EmbedsMetrics } from './metrics.ts'

/** Three renders: two vendors called, one timeout, the returning-proxy breaker opened. */
function scenario(): EmbedsMetrics {
  const metrics = new EmbedsMetrics(['widget_page', 'widget_token'])
  metrics.call('returning-proxy')
  metrics.call('returning-proxy')
  metrics.call('caramelo')
  metrics.failure('returning-proxy', 'ERR_VENDOR_TIMEOUT')
  metrics.failure('returning-proxy', 'ERR_VENDOR_TIMEOUT')
  metrics.failure('returning-proxy', 'ERR_VENDOR_STATUS')
  metrics.cacheLookup('widget_page')
  metrics.cacheLookup('widget_page')
  metrics.cacheLookup('widget_page')
  metrics.cacheMiss('widget_page')
  metrics.cacheLookup('widget_token')
  metrics.cacheMiss('widget_token')
  metrics.breakerState('returning-proxy', 'open')
  metrics.breakerState('caramelo', 'closed')
  return metrics
}

describe('EmbedsMetrics', () => {
  it('renders the Prometheus text format 0.0.4', () => {
    expect(scenario().prometheus()).toBe(
      [
        '# HELP eta_embeds_vendor_calls_total Calls made to each vendor.',
        '# TYPE eta_embeds_vendor_calls_total counter',
        'eta_embeds_vendor_calls_total{vendor="caramelo"} 1',
        'eta_embeds_vendor_calls_total{vendor="returning-proxy"} 2',
        '# HELP eta_embeds_vendor_failures_total Failed vendor calls, by vendor and cause.',
        '# TYPE eta_embeds_vendor_failures_total counter',
        'eta_embeds_vendor_failures_total{vendor="returning-proxy",cause="ERR_VENDOR_STATUS"} 1',
        'eta_embeds_vendor_failures_total{vendor="returning-proxy",cause="ERR_VENDOR_TIMEOUT"} 2',
        '# HELP eta_embeds_cache_hits_total Lookups answered from a cache, by kind.',
        '# TYPE eta_embeds_cache_hits_total counter',
        'eta_embeds_cache_hits_total{kind="widget_page"} 2',
        'eta_embeds_cache_hits_total{kind="widget_token"} 0',
        '# HELP eta_embeds_cache_misses_total Lookups that went to the vendor, by kind.',
        '# TYPE eta_embeds_cache_misses_total counter',
        'eta_embeds_cache_misses_total{kind="widget_page"} 1',
        'eta_embeds_cache_misses_total{kind="widget_token"} 1',
        "# HELP eta_embeds_breaker_open 1 while the vendor's circuit breaker refuses calls (open), else 0.",
        '# TYPE eta_embeds_breaker_open gauge',
        'eta_embeds_breaker_open{vendor="caramelo"} 0',
        'eta_embeds_breaker_open{vendor="returning-proxy"} 1',
        "# HELP eta_embeds_breaker_state The vendor's circuit breaker state: 1 for the current state, 0 for the others.",
        '# TYPE eta_embeds_breaker_state gauge',
        'eta_embeds_breaker_state{vendor="caramelo",state="closed"} 1',
        'eta_embeds_breaker_state{vendor="caramelo",state="half-open"} 0',
        'eta_embeds_breaker_state{vendor="caramelo",state="open"} 0',
        'eta_embeds_breaker_state{vendor="returning-proxy",state="closed"} 0',
        'eta_embeds_breaker_state{vendor="returning-proxy",state="half-open"} 0',
        'eta_embeds_breaker_state{vendor="returning-proxy",state="open"} 1',
        '',
      ].join('\n'),
    )
  })

  it('starts with HELP and TYPE lines, the declared cache kinds zeroed and no vendor samples', () => {
    expect(new EmbedsMetrics(['widget_page', 'widget_token']).prometheus()).toBe(
      [
        '# HELP eta_embeds_vendor_calls_total Calls made to each vendor.',
        '# TYPE eta_embeds_vendor_calls_total counter',
        '# HELP eta_embeds_vendor_failures_total Failed vendor calls, by vendor and cause.',
        '# TYPE eta_embeds_vendor_failures_total counter',
        '# HELP eta_embeds_cache_hits_total Lookups answered from a cache, by kind.',
        '# TYPE eta_embeds_cache_hits_total counter',
        'eta_embeds_cache_hits_total{kind="widget_page"} 0',
        'eta_embeds_cache_hits_total{kind="widget_token"} 0',
        '# HELP eta_embeds_cache_misses_total Lookups that went to the vendor, by kind.',
        '# TYPE eta_embeds_cache_misses_total counter',
        'eta_embeds_cache_misses_total{kind="widget_page"} 0',
        'eta_embeds_cache_misses_total{kind="widget_token"} 0',
        "# HELP eta_embeds_breaker_open 1 while the vendor's circuit breaker refuses calls (open), else 0.",
        '# TYPE eta_embeds_breaker_open gauge',
        "# HELP eta_embeds_breaker_state The vendor's circuit breaker state: 1 for the current state, 0 for the others.",
        '# TYPE eta_embeds_breaker_state gauge',
        '',
      ].join('\n'),
    )
  })

  it('shows a cache kind nobody declared only from its first lookup', () => {
    const metrics = new EmbedsMetrics()
    expect(metrics.prometheus()).not.toContain('kind=')
    metrics.cacheLookup('sdk_token')
    expect(metrics.prometheus()).toContain('eta_embeds_cache_hits_total{kind="sdk_token"} 1\n')
    expect(metrics.snapshot().cacheHits).toEqual({ sdk_token: 1 })
  })

  it('escapes backslash, double quote and line feed in label values', () => {
    const metrics = new EmbedsMetrics()
    metrics.failure('a\\b', 'say "hi"\nbye')
    expect(metrics.prometheus()).toContain(
      'eta_embeds_vendor_failures_total{vendor="a\\\\b",cause="say \\"hi\\"\\nbye"} 1\n',
    )
  })

  it('follows the breaker: a later state replaces the earlier one', () => {
    const metrics = new EmbedsMetrics()
    metrics.breakerState('returning-proxy', 'open')
    metrics.breakerState('returning-proxy', 'half-open')
    const text = metrics.prometheus()
    expect(text).toContain('eta_embeds_breaker_open{vendor="returning-proxy"} 0\n')
    expect(text).toContain('eta_embeds_breaker_state{vendor="returning-proxy",state="half-open"} 1\n')
    expect(text).toContain('eta_embeds_breaker_state{vendor="returning-proxy",state="open"} 0\n')
  })

  it('gives the same numbers as JSON', () => {
    const snapshot = scenario().snapshot()
    expect(snapshot).toEqual({
      vendorCalls: { 'returning-proxy': 2, caramelo: 1 },
      vendorFailures: { 'returning-proxy': { ERR_VENDOR_TIMEOUT: 2, ERR_VENDOR_STATUS: 1 } },
      cacheHits: { widget_page: 2, widget_token: 0 },
      cacheMisses: { widget_page: 1, widget_token: 1 },
      breakers: { 'returning-proxy': 'open', caramelo: 'closed' },
    })
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot)
  })

  it('hands out snapshots that later counts do not change', () => {
    const metrics = new EmbedsMetrics()
    metrics.call('returning-proxy')
    const before = metrics.snapshot()
    metrics.call('returning-proxy')
    metrics.failure('returning-proxy', 'ERR_VENDOR_BODY')
    expect(before.vendorCalls).toEqual({ 'returning-proxy': 1 })
    expect(before.vendorFailures).toEqual({})
  })
})
