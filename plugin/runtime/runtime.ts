/**
 * The one place that creates what the runtime keeps between requests — the
 * vendor connection pool, the logger, the counters, each vendor's breaker and
 * caches, the lazy route's signer and budget — and closes it. Everything here
 * is per process (per instance behind a load balancer), except what
 * `options.shared` puts in the shared store: reused tokens, breaker state and
 * the widget page, reached through `SharedState`, which falls back to this
 * process's memory whenever the store fails.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { RateLimiterMemory } from 'rate-limiter-flexible'
import { Agent, type Dispatcher } from 'undici'
import { RenderError } from '../errors.ts'
import type { AnyVendorDefinition, EmbedsUser, VendorServices } from '../vendors/define.ts'
import { definitionsOf } from '../vendors/registry.ts'
import { Vocabulary } from '../vendors/vocabulary.ts'
import { EmbedsMetrics } from './metrics.ts'
import type { EmbedsLogger, ResolvedEmbedsOptions } from './options.ts'
import { CircuitBreaker, type BreakerState } from './vendors/breaker.ts'
import { LazyUrlSigner } from './vendors/lazy-url.ts'
import { SharedBreaker } from './vendors/shared-breaker.ts'
import { Sealer } from './store/seal.ts'
import { SharedState } from './store/shared.ts'
import { createTracing, markCache, type Tracing } from './tracing.ts'

/** How long `close()` waits for vendor requests in flight before cutting them. */
const CLOSE_GRACE_MS = 5_000

/** A configured vendor, ready for calls. */
export interface VendorEntry {
  definition: AnyVendorDefinition
  config: unknown
  resources: unknown
  breaker: CircuitBreaker | undefined
  /** The breaker's state in the shared store; unset without `options.shared` or a breaker. */
  sharedBreaker: SharedBreaker | undefined
}

export interface Runtime {
  options: ResolvedEmbedsOptions
  logger: EmbedsLogger
  metrics: EmbedsMetrics
  /** The package's tracer (a no-op unless the app installs an OpenTelemetry SDK) and its options. */
  tracing: Tracing
  dispatcher: Dispatcher
  /** Built-in directives plus those of the configured adapters. */
  vocabulary: Vocabulary
  /** By adapter name. */
  vendors: ReadonlyMap<string, VendorEntry>
  /** Origins of the configured vendors' documents, for the pages' CSP. */
  origins: readonly string[]
  lazyUrls: LazyUrlSigner
  /** Per-user budget on the lazy route; unset when off. */
  lazyLimiter: RateLimiterMemory | undefined
  /** An opaque key for a user (an HMAC), for caches and budgets: never an email. */
  userKey: (user: EmbedsUser) => string
  /**
   * The configured flow for a directive with these attributes, checked
   * against that flow's rules; throws a `RenderError` located at `loc` for a
   * configuration mistake (no adapter, a flow not configured, a missing id).
   */
  select: (directive: string, attrs: Readonly<Record<string, string>>, loc: string) => VendorEntry
  /** Reads the fleet's breakers from the shared store now (it also happens every `breakerSyncMs`). */
  syncBreakers: () => Promise<void>
  /** Closes the pool the runtime made (after requests in flight, within a grace period). */
  close: () => Promise<void>
}

export function createRuntime(options: ResolvedEmbedsOptions): Runtime {
  const dispatcher = options.dispatcher ?? defaultAgent(options.timeoutMs)
  const logger = options.logger ?? pino({ name: 'eta-embeds' })
  const builtins = definitionsOf()
  const builtinNames = new Set(builtins.map((d) => d.name))
  const vocabulary = new Vocabulary([
    ...builtins,
    ...options.vendors.map((v) => v.definition).filter((d) => !builtinNames.has(d.name)),
  ])
  const metrics = new EmbedsMetrics({
    registry: options.metrics.registry,
    cacheKinds: options.vendors.flatMap((v) => v.definition.caches ?? []),
  })
  const sealer = options.shared && new Sealer(options.shared.secretKeys, 'options.shared.secretKeys')
  const shared = options.shared && sealer && new SharedState(options.shared.store, sealer, logger)
  const userKey = sealer
    ? // The same on every instance: shared entries of one user are found by all.
      (user: EmbedsUser): string => sealer.storeKey('user', user.id, user.email)
    : localUserKey()
  const services: VendorServices = {
    dispatcher,
    maxResponseBytes: options.maxResponseBytes,
    timeoutMs: options.timeoutMs,
    now: options.now,
    userKey,
    shared,
    // A lookup is a hit until the same directive's vendor work reports a miss.
    cacheLookup: (kind) => {
      metrics.cacheLookup(kind)
      markCache(kind, 'hit')
    },
    cacheMiss: (kind) => {
      metrics.cacheMiss(kind)
      markCache(kind, 'miss')
    },
  }
  const vendors = new Map<string, VendorEntry>()
  for (const { definition, config } of options.vendors) {
    const entry: VendorEntry = {
      definition,
      config,
      resources: definition.create?.(config, services),
      breaker: undefined,
      sharedBreaker:
        shared && options.breaker
          ? new SharedBreaker(shared, {
              vendor: definition.name,
              cooldownMs: options.breaker.cooldownMs,
              deadlineMs: options.timeoutMs,
              now: options.now,
            })
          : undefined,
    }
    entry.breaker = breakerFor(entry, options, metrics, logger)
    vendors.set(definition.name, entry)
  }
  const breakerSync =
    options.shared && syncBreakers([...vendors.values()], options.shared.breakerSyncMs, metrics, logger)
  return {
    options,
    logger,
    metrics,
    tracing: createTracing(options.tracing),
    dispatcher,
    vocabulary,
    vendors,
    origins: [...new Set([...vendors.values()].flatMap((v) => v.definition.origins?.(v.config) ?? []))],
    lazyUrls: new LazyUrlSigner(options.lazySigningKeys ?? [randomBytes(32)]),
    // In memory, per instance: a budget that only bounds one user's pace.
    lazyLimiter: options.lazyRateLimit
      ? new RateLimiterMemory({ points: options.lazyRateLimit.requests, duration: options.lazyRateLimit.perMs / 1000 })
      : undefined,
    userKey,
    select: (directive, attrs, loc) => select(vocabulary, vendors, directive, attrs, loc),
    syncBreakers: () => breakerSync?.now() ?? Promise.resolve(),
    close: async () => {
      breakerSync?.stop()
      metrics.close()
      if (options.dispatcher) return
      // Let requests in flight finish, but not forever: a vendor that keeps
      // a connection open must not hold the process up.
      const closing = dispatcher.close()
      const grace = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), CLOSE_GRACE_MS).unref())
      if ((await Promise.race([closing, grace])) === 'late') await dispatcher.destroy()
    },
  }
}

/** A user key of this process alone: an HMAC with a random key. */
function localUserKey(): (user: EmbedsUser) => string {
  const keySecret = randomBytes(32)
  return (user) => createHmac('sha256', keySecret).update(`${user.id}\u0000${user.email}`).digest('base64url')
}

function breakerFor(
  entry: VendorEntry,
  options: ResolvedEmbedsOptions,
  metrics: EmbedsMetrics,
  logger: EmbedsLogger,
): CircuitBreaker | undefined {
  if (!options.breaker) return undefined
  const vendor = entry.definition.name
  metrics.breakerState(vendor, 'closed')
  return new CircuitBreaker({
    ...options.breaker,
    now: options.now,
    onChange: (from, to) => {
      metrics.breakerState(vendor, effectiveState(to, entry.sharedBreaker))
      logger.warn({ vendor, from, to }, `circuit breaker ${to}`)
    },
  })
}

/** Where a vendor's calls stand on this instance: refused when its own breaker or the fleet's says so. */
function effectiveState(local: BreakerState, fleet: SharedBreaker | undefined): BreakerState {
  const shared = fleet?.state()
  if (local === 'open' || shared === 'open') return 'open'
  return shared ?? local
}

/**
 * Reads the fleet's breakers now and every `intervalMs` (a timer that never
 * holds the process up), and reports where each vendor stands: a breaker
 * opened on another instance shows as open in this instance's metrics, and
 * is logged once when this instance learns of it.
 */
function syncBreakers(
  entries: readonly VendorEntry[],
  intervalMs: number,
  metrics: EmbedsMetrics,
  logger: EmbedsLogger,
): { now: () => Promise<void>; stop: () => void } | undefined {
  const synced = entries.flatMap((entry) => (entry.sharedBreaker ? [{ entry, fleet: entry.sharedBreaker }] : []))
  if (synced.length === 0) return undefined
  // Vendors whose fleet-wide opening this instance logged (it logs its own breaker's changes already).
  const told = new Set<string>()
  const now = async (): Promise<void> => {
    await Promise.all(synced.map(({ fleet }) => fleet.refresh()))
    for (const { entry, fleet } of synced) {
      const vendor = entry.definition.name
      const fleetOpen = fleet.state() !== undefined
      if (fleetOpen && !told.has(vendor) && entry.breaker?.state !== 'open') {
        told.add(vendor)
        logger.warn({ vendor }, 'circuit breaker open across the fleet')
      } else if (!fleetOpen && told.delete(vendor)) {
        logger.warn({ vendor }, 'circuit breaker closed across the fleet')
      }
      if (entry.breaker) metrics.breakerState(vendor, effectiveState(entry.breaker.state, fleet))
    }
  }
  // A tick skipped while the last one still waits for a slow store: no pile-up.
  let ticking: Promise<void> | undefined
  const tick = () => void (ticking ??= now().finally(() => (ticking = undefined)))
  tick()
  const timer = setInterval(tick, intervalMs)
  timer.unref()
  return { now, stop: () => clearInterval(timer) }
}

/**
 * The flow a directive runs: the one its `flow` attribute names, else the
 * first configured in registration order. The attributes are then checked
 * against that flow's own rules (a value valid for another flow is not enough).
 */
function select(
  vocabulary: Vocabulary,
  vendors: ReadonlyMap<string, VendorEntry>,
  directive: string,
  attrs: Readonly<Record<string, string>>,
  loc: string,
): VendorEntry {
  const spec = vocabulary.get(directive)
  if (!spec) {
    throw new RenderError(
      'ERR_CONFIG',
      `<<${directive}>> at ${loc} has no vendor adapter in the runtime (pass it, configured, in options.vendors)`,
    )
  }
  const wanted = attrs['flow']
  const flows = wanted === undefined ? spec.flows : spec.flows.filter((f) => f.flow === wanted)
  const entry = flows.map((f) => vendors.get(f.name)).find((e) => e !== undefined)
  if (!entry) {
    const what = flows.map((f) => f.title).join(' or ')
    const shown = wanted === undefined ? `<<${directive}>>` : `<<${directive} flow="${wanted}">>`
    throw new RenderError('ERR_CONFIG', `${shown} is used at ${loc} but ${what} is not configured`)
  }
  const flow = entry.definition.flow ?? ''
  for (const [name, value] of Object.entries(attrs)) {
    const problem = vocabulary.check(directive, name, value, flow)
    if (problem) {
      throw new RenderError(
        'ERR_ATTRIBUTE_VALUE',
        `bad value ${JSON.stringify(value)} for '${name}' on <<${directive}>> at ${loc} (${problem})`,
      )
    }
  }
  const missing = entry.definition.missing?.(entry.config, attrs)
  if (missing) throw new RenderError('ERR_CONFIG', `${missing} (${loc})`)
  return entry
}

/**
 * One keep-alive pool per vendor origin. Connect and header timeouts sit
 * inside the per-directive deadline, which is what bounds a page; they only
 * make a dead socket fail sooner (and bound a shared page fetch that has
 * outlived the render that started it).
 */
function defaultAgent(timeoutMs: number): Dispatcher {
  return new Agent({
    connect: { timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 10_000,
  })
}
