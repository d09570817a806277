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
import { CircuitBreaker } from './vendors/breaker.ts'
import { LazyUrlSigner } from './vendors/lazy-url.ts'
import { SharedBreaker } from './vendors/shared-breaker.ts'
import { Sealer } from './store/seal.ts'
import { SharedState } from './store/shared.ts'

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
  const metrics = new EmbedsMetrics(options.vendors.flatMap((v) => v.definition.caches ?? []))
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
    cacheLookup: (kind) => metrics.cacheLookup(kind),
    cacheMiss: (kind) => metrics.cacheMiss(kind),
  }
  const vendors = new Map<string, VendorEntry>()
  for (const { definition, config } of options.vendors) {
    vendors.set(definition.name, {
      definition,
      config,
      resources: definition.create?.(config, services),
      breaker: breakerFor(definition.name, options, metrics, logger),
      sharedBreaker:
        shared && options.breaker
          ? new SharedBreaker(shared, {
              vendor: definition.name,
              cooldownMs: options.breaker.cooldownMs,
              deadlineMs: options.timeoutMs,
              now: options.now,
            })
          : undefined,
    })
  }
  return {
    options,
    logger,
    metrics,
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
    close: async () => {
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
  vendor: string,
  options: ResolvedEmbedsOptions,
  metrics: EmbedsMetrics,
  logger: EmbedsLogger,
): CircuitBreaker | undefined {
  if (!options.breaker) return undefined
  metrics.breakerState(vendor, 'closed')
  return new CircuitBreaker({
    ...options.breaker,
    now: options.now,
    onChange: (from, to) => {
      metrics.breakerState(vendor, to)
      logger.warn({ vendor, from, to }, `circuit breaker ${to}`)
    },
  })
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
