/**
 * Runtime options, typed twice (STYLE rule 3): `EmbedsOptions` is what users
 * write, `ResolvedEmbedsOptions` what the code reads, with defaults filled in
 * exactly once by `resolveOptions()`. Resolving checks and fills; it creates
 * nothing — `createRuntime()` (runtime.ts) makes the pools, the logger, the
 * caches and the breakers, and closes them.
 */
import type { Dispatcher } from 'undici'
import type { AnyVendorDefinition, ConfiguredVendor } from '../vendors/define.ts'
import { integer, optionsObject, urlPath } from './check.ts'
import type { MetricsOptions, MetricsRegistry } from './metrics.ts'
import { Sealer } from './store/seal.ts'
import type { SharedStore } from './store/store.ts'
import type { TracingOptions } from './tracing.ts'
import { resolveBreakerOptions, type CircuitBreakerOptions } from './vendors/breaker.ts'

/** The logger calls the runtime makes; a pino logger fits, and so does any object with these methods. */
export interface EmbedsLogger {
  warn(fields: Record<string, unknown>, message: string): void
  info(fields: Record<string, unknown>, message: string): void
  /** A failed render's line (`warn` when absent). */
  error?(fields: Record<string, unknown>, message: string): void
}

/** Per-vendor circuit breaker settings: the breaker's options users set. */
export type BreakerOptions = Pick<CircuitBreakerOptions, 'failureThreshold' | 'cooldownMs'>

/** A per-user budget on the lazy route. */
export interface LazyRateLimitOptions {
  /** Frames one user may load per window. @default 60 */
  requests?: number
  /** The window, in milliseconds (whole seconds). @default 60000 */
  perMs?: number
}

/** State shared by every instance of an app (caches, breakers, budgets), so a fleet acts as one. */
export interface SharedStateOptions {
  /**
   * Where it lives: a `RedisStore` for a fleet. Every call has a deadline;
   * while the store fails, each instance works from its own memory.
   */
  store: SharedStore
  /**
   * Secrets of 32 characters or more, the same on every instance: they
   * encrypt what is stored and name its keys (an HMAC), so the store never
   * holds a token or an email in clear. The first seals, all open: rotate by
   * putting a new one first.
   */
  secretKeys: readonly string[]
  /**
   * How often this instance reads the fleet's circuit breakers from the
   * store, in milliseconds: a breaker opened on another instance is open here
   * within this time. Pages never wait for that read.
   * @default 1000
   */
  breakerSyncMs?: number
}

export interface EmbedsOptions {
  /**
   * The vendors this app uses, each an adapter called with its options:
   * `[returningProxy({ … }), caramelo({ … })]`, or `vendorsFromEnv(process.env)`.
   * A directive whose vendor is missing here fails the render with a clear error.
   * @default []
   */
  vendors?: readonly ConfiguredVendor[]
  /** Deadline for everything one directive does (all its vendor calls), in milliseconds. @default 2000 */
  timeoutMs?: number
  /** Largest vendor answer read, in bytes. @default 1048576 */
  maxResponseBytes?: number
  /** undici dispatcher for vendor calls (inject a `MockAgent` in tests). @default a keep-alive `Agent` */
  dispatcher?: Dispatcher
  /** Where failures are logged, one line each. @default a pino logger on stdout */
  logger?: EmbedsLogger
  /**
   * Path of the session-authenticated route that serves `loading="lazy"`
   * widgets' documents (the Koa middleware answers it).
   * @default '/_embeds/widget'
   */
  lazyPath?: string
  /**
   * Keys that sign the URLs of lazy frames (an HMAC over the vendor and the
   * directive's attributes), so the lazy route serves only frames the app's
   * own templates rendered. The first key signs, all verify: rotate by putting
   * a new key first. Several instances behind one load balancer need the same
   * keys; at least 16 characters each.
   * @default a random key for this process
   */
  lazySigningKeys?: readonly string[]
  /**
   * How many lazy frames one user may load per window; past it the route
   * answers 429 with `Retry-After` and calls no vendor. `false` turns it off.
   * @default { requests: 60, perMs: 60000 }
   */
  lazyRateLimit?: LazyRateLimitOptions | false
  /** Per-vendor circuit breaker; `false` turns it off. @default {} */
  breaker?: BreakerOptions | false
  /** Clock (milliseconds) for the breakers and the token caches. @default Date.now */
  now?: () => number
  /**
   * Share state between instances through a store (see `SharedStateOptions`).
   * @default unset: every instance keeps its state in its own memory
   */
  shared?: SharedStateOptions
  /**
   * Where the metrics go: `{ registry }`, the app's prom-client `Registry`, so
   * one `/metrics` serves the app's and the runtime's.
   * @default {} (a registry of the runtime's own)
   */
  metrics?: MetricsOptions
  /**
   * Spans through `@opentelemetry/api` (recorded once the app installs an
   * OpenTelemetry SDK); `propagateToVendors` sends trace headers to vendors.
   * @default { propagateToVendors: false }
   */
  tracing?: TracingOptions
}

/** One configured vendor, its options checked. */
export interface ResolvedVendor {
  definition: AnyVendorDefinition
  config: unknown
}

export interface ResolvedEmbedsOptions {
  vendors: ResolvedVendor[]
  timeoutMs: number
  maxResponseBytes: number
  /** Unset: the runtime makes (and closes) its own pool. */
  dispatcher: Dispatcher | undefined
  /** Unset: the runtime makes a pino logger. */
  logger: EmbedsLogger | undefined
  lazyPath: string
  lazySigningKeys: Buffer[] | undefined
  lazyRateLimit: Required<LazyRateLimitOptions> | false
  breaker: Required<BreakerOptions> | false
  now: () => number
  shared: { store: SharedStore; secretKeys: readonly string[]; breakerSyncMs: number } | undefined
  metrics: { registry: MetricsRegistry | undefined }
  tracing: Required<TracingOptions>
}

/** Checks and fills defaults. Pure: creates nothing. Throws a `TypeError` naming the option by its full path. */
export function resolveOptions(options: EmbedsOptions): ResolvedEmbedsOptions {
  const breaker = options.breaker === false ? false : (optionsObject('options.breaker', options.breaker) ?? {})
  return {
    vendors: resolveVendors(options.vendors),
    timeoutMs: integer('options.timeoutMs', options.timeoutMs, 2000),
    maxResponseBytes: integer('options.maxResponseBytes', options.maxResponseBytes, 1024 * 1024),
    dispatcher: options.dispatcher,
    logger: options.logger,
    lazyPath: urlPath('options.lazyPath', options.lazyPath ?? '/_embeds/widget', '/_embeds/widget'),
    lazySigningKeys: signingKeys(options.lazySigningKeys),
    lazyRateLimit: lazyRateLimit(options.lazyRateLimit),
    breaker: breaker && pick(resolveBreakerOptions(breaker, 'options.breaker'), 'failureThreshold', 'cooldownMs'),
    now: options.now ?? Date.now,
    shared: sharedState(options.shared),
    metrics: metricsOptions(options.metrics),
    tracing: tracingOptions(options.tracing),
  }
}

const REGISTRY_METHODS = ['registerMetric', 'getSingleMetric', 'metrics'] as const

function metricsOptions(value: MetricsOptions | undefined): ResolvedEmbedsOptions['metrics'] {
  const registry = optionsObject('options.metrics', value)?.registry as Partial<MetricsRegistry> | undefined
  if (registry === undefined) return { registry: undefined }
  if (
    typeof registry !== 'object' ||
    registry === null ||
    REGISTRY_METHODS.some((m) => typeof registry[m] !== 'function')
  ) {
    throw new TypeError("options.metrics.registry must be a prom-client Registry, such as prom-client's register")
  }
  return { registry: registry as MetricsRegistry }
}

function tracingOptions(value: TracingOptions | undefined): Required<TracingOptions> {
  const propagateToVendors = optionsObject('options.tracing', value)?.propagateToVendors ?? false
  if (typeof propagateToVendors !== 'boolean') {
    throw new TypeError('options.tracing.propagateToVendors must be true or false')
  }
  return { propagateToVendors }
}

const STORE_METHODS = ['get', 'set', 'setIfAbsent', 'delete', 'increment', 'close'] as const

function sharedState(value: SharedStateOptions | undefined): ResolvedEmbedsOptions['shared'] {
  const o = optionsObject('options.shared', value)
  if (!o) return undefined
  const store = o.store as Partial<SharedStore> | undefined
  if (typeof store !== 'object' || store === null || STORE_METHODS.some((m) => typeof store[m] !== 'function')) {
    throw new TypeError('options.shared.store must be a SharedStore, such as new RedisStore({ url })')
  }
  // Checks the keys as the runtime will use them: lengths, and at least one.
  new Sealer(o.secretKeys, 'options.shared.secretKeys')
  return {
    store: o.store,
    secretKeys: [...o.secretKeys],
    breakerSyncMs: integer('options.shared.breakerSyncMs', o.breakerSyncMs, 1000),
  }
}

function resolveVendors(vendors: readonly ConfiguredVendor[] | undefined): ResolvedVendor[] {
  if (vendors === undefined) return []
  if (!Array.isArray(vendors)) throw new TypeError('options.vendors must be an array of configured vendor adapters')
  const names = new Set<string>()
  return vendors.map((vendor: ConfiguredVendor, i) => {
    const path = `options.vendors[${i}]`
    // An adapter is a function with a `definition` too: say what was forgotten.
    if (typeof vendor === 'function') {
      throw new TypeError(
        `${path} is an adapter that was not configured: call it with its options, such as caramelo({ … })`,
      )
    }
    if (typeof vendor?.definition?.resolve !== 'function') {
      throw new TypeError(`${path} must be a configured vendor adapter, such as returningProxy({ … })`)
    }
    const { definition } = vendor
    if (names.has(definition.name)) throw new TypeError(`${path}: vendor '${definition.name}' is configured twice`)
    names.add(definition.name)
    const given = optionsObject(path, vendor.options as object | undefined) ?? {}
    const config: unknown = definition.resolve(given, path)
    return { definition, config }
  })
}

function signingKeys(value: readonly string[] | undefined): Buffer[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || !value.length) {
    throw new TypeError('options.lazySigningKeys must be a non-empty array of strings')
  }
  return value.map((key: unknown, i) => {
    if (typeof key !== 'string' || key.length < 16) {
      throw new TypeError(`options.lazySigningKeys[${i}] must be at least 16 characters (use 32 random bytes)`)
    }
    return Buffer.from(key)
  })
}

function lazyRateLimit(value: LazyRateLimitOptions | false | undefined): Required<LazyRateLimitOptions> | false {
  if (value === false) return false
  const o = optionsObject('options.lazyRateLimit', value) ?? {}
  // The limiter counts in whole seconds.
  const perMs = integer('options.lazyRateLimit.perMs', o.perMs, 60_000, 1000)
  return { requests: integer('options.lazyRateLimit.requests', o.requests, 60), perMs }
}

function pick<T extends object, K extends keyof T>(from: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((key) => [key, from[key]])) as Pick<T, K>
}
