/**
 * The runtime's metrics (issues 4 and 12), through prom-client: vendor calls
 * and their failures by cause, how long calls take by outcome, cache lookups
 * and misses, and where each circuit breaker stands. They are registered in
 * the app's own prom-client `Registry` when it passes one, so one `/metrics`
 * serves the whole app, or in a registry of the runtime's own.
 *
 * Labels only ever carry vendor names, error codes, outcomes, cache kinds and
 * breaker states: never a user, a URL or a token.
 */
import { Counter, Gauge, Histogram, Registry, type RegistryContentType } from 'prom-client'
import type { BreakerState } from './vendors/breaker.ts'

/** What a cache lookup was for (`widget_page`): the kinds the vendor adapters declare. */
export type CacheKind = string

/** How a directive's vendor call ended: its embed, its fallback, or stopped by us (the page no longer needed it). */
export type CallOutcome = 'ok' | 'fallback' | 'aborted'

/** Any prom-client registry, Prometheus or OpenMetrics. */
export type MetricsRegistry = Registry<RegistryContentType>

export interface MetricsOptions {
  /**
   * The app's prom-client `Registry` (its `register`, or one it made): the
   * runtime's metrics join the app's own, so one `/metrics` serves them all.
   * Several runtimes may share one registry: their counts add up, and a
   * breaker shows the most closed-off state any of them reports.
   * @default a registry of the runtime's own
   */
  registry?: MetricsRegistry
}

/** The counters at one moment, as plain JSON. */
export interface EmbedsMetricsSnapshot {
  vendorCalls: Record<string, number>
  /** By vendor, then by cause (an error code such as `ERR_VENDOR_TIMEOUT`). */
  vendorFailures: Record<string, Record<string, number>>
  /** Lookups minus misses, by kind. */
  cacheHits: Record<CacheKind, number>
  cacheMisses: Record<CacheKind, number>
  breakers: Record<string, BreakerState>
}

const BREAKER_STATES: readonly BreakerState[] = ['closed', 'half-open', 'open']

/** Seconds: from a cache hit (milliseconds) to the default 2 s deadline and past it. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5]

/**
 * The metric families in one registry, shared by every runtime that uses it:
 * prom-client refuses a second metric of the same name, and counts of one
 * process belong in one series anyway.
 */
class Families {
  /** Each runtime on the registry, and its breakers' states. */
  readonly members = new Map<EmbedsMetrics, ReadonlyMap<string, BreakerState>>()
  readonly calls: Counter<'vendor'>
  readonly failures: Counter<'vendor' | 'cause'>
  readonly duration: Histogram<'vendor' | 'outcome'>
  readonly lookups: Counter<'kind'>
  readonly misses: Counter<'kind'>
  readonly breakerOpen: Gauge<'vendor'>
  readonly breakerState: Gauge<'vendor' | 'state'>

  constructor(registry: MetricsRegistry) {
    const registers = [registry]
    this.calls = new Counter({
      name: 'eta_embeds_vendor_calls_total',
      help: 'Calls made to each vendor (not those an open circuit breaker refused).',
      labelNames: ['vendor'],
      registers,
    })
    this.failures = new Counter({
      name: 'eta_embeds_vendor_failures_total',
      help: 'Failed vendor calls, by vendor and cause (an error code).',
      labelNames: ['vendor', 'cause'],
      registers,
    })
    this.duration = new Histogram({
      name: 'eta_embeds_vendor_call_duration_seconds',
      help: "How long a directive's vendor work took, by vendor and outcome (ok, fallback, aborted).",
      labelNames: ['vendor', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    })
    this.lookups = new Counter({
      name: 'eta_embeds_cache_lookups_total',
      help: 'Cache lookups, by kind; the hit ratio is 1 - misses / lookups.',
      labelNames: ['kind'],
      registers,
    })
    this.misses = new Counter({
      name: 'eta_embeds_cache_misses_total',
      help: 'Cache lookups that went to the vendor, by kind.',
      labelNames: ['kind'],
      registers,
    })
    const breakers = () => this.breakers()
    // Read when scraped: the breakers of the runtimes using this registry now.
    this.breakerOpen = new Gauge({
      name: 'eta_embeds_breaker_open',
      help: "1 while the vendor's circuit breaker refuses calls (open), else 0.",
      labelNames: ['vendor'],
      registers,
      collect() {
        this.reset()
        for (const [vendor, state] of breakers()) this.set({ vendor }, state === 'open' ? 1 : 0)
      },
    })
    this.breakerState = new Gauge({
      name: 'eta_embeds_breaker_state',
      help: "The vendor's circuit breaker state: 1 for the current state, 0 for the others.",
      labelNames: ['vendor', 'state'],
      registers,
      collect() {
        this.reset()
        for (const [vendor, current] of breakers()) {
          for (const state of BREAKER_STATES) this.set({ vendor, state }, state === current ? 1 : 0)
        }
      },
    })
  }

  /** Each vendor's breaker, by name: the most closed-off state any runtime on the registry reports. */
  breakers(): [string, BreakerState][] {
    const worst = new Map<string, BreakerState>()
    for (const states of this.members.values()) {
      for (const [vendor, state] of states) {
        const known = worst.get(vendor)
        if (!known || BREAKER_STATES.indexOf(state) > BREAKER_STATES.indexOf(known)) worst.set(vendor, state)
      }
    }
    return [...worst].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  }
}

const NAMES = [
  'eta_embeds_vendor_calls_total',
  'eta_embeds_vendor_failures_total',
  'eta_embeds_vendor_call_duration_seconds',
  'eta_embeds_cache_lookups_total',
  'eta_embeds_cache_misses_total',
  'eta_embeds_breaker_open',
  'eta_embeds_breaker_state',
]

const inRegistry = new WeakMap<MetricsRegistry, Families>()

function familiesIn(registry: MetricsRegistry): Families {
  const known = inRegistry.get(registry)
  if (known) return known
  const taken = NAMES.find((name) => registry.getSingleMetric(name))
  if (taken) {
    throw new TypeError(
      `options.metrics.registry already holds a metric named '${taken}' that no embeds runtime of this ` +
        `package registered: remove it, or give the runtime a registry of its own`,
    )
  }
  const families = new Families(registry)
  inRegistry.set(registry, families)
  return families
}

/**
 * One runtime's view of its metrics. `createRuntime` makes it; the
 * middleware hands it out as `middleware.metrics`.
 * @example
 * import { register } from 'prom-client'
 * app.use(embeds({ templates, vendors, metrics: { registry: register } }))
 * // For the operator only, never anonymous: `embeds({ metricsPath, metricsToken })` does this for you.
 * router.get('/metrics', requireOperator, async (ctx) => {
 *   ctx.type = register.contentType
 *   ctx.body = await register.metrics()
 * })
 */
export class EmbedsMetrics {
  /** Where the metrics are registered: the app's registry, or the runtime's own. */
  readonly registry: MetricsRegistry
  private readonly families: Families
  /** This runtime's breakers, read by the gauges when scraped. */
  private readonly breakers = new Map<string, BreakerState>()

  /** `cacheKinds` are shown, at 0, before their first lookup. */
  constructor(options: MetricsOptions & { cacheKinds?: readonly CacheKind[] } = {}) {
    this.registry = options.registry ?? new Registry()
    this.families = familiesIn(this.registry)
    this.families.members.set(this, this.breakers)
    for (const kind of options.cacheKinds ?? []) {
      this.families.lookups.inc({ kind }, 0)
      this.families.misses.inc({ kind }, 0)
    }
  }

  /** Counts one call to `vendor` (made, not refused by a breaker). */
  call(vendor: string): void {
    this.families.calls.inc({ vendor })
  }

  /** Counts one failed call to `vendor`; `cause` is the error code, e.g. `ERR_VENDOR_TIMEOUT`. */
  failure(vendor: string, cause: string): void {
    this.families.failures.inc({ vendor, cause })
  }

  /** Records how long one directive's vendor work took, in seconds, and how it ended. */
  callDuration(vendor: string, outcome: CallOutcome, seconds: number): void {
    this.families.duration.observe({ vendor, outcome }, seconds)
  }

  /** Counts one lookup of `kind`; a lookup that joined another's vendor call is a hit. */
  cacheLookup(kind: CacheKind): void {
    this.families.lookups.inc({ kind })
  }

  /** Counts one lookup of `kind` that had to go to the vendor. */
  cacheMiss(kind: CacheKind): void {
    this.families.misses.inc({ kind })
  }

  /** Records where `vendor`'s circuit breaker stands now (wire it to the breaker's `onChange`). */
  breakerState(vendor: string, state: BreakerState): void {
    this.breakers.set(vendor, state)
  }

  /** Stops reporting this runtime's breakers (its counts stay: counters only go up). */
  close(): void {
    this.families.members.delete(this)
  }

  /** The content type of `prometheus()`'s text (the registry's: Prometheus 0.0.4 unless it is OpenMetrics). */
  get contentType(): string {
    return this.registry.contentType
  }

  /** Everything in the registry (the app's own metrics too, when it is the app's) in its text format. */
  prometheus(): Promise<string> {
    return this.registry.metrics()
  }

  /**
   * The counters as plain JSON (safe to `JSON.stringify`), as the registry
   * shows them: with a registry shared by several runtimes, their sum.
   */
  async snapshot(): Promise<EmbedsMetricsSnapshot> {
    const f = this.families
    const [calls, failures, lookups, misses] = await Promise.all([
      f.calls.get(),
      f.failures.get(),
      f.lookups.get(),
      f.misses.get(),
    ])
    const vendorFailures: Record<string, Record<string, number>> = {}
    for (const { labels, value } of failures.values) {
      ;(vendorFailures[String(labels.vendor)] ??= {})[String(labels.cause)] = value
    }
    const missed = byLabel(misses.values, 'kind')
    return {
      vendorCalls: byLabel(calls.values, 'vendor'),
      vendorFailures,
      cacheHits: Object.fromEntries(
        Object.entries(byLabel(lookups.values, 'kind')).map(([kind, n]) => [
          kind,
          Math.max(0, n - (missed[kind] ?? 0)),
        ]),
      ),
      cacheMisses: missed,
      breakers: Object.fromEntries(f.breakers()),
    }
  }
}

function byLabel<L extends string>(
  values: readonly { labels: Partial<Record<L, string | number>>; value: number }[],
  label: L,
): Record<string, number> {
  return Object.fromEntries(values.map(({ labels, value }) => [String(labels[label]), value]))
}
