/**
 * The Returning.AI widget page (`GET {WIDGET_BASE_URL}/{type}/{id}?color=…`)
 * is the same document for every user and carries no credential, so it is
 * cached (issue 4: "cache what is the same for everyone, never what is
 * personal"). The user's token is put into the page after it leaves this
 * cache, and the sign-in POST never goes through it.
 *
 * Built from undici's own interceptors, composed around the caller's
 * dispatcher. Requests flow, outside in:
 *
 *   detach → deduplicate → cache → deduplicate → freshness defaults → retry → base
 *
 * - detach (ours): a caller that gives up (its deadline, its page failed)
 *   leaves the shared request instead of aborting it (see detach.ts).
 * - `deduplicate` (outer): concurrent identical GETs share one answer, so a
 *   cold cache under load sends one request and stores the page once, not
 *   once per render.
 * - `cache`: RFC 9111 shared cache in memory, LRU-bounded.
 * - `deduplicate` (inner): the cache's background revalidations
 *   (stale-while-revalidate) are issued once per *render* that sees the stale
 *   page; this collapses those in flight at once into one upstream request.
 * - freshness defaults (ours): a vendor answer without `cache-control` or
 *   `expires` gets our TTL and stale-while-revalidate; anything but a 200 or
 *   304 is made uncacheable; counts upstream requests.
 * - `retry`: one retry on connection errors only.
 *
 * `Dispatcher.compose(a, b, c)` wraps right to left: the last interceptor
 * listed sees the request first (undici docs, "Dispatcher.compose"), so the
 * list below is written inside out.
 */
import { interceptors, type Dispatcher } from 'undici'
import type { IncomingHttpHeaders } from 'undici/types/header.js'
import { integer } from '../check.ts'
import { detachOnAbort } from './detach.ts'
import { ForwardingHandler } from './forwarding-handler.ts'
import { lifetimeLimit } from './lifetime.ts'
import { LruCacheStore } from './page-cache-store.ts'

export interface WidgetPageCacheOptions {
  /**
   * How long a page is fresh, in milliseconds (rounded up to whole seconds,
   * HTTP's precision). With `honorVendorCacheControl`, only for a page the
   * vendor sent without `cache-control`/`expires`.
   * @default 60_000
   */
  ttlMs?: number
  /**
   * Let the vendor's `cache-control`, `expires`, `pragma` and `vary` decide
   * (RFC 9111), our TTL applying only when it sends none. Off by default:
   * many servers send `no-store` on every HTML answer, which would fetch the
   * page on every render, while the widget page is the same for every user
   * and carries no token by the vendor's own docs.
   * @default false
   */
  honorVendorCacheControl?: boolean
  /**
   * How long after `ttlMs` a stale page is still served at once while one
   * background request refreshes it, in milliseconds (whole seconds). `0` turns
   * this off: a stale page is then fetched again before it is served.
   * @default 300_000
   */
  staleWhileRevalidateMs?: number
  /**
   * Most pages kept (one per type, id and color); the least recently used is dropped first.
   * @default 500
   */
  maxEntries?: number
  /**
   * Largest page stored, in bytes; a larger one is passed through uncached.
   * @default 1_048_576 (the runtime's default `maxResponseBytes`)
   */
  maxEntryBytes?: number
  /**
   * Called once for every request that really goes to the vendor (a miss, or
   * a revalidation), never for an answer from the cache; a retry is not a
   * second request. Use it to count misses: hits = page renders − upstream
   * (a render served stale while its page is refreshed in the background is a
   * hit, but the refresh is counted here, so this undercounts hits by one per
   * refresh). Called inside `dispatch`: it must not throw.
   */
  onUpstream?: () => void
  /**
   * Retry a GET once when the connection fails (`ECONNRESET`, `ECONNREFUSED`,
   * `EPIPE`, socket closed). Timeouts and HTTP error statuses are never retried.
   * @default true
   */
  retry?: boolean
  /**
   * The longest one upstream fetch may take, headers and body together. A
   * fetch outlives the render that started it (it goes on for the cache), so
   * this, not the render's deadline, is what finally stops a trickling vendor.
   * @default 10000
   */
  maxFetchMs?: number
  /**
   * Keep pages in this process (undici's cache). `false` when a shared layer
   * in front (page-cache-shared.ts) keeps them instead: the dispatcher then
   * only deduplicates, detaches, retries and counts the fetches.
   * @default true
   */
  localCache?: boolean
}

interface ResolvedWidgetPageCacheOptions {
  ttlSeconds: number
  staleWhileRevalidateSeconds: number
  maxEntries: number
  maxEntryBytes: number
  onUpstream: (() => void) | undefined
  retry: boolean
  maxFetchMs: number
  honorVendorCacheControl: boolean
  localCache: boolean
}

/** Checks the options; `path` names them in errors (`options.vendors[0].pageCache`). */
export function checkWidgetPageCacheOptions(options: WidgetPageCacheOptions, path = 'options'): void {
  resolveWidgetPageCacheOptions(options, path)
}

function resolveWidgetPageCacheOptions(
  options: WidgetPageCacheOptions,
  path = 'options',
): ResolvedWidgetPageCacheOptions {
  return {
    ttlSeconds: Math.ceil(integer(`${path}.ttlMs`, options.ttlMs, 60_000) / 1000),
    staleWhileRevalidateSeconds: Math.ceil(
      integer(`${path}.staleWhileRevalidateMs`, options.staleWhileRevalidateMs, 300_000, 0) / 1000,
    ),
    maxEntries: integer(`${path}.maxEntries`, options.maxEntries, 500),
    maxEntryBytes: integer(`${path}.maxEntryBytes`, options.maxEntryBytes, 1024 * 1024),
    maxFetchMs: integer(`${path}.maxFetchMs`, options.maxFetchMs, 10_000),
    onUpstream: options.onUpstream,
    retry: options.retry ?? true,
    honorVendorCacheControl: options.honorVendorCacheControl ?? false,
    localCache: options.localCache ?? true,
  }
}

/**
 * Wraps `base` (the runtime's `Agent`, or a `MockAgent` in tests) into a
 * dispatcher that caches, deduplicates and retries the widget page GET.
 * Use it for that GET only: the sign-in POST carries a user's email and
 * the API key, and must go through `base` directly.
 *
 * @example
 * const pages = widgetPageDispatcher(options.dispatcher, { onUpstream: () => metrics.cacheMiss('widget_page') })
 * await request(pageUrl, { dispatcher: pages, signal })
 */
export function widgetPageDispatcher(base: Dispatcher, options: WidgetPageCacheOptions = {}): Dispatcher {
  const o = resolveWidgetPageCacheOptions(options)
  const store = new LruCacheStore({ maxEntries: o.maxEntries, maxEntryBytes: o.maxEntryBytes })
  const chain: Dispatcher.DispatcherComposeInterceptor[] = [
    freshnessDefaults(defaultCacheControl(o), o.honorVendorCacheControl, o.onUpstream),
    ...(o.localCache
      ? [interceptors.deduplicate(), interceptors.cache({ store, methods: ['GET'], type: 'shared' })]
      : []),
    interceptors.deduplicate(),
    detachOnAbort(o.maxEntryBytes),
  ]
  if (o.retry) chain.unshift(retryConnectionErrorsOnce())
  // Innermost: each attempt that really goes upstream has a lifetime.
  chain.unshift(lifetimeLimit(o.maxFetchMs))
  return base.compose(chain)
}

function defaultCacheControl(o: ResolvedWidgetPageCacheOptions): string {
  const swr = o.staleWhileRevalidateSeconds > 0 ? `, stale-while-revalidate=${o.staleWhileRevalidateSeconds}` : ''
  return `public, max-age=${o.ttlSeconds}${swr}`
}

/** Statuses whose answer the cache may keep: the page itself, and the 304 that revalidates it. */
const STORABLE = new Set([200, 304])
/** What makes an answer storable, or sets its freshness, for undici's cache. */
const FRESHNESS_HEADERS = ['cache-control', 'expires', 'last-modified']
/**
 * What a vendor may say to keep its page out of a cache, or to make it
 * vary: replaced by our own `cache-control` unless the vendor is honoured.
 * `last-modified` and `etag` stay, so a revalidation can still be a 304.
 */
const VENDOR_CACHING_HEADERS = ['cache-control', 'expires', 'pragma', 'vary']

/** Our interceptor: our freshness on the page (or a default when honouring the vendor), none on errors, upstream counting. */
function freshnessDefaults(cacheControl: string, honorVendor: boolean, onUpstream: (() => void) | undefined) {
  return (dispatch: Dispatcher.Dispatch): Dispatcher.Dispatch =>
    (opts, handler) => {
      if (opts.method !== 'GET') return dispatch(opts, handler)
      onUpstream?.()
      return dispatch(opts, new FreshnessHandler(handler, cacheControl, honorVendor))
    }
}

/** Passes everything through, adjusting only the response headers the cache reads. */
class FreshnessHandler extends ForwardingHandler {
  constructor(
    inner: Dispatcher.DispatchHandler,
    private readonly cacheControl: string,
    private readonly honorVendor: boolean,
  ) {
    super(inner)
  }

  override onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    super.onResponseStart(controller, statusCode, this.adjust(statusCode, headers), statusMessage)
  }

  private adjust(statusCode: number, headers: IncomingHttpHeaders): IncomingHttpHeaders {
    if (!STORABLE.has(statusCode)) {
      // undici would keep e.g. a 500 that says `max-age=60`, or a 404 with
      // `last-modified`: an error page must never be served from the cache.
      // Removing the headers (rather than adding `no-store`) also keeps a
      // failed revalidation from deleting the good page still stored.
      if (!FRESHNESS_HEADERS.some((name) => name in headers)) return headers
      const stripped = { ...headers }
      for (const name of FRESHNESS_HEADERS) delete stripped[name]
      return stripped
    }
    if (this.honorVendor && ('cache-control' in headers || 'expires' in headers)) return headers
    const ours = { ...headers }
    for (const name of VENDOR_CACHING_HEADERS) delete ours[name]
    return { ...ours, 'cache-control': this.cacheControl }
  }
}

/** The connection failed before or while answering: worth one immediate retry. */
const CONNECTION_ERRORS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'UND_ERR_SOCKET'])

type RetryCallback = NonNullable<NonNullable<Parameters<typeof interceptors.retry>[0]>['retry']>

function retryConnectionErrorsOnce(): Dispatcher.DispatcherComposeInterceptor {
  const retry: RetryCallback = (error, { state }, callback) => {
    const code = (error as { code?: unknown }).code
    // undici's default retry also retries errors without a code, and waits
    // 500 ms first; a stale keep-alive socket is the usual cause, so retry at once.
    if (state.counter > 1 || typeof code !== 'string' || !CONNECTION_ERRORS.has(code)) {
      callback(error)
      return
    }
    callback(null)
  }
  return interceptors.retry({
    maxRetries: 1,
    methods: ['GET'],
    // HTTP statuses pass through untouched (and are never retried).
    statusCodes: [],
    errorCodes: [...CONNECTION_ERRORS],
    retry,
  })
}
