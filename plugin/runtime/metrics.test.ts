import { Counter, Registry, type OpenMetricsContentType } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { EmbedsMetrics } from './metrics.ts'

/** Three renders: two vendors called, one timeout, the returning-proxy breaker opened. */
function scenario(metrics = new EmbedsMetrics({ cacheKinds: ['widget_page', 'widget_token'] })): EmbedsMetrics {
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

/** The sample lines of `text` (no HELP or TYPE) that start with `name`. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
}

describe('EmbedsMetrics', () => {
  it('renders the counters and breakers in the Prometheus text format 0.0.4, through prom-client', async () => {
    const metrics = scenario()
    const text = await metrics.prometheus()
    expect(metrics.contentType).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(text).toContain(
      [
        '# HELP eta_embeds_vendor_calls_total Calls made to each vendor (not those an open circuit breaker refused).',
        '# TYPE eta_embeds_vendor_calls_total counter',
        'eta_embeds_vendor_calls_total{vendor="returning-proxy"} 2',
        'eta_embeds_vendor_calls_total{vendor="caramelo"} 1',
      ].join('\n'),
    )
    expect(samples(text, 'eta_embeds_vendor_failures_total')).toEqual([
      'eta_embeds_vendor_failures_total{vendor="returning-proxy",cause="ERR_VENDOR_TIMEOUT"} 2',
      'eta_embeds_vendor_failures_total{vendor="returning-proxy",cause="ERR_VENDOR_STATUS"} 1',
    ])
    expect(samples(text, 'eta_embeds_cache_lookups_total')).toEqual([
      'eta_embeds_cache_lookups_total{kind="widget_page"} 3',
      'eta_embeds_cache_lookups_total{kind="widget_token"} 1',
    ])
    expect(samples(text, 'eta_embeds_cache_misses_total')).toEqual([
      'eta_embeds_cache_misses_total{kind="widget_page"} 1',
      'eta_embeds_cache_misses_total{kind="widget_token"} 1',
    ])
    // The exact lines the load suite's fleet test waits for.
    expect(text).toContain(
      [
        "# HELP eta_embeds_breaker_open 1 while the vendor's circuit breaker refuses calls (open), else 0.",
        '# TYPE eta_embeds_breaker_open gauge',
        'eta_embeds_breaker_open{vendor="caramelo"} 0',
        'eta_embeds_breaker_open{vendor="returning-proxy"} 1',
      ].join('\n'),
    )
    expect(samples(text, 'eta_embeds_breaker_state')).toEqual([
      'eta_embeds_breaker_state{vendor="caramelo",state="closed"} 1',
      'eta_embeds_breaker_state{vendor="caramelo",state="half-open"} 0',
      'eta_embeds_breaker_state{vendor="caramelo",state="open"} 0',
      'eta_embeds_breaker_state{vendor="returning-proxy",state="closed"} 0',
      'eta_embeds_breaker_state{vendor="returning-proxy",state="half-open"} 0',
      'eta_embeds_breaker_state{vendor="returning-proxy",state="open"} 1',
    ])
  })

  it('starts with the declared cache kinds at 0 and no vendor samples', async () => {
    const text = await new EmbedsMetrics({ cacheKinds: ['widget_page', 'widget_token'] }).prometheus()
    expect(text).toContain('# TYPE eta_embeds_vendor_calls_total counter')
    expect(text).toContain('# TYPE eta_embeds_vendor_call_duration_seconds histogram')
    expect(text).not.toContain('vendor=')
    expect(samples(text, 'eta_embeds_cache_lookups_total')).toEqual([
      'eta_embeds_cache_lookups_total{kind="widget_page"} 0',
      'eta_embeds_cache_lookups_total{kind="widget_token"} 0',
    ])
    expect(samples(text, 'eta_embeds_cache_misses_total')).toHaveLength(2)
  })

  it('shows a cache kind nobody declared only from its first lookup', async () => {
    const metrics = new EmbedsMetrics()
    expect(await metrics.prometheus()).not.toContain('kind=')
    metrics.cacheLookup('sdk_token')
    expect(await metrics.prometheus()).toContain('eta_embeds_cache_lookups_total{kind="sdk_token"} 1\n')
    expect((await metrics.snapshot()).cacheHits).toEqual({ sdk_token: 1 })
  })

  it('keeps a latency histogram per vendor and outcome, in seconds', async () => {
    const metrics = new EmbedsMetrics()
    metrics.callDuration('caramelo', 'ok', 0.04)
    metrics.callDuration('caramelo', 'ok', 0.3)
    metrics.callDuration('caramelo', 'fallback', 2.001)
    const text = await metrics.prometheus()
    expect(text).toContain(
      'eta_embeds_vendor_call_duration_seconds_bucket{le="0.05",vendor="caramelo",outcome="ok"} 1\n',
    )
    expect(text).toContain(
      'eta_embeds_vendor_call_duration_seconds_bucket{le="0.5",vendor="caramelo",outcome="ok"} 2\n',
    )
    expect(text).toContain('eta_embeds_vendor_call_duration_seconds_count{vendor="caramelo",outcome="ok"} 2\n')
    expect(text).toContain(
      'eta_embeds_vendor_call_duration_seconds_bucket{le="2",vendor="caramelo",outcome="fallback"} 0\n',
    )
    expect(text).toContain(
      'eta_embeds_vendor_call_duration_seconds_bucket{le="5",vendor="caramelo",outcome="fallback"} 1\n',
    )
  })

  it('follows the breaker: a later state replaces the earlier one', async () => {
    const metrics = new EmbedsMetrics()
    metrics.breakerState('returning-proxy', 'open')
    metrics.breakerState('returning-proxy', 'half-open')
    const text = await metrics.prometheus()
    expect(text).toContain('eta_embeds_breaker_open{vendor="returning-proxy"} 0\n')
    expect(text).toContain('eta_embeds_breaker_state{vendor="returning-proxy",state="half-open"} 1\n')
    expect(text).toContain('eta_embeds_breaker_state{vendor="returning-proxy",state="open"} 0\n')
  })

  it('gives the same numbers as JSON', async () => {
    const snapshot = await scenario().snapshot()
    expect(snapshot).toEqual({
      vendorCalls: { 'returning-proxy': 2, caramelo: 1 },
      vendorFailures: { 'returning-proxy': { ERR_VENDOR_TIMEOUT: 2, ERR_VENDOR_STATUS: 1 } },
      cacheHits: { widget_page: 2, widget_token: 0 },
      cacheMisses: { widget_page: 1, widget_token: 1 },
      breakers: { 'returning-proxy': 'open', caramelo: 'closed' },
    })
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot)
  })

  it('hands out snapshots that later counts do not change', async () => {
    const metrics = new EmbedsMetrics()
    metrics.call('returning-proxy')
    const before = await metrics.snapshot()
    metrics.call('returning-proxy')
    metrics.failure('returning-proxy', 'ERR_VENDOR_BODY')
    expect(before.vendorCalls).toEqual({ 'returning-proxy': 1 })
    expect(before.vendorFailures).toEqual({})
  })
})

describe('EmbedsMetrics in the app’s registry', () => {
  it('joins the app’s own metrics, so one scrape serves both', async () => {
    const registry = new Registry()
    const pages = new Counter({ name: 'app_pages_total', help: 'Pages served.', registers: [registry] })
    pages.inc(3)
    const metrics = scenario(new EmbedsMetrics({ registry }))
    expect(metrics.registry).toBe(registry)
    const text = await registry.metrics()
    expect(text).toContain('app_pages_total 3\n')
    expect(text).toContain('eta_embeds_vendor_calls_total{vendor="caramelo"} 1\n')
    expect(await metrics.prometheus()).toBe(text)
  })

  it('shares it between two runtimes: counts add up, a breaker shows its most closed-off state', async () => {
    const registry = new Registry()
    const a = new EmbedsMetrics({ registry, cacheKinds: ['widget_page'] })
    const b = new EmbedsMetrics({ registry, cacheKinds: ['widget_page'] })
    a.call('caramelo')
    b.call('caramelo')
    a.breakerState('caramelo', 'closed')
    b.breakerState('caramelo', 'open')
    a.breakerState('returning-proxy', 'half-open')

    let text = await registry.metrics()
    expect(samples(text, 'eta_embeds_vendor_calls_total')).toEqual([
      'eta_embeds_vendor_calls_total{vendor="caramelo"} 2',
    ])
    expect(samples(text, 'eta_embeds_breaker_open')).toEqual([
      'eta_embeds_breaker_open{vendor="caramelo"} 1',
      'eta_embeds_breaker_open{vendor="returning-proxy"} 0',
    ])
    expect(text).toContain('eta_embeds_breaker_state{vendor="returning-proxy",state="half-open"} 1\n')
    expect(await a.snapshot()).toEqual(await b.snapshot())

    // A runtime that closes takes its breakers with it; the counts stay (counters never go down).
    b.close()
    text = await registry.metrics()
    expect(text).toContain('eta_embeds_breaker_open{vendor="caramelo"} 0\n')
    expect(text).toContain('eta_embeds_vendor_calls_total{vendor="caramelo"} 2\n')
    a.close()
    expect(samples(await registry.metrics(), 'eta_embeds_breaker_open')).toEqual([])
  })

  it('refuses a registry where a metric of another origin holds one of its names', () => {
    const registry = new Registry()
    new Counter({ name: 'eta_embeds_vendor_calls_total', help: 'Not ours.', registers: [registry] })
    expect(() => new EmbedsMetrics({ registry })).toThrow(
      new TypeError(
        "options.metrics.registry already holds a metric named 'eta_embeds_vendor_calls_total' that no embeds " +
          'runtime of this package registered: remove it, or give the runtime a registry of its own',
      ),
    )
  })

  it('speaks OpenMetrics when the registry does', async () => {
    const registry = new Registry<OpenMetricsContentType>()
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
    const metrics = scenario(new EmbedsMetrics({ registry }))
    expect(metrics.contentType).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8')
    const text = await metrics.prometheus()
    expect(text).toContain('eta_embeds_breaker_open{vendor="returning-proxy"} 1\n')
    expect(text.endsWith('# EOF\n')).toBe(true)
    // Counted after prom-client renamed the counters for OpenMetrics: still the same series.
    metrics.call('caramelo')
    expect((await metrics.snapshot()).vendorCalls['caramelo']).toBe(2)
  })
})
