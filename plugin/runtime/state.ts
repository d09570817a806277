/**
 * What the runtime keeps between requests: counters, one circuit breaker per
 * vendor, the shared widget-page cache and the optional token cache. All of
 * it is per process (per instance behind a load balancer).
 */
import { createHmac, randomBytes } from 'node:crypto'
import { RateLimiterMemory } from 'rate-limiter-flexible'
import type { Dispatcher } from 'undici'
import { CircuitBreaker } from './breaker.ts'
import { LazyUrlSigner } from './lazy-url.ts'
import { EmbedsMetrics } from './metrics.ts'
import { widgetPageDispatcher, type WidgetPageCacheOptions as PageDispatcherOptions } from './page-cache.ts'
import { TokenCache } from './token-cache.ts'
import type { EmbedsLogger } from './options.ts'
import type { EmbedsUser } from './user.ts'

export type VendorName = 'returning' | 'caramelo'

/**
 * Widget-page cache settings (the page is the same for every user): the
 * options of `widgetPageDispatcher` that users set, documented there once;
 * the runtime sets the others itself.
 */
export type WidgetPageCacheOptions = Pick<
  PageDispatcherOptions,
  'ttlMs' | 'honorVendorCacheControl' | 'staleWhileRevalidateMs' | 'maxEntries'
>

/** Reuse of Returning.AI tokens per verified user, until shortly before they expire. */
export interface TokenReuseOptions {
  /** Users whose token is kept at most (least recently used dropped first). @default 1000 */
  maxEntries?: number
  /** A token is not reused within this long of its `exp`. @default 30000 */
  refreshBeforeExpiryMs?: number
}

/** Per-vendor circuit breaker settings. */
export interface BreakerOptions {
  /** Consecutive failures that open the breaker. @default 5 */
  failureThreshold?: number
  /** How long an open breaker refuses calls before one probe. @default 30000 */
  cooldownMs?: number
}

/** A per-user budget on the lazy-widget route. */
export interface LazyRateLimitOptions {
  /** Frames one user may load per window. @default 60 */
  requests?: number
  /** The window, in milliseconds. @default 60000 */
  perMs?: number
}

export interface RuntimeState {
  metrics: EmbedsMetrics
  breakers: Record<VendorName, CircuitBreaker | undefined>
  /** The dispatcher for the widget page GET only: cached, single-flight, one retry. */
  pageDispatcher: Dispatcher
  /** Whether `pageDispatcher` caches (counted as lookups in the metrics). */
  pageCached: boolean
  /** Set when token reuse is on. */
  tokens: TokenCache | undefined
  /** The token cache's key for a user: an HMAC, so the cache never holds an email. */
  tokenKey(user: EmbedsUser): string
  /** Signs the lazy frames' URLs, and checks them on the lazy route. */
  lazyUrls: LazyUrlSigner
  /** Per-user budget on the lazy route (keyed by `tokenKey`); unset when off. */
  lazyLimiter: RateLimiterMemory | undefined
}

export interface StateInputs {
  dispatcher: Dispatcher
  logger: EmbedsLogger
  maxResponseBytes: number
  timeoutMs: number
  widgetPageCache: WidgetPageCacheOptions | false
  reuseWidgetTokens: TokenReuseOptions | false
  breaker: BreakerOptions | false
  now: () => number
  /** Validated keys; `undefined` makes a random one for this process. */
  lazySigningKeys: Buffer[] | undefined
  /** Validated, defaults filled. */
  lazyRateLimit: Required<LazyRateLimitOptions> | false
}

export function createState(inputs: StateInputs): RuntimeState {
  const metrics = new EmbedsMetrics()
  const breaker = (vendor: VendorName): CircuitBreaker | undefined => {
    if (!inputs.breaker) return undefined
    metrics.breakerState(vendor, 'closed')
    return new CircuitBreaker({
      ...inputs.breaker,
      now: inputs.now,
      onChange: (from, to) => {
        metrics.breakerState(vendor, to)
        inputs.logger.warn({ vendor, from, to }, `circuit breaker ${to}`)
      },
    })
  }
  const pageDispatcher = inputs.widgetPageCache
    ? widgetPageDispatcher(inputs.dispatcher, {
        ...inputs.widgetPageCache,
        maxEntryBytes: inputs.maxResponseBytes,
        // Several render deadlines: long enough to finish a slow page for the
        // cache, short enough that a trickling vendor cannot hold a socket.
        maxFetchMs: 5 * inputs.timeoutMs,
        onUpstream: () => metrics.cacheMiss('widget_page'),
      })
    : inputs.dispatcher
  const keySecret = randomBytes(32)
  return {
    metrics,
    breakers: { returning: breaker('returning'), caramelo: breaker('caramelo') },
    pageDispatcher,
    pageCached: inputs.widgetPageCache !== false,
    tokens: inputs.reuseWidgetTokens ? new TokenCache({ ...inputs.reuseWidgetTokens, now: inputs.now }) : undefined,
    tokenKey: (user) => createHmac('sha256', keySecret).update(`${user.id}\u0000${user.email}`).digest('base64url'),
    lazyUrls: new LazyUrlSigner(inputs.lazySigningKeys ?? [randomBytes(32)]),
    lazyLimiter: inputs.lazyRateLimit ? lazyLimiter(inputs.lazyRateLimit) : undefined,
  }
}

function lazyLimiter({ requests, perMs }: Required<LazyRateLimitOptions>): RateLimiterMemory {
  // In memory, per instance: a budget that only bounds one user's pace.
  return new RateLimiterMemory({ points: requests, duration: perMs / 1000 })
}
