/**
 * Counters for the embeds runtime (issue 4): vendor calls and their failures
 * by cause, cache hits and misses, and where each circuit breaker stands.
 * Plain maps, no dependency; `prometheus()` renders them in the Prometheus
 * text exposition format 0.0.4 for a `/metrics` route, `snapshot()` as JSON.
 *
 * Labels only ever carry vendor names, error codes, cache kinds and breaker
 * states: never a user, a URL or a token.
 */
import type { BreakerState } from './vendors/breaker.ts'

/** What a cache lookup was for (`widget_page`): the kinds the vendor adapters declare. */
export type CacheKind = string

const BREAKER_STATES: readonly BreakerState[] = ['closed', 'open', 'half-open']

/** The counters at one moment, as plain JSON. */
export interface EmbedsMetricsSnapshot {
  vendorCalls: Record<string, number>
  /** By vendor, then by cause (an error code such as `ERR_VENDOR_TIMEOUT`). */
  vendorFailures: Record<string, Record<string, number>>
  cacheHits: Record<CacheKind, number>
  cacheMisses: Record<CacheKind, number>
  breakers: Record<string, BreakerState>
}

/**
 * @example
 * const metrics = new EmbedsMetrics()
 * const breaker = new CircuitBreaker({ onChange: (_from, to) => metrics.breakerState('returning-proxy', to) })
 * // For the operator only, never anonymous: `etaEmbeds({ metricsPath, metricsToken })` does this for you.
 * router.get('/metrics', requireOperator, (ctx) => {
 *   ctx.type = 'text/plain; version=0.0.4'
 *   ctx.body = metrics.prometheus()
 * })
 */
export class EmbedsMetrics {
  private readonly calls = new Map<string, number>()
  private readonly failures = new Map<string, Map<string, number>>()
  private readonly lookups: Map<CacheKind, number>
  private readonly misses: Map<CacheKind, number>
  private readonly breakers = new Map<string, BreakerState>()

  /** `cacheKinds` are shown, at 0, before their first lookup. */
  constructor(cacheKinds: readonly CacheKind[] = []) {
    this.lookups = new Map(cacheKinds.map((kind) => [kind, 0]))
    this.misses = new Map(cacheKinds.map((kind) => [kind, 0]))
  }

  /** Counts one call to `vendor` (made, not refused by a breaker). */
  call(vendor: string): void {
    increment(this.calls, vendor)
  }

  /** Counts one failed call to `vendor`; `cause` is the error code, e.g. `ERR_VENDOR_TIMEOUT`. */
  failure(vendor: string, cause: string): void {
    let byCause = this.failures.get(vendor)
    if (!byCause) this.failures.set(vendor, (byCause = new Map<string, number>()))
    increment(byCause, cause)
  }

  /**
   * Counts one lookup of `kind`. Hits are lookups minus misses: the caches
   * are single-flight, so a lookup that joined another's vendor call counts
   * as a hit, and a miss is exactly one call that went to the vendor.
   */
  cacheLookup(kind: CacheKind): void {
    increment(this.lookups, kind)
  }

  /** Counts one lookup of `kind` that had to go to the vendor. */
  cacheMiss(kind: CacheKind): void {
    increment(this.misses, kind)
  }

  private get hits(): Map<CacheKind, number> {
    return new Map(
      [...this.lookups.keys()].map((kind) => [
        kind,
        Math.max(0, (this.lookups.get(kind) ?? 0) - (this.misses.get(kind) ?? 0)),
      ]),
    )
  }

  /** Records where `vendor`'s circuit breaker stands now (wire it to the breaker's `onChange`). */
  breakerState(vendor: string, state: BreakerState): void {
    this.breakers.set(vendor, state)
  }

  /** The counters as plain JSON (safe to `JSON.stringify`). */
  snapshot(): EmbedsMetricsSnapshot {
    return {
      vendorCalls: Object.fromEntries(this.calls),
      vendorFailures: Object.fromEntries(
        [...this.failures].map(([vendor, byCause]) => [vendor, Object.fromEntries(byCause)]),
      ),
      cacheHits: Object.fromEntries(this.hits),
      cacheMisses: Object.fromEntries(this.misses),
      breakers: Object.fromEntries(this.breakers),
    }
  }

  /**
   * The counters in the Prometheus text format 0.0.4 (serve it as
   * `text/plain; version=0.0.4`). Samples are sorted by label values, so
   * the output only changes when a number does.
   */
  prometheus(): string {
    const failures = [...this.failures].flatMap(([vendor, byCause]) =>
      [...byCause].map(([cause, n]) => sample({ vendor, cause }, n)),
    )
    const breakers = [...this.breakers]
    return [
      family(
        'eta_embeds_vendor_calls_total',
        'counter',
        'Calls made to each vendor.',
        map(this.calls, (vendor, n) => sample({ vendor }, n)),
      ),
      family('eta_embeds_vendor_failures_total', 'counter', 'Failed vendor calls, by vendor and cause.', failures),
      family(
        'eta_embeds_cache_hits_total',
        'counter',
        'Lookups answered from a cache, by kind.',
        map(this.hits, (kind, n) => sample({ kind }, n)),
      ),
      family(
        'eta_embeds_cache_misses_total',
        'counter',
        'Lookups that went to the vendor, by kind.',
        map(this.misses, (kind, n) => sample({ kind }, n)),
      ),
      family(
        'eta_embeds_breaker_open',
        'gauge',
        "1 while the vendor's circuit breaker refuses calls (open), else 0.",
        breakers.map(([vendor, state]) => sample({ vendor }, state === 'open' ? 1 : 0)),
      ),
      family(
        'eta_embeds_breaker_state',
        'gauge',
        "The vendor's circuit breaker state: 1 for the current state, 0 for the others.",
        breakers.flatMap(([vendor, current]) =>
          BREAKER_STATES.map((state) => sample({ vendor, state }, state === current ? 1 : 0)),
        ),
      ),
    ].join('')
  }
}

function increment<K>(counts: Map<K, number>, key: K): void {
  counts.set(key, (counts.get(key) ?? 0) + 1)
}

function map<K, V, T>(entries: Map<K, V>, fn: (key: K, value: V) => T): T[] {
  return [...entries].map(([key, value]) => fn(key, value))
}

interface Sample {
  labels: string
  value: number
}

function sample(labels: Record<string, string>, value: number): Sample {
  const text = Object.entries(labels)
    .map(([name, v]) => `${name}="${escapeLabelValue(v)}"`)
    .join(',')
  return { labels: text, value }
}

function family(name: string, type: 'counter' | 'gauge', help: string, samples: Sample[]): string {
  const lines = [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`]
  for (const s of samples.toSorted((a, b) => (a.labels < b.labels ? -1 : a.labels > b.labels ? 1 : 0))) {
    lines.push(`${name}{${s.labels}} ${s.value}`)
  }
  return lines.join('\n') + '\n'
}

/** Label values escape backslash, double quote and line feed (exposition format 0.0.4). */
function escapeLabelValue(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')
}

/** HELP text escapes backslash and line feed only. */
function escapeHelp(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')
}
