/**
 * Runtime options, typed twice (STYLE rule 3): `EmbedsOptions` is what users
 * write, `ResolvedEmbedsOptions` is what the code reads, with defaults filled
 * in exactly once by `resolveOptions()`.
 */
import { Agent, type Dispatcher } from 'undici'
import { pino } from 'pino'
import { WIDGET_TYPES, type WidgetType } from '../directives.ts'
import {
  createState,
  type BreakerOptions,
  type LazyRateLimitOptions,
  type RuntimeState,
  type TokenReuseOptions,
  type WidgetPageCacheOptions,
} from './state.ts'

/** The logger calls the runtime makes; a pino logger fits, and so does any object with these methods. */
export interface EmbedsLogger {
  warn(fields: Record<string, unknown>, message: string): void
  info(fields: Record<string, unknown>, message: string): void
}

/** Returning.AI, server-side proxy flow. */
export interface ReturningOptions {
  /** @default 'https://prod-widgets.returning.ai' */
  baseUrl?: string
  /** Sent as `returningai-api-key`; never leaves the server. */
  apiKey: string
  /** The community whose users sign in. */
  communityId: string
  /** Used when `<<widget>>` has no `type`. @default 'store' */
  widgetType?: WidgetType
  /** Used when `<<widget>>` has no `id`. */
  widgetId?: string
}

/** Caramelo AI, authenticated (server-to-server) flow. */
export interface CarameloOptions {
  /** @default 'https://api.carameloai.com' */
  apiUrl?: string
  /** The authenticated SDK script. @default 'https://static.carameloai.com/sdk/latest/authenticated.js' */
  sdkUrl?: string
  /** Used when `<<caramelo>>` has no `project`. */
  projectId?: string
  /** Sent as `secret_token`; never leaves the server. */
  secretToken: string
}

export interface EmbedsOptions {
  /** Omit to leave `<<widget>>` unconfigured (rendering one is then an error). */
  returning?: ReturningOptions
  /** Omit to leave `<<caramelo>>` unconfigured (rendering one is then an error). */
  caramelo?: CarameloOptions
  /**
   * Deadline for everything one directive does (all its vendor calls).
   * @default 2000
   */
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
   * Keys that sign the URLs of lazy widget frames (an HMAC over type, id,
   * colour and fallback), so the lazy route serves only frames the app's own
   * templates rendered. The first key signs, all verify: rotate by putting a
   * new key first. Several instances behind one load balancer need the same
   * keys; at least 16 characters each.
   * @default a random key for this process
   */
  lazySigningKeys?: string[]
  /**
   * How many lazy widget frames one user may load per window; past it the
   * route answers 429 with `Retry-After` and calls no vendor. `false` turns
   * it off.
   * @default { requests: 60, perMs: 60000 }
   */
  lazyRateLimit?: LazyRateLimitOptions | false
  /**
   * Cache of the widget page, which is the same for every user (tokens are
   * put in per render). Kept for our TTL whatever the vendor's `Cache-Control`
   * says, unless `honorVendorCacheControl` is set. `false` fetches it on every
   * render. @default {}
   */
  widgetPageCache?: WidgetPageCacheOptions | false
  /**
   * Reuse a user's Returning.AI token until shortly before its `exp`, instead
   * of signing in on every render. Caramelo tokens are single-use and never
   * reused. @default false
   */
  reuseWidgetTokens?: TokenReuseOptions | boolean
  /** Per-vendor circuit breaker; `false` turns it off. @default {} */
  breaker?: BreakerOptions | false
  /** Clock (milliseconds) for the breaker and the token cache. @default Date.now */
  now?: () => number
}

export interface ResolvedEmbedsOptions {
  returning:
    (Required<Omit<ReturningOptions, 'widgetId'>> & { widgetId: string | undefined; origin: string }) | undefined
  caramelo: (Required<Omit<CarameloOptions, 'projectId'>> & { projectId: string | undefined }) | undefined
  timeoutMs: number
  maxResponseBytes: number
  dispatcher: Dispatcher
  logger: EmbedsLogger
  lazyPath: string
  /** Caches, breakers and counters, shared by every render of this runtime. */
  state: RuntimeState
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback
  if (!Number.isInteger(v) || v <= 0)
    throw new TypeError(`options.${name} must be a positive integer, got ${String(value)}`)
  return v
}

function httpUrl(name: string, value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new TypeError(`options.${name} must be an absolute http(s) URL, got '${withoutUserInfo(value)}'`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`options.${name} must be an http(s) URL, got '${withoutUserInfo(value)}'`)
  }
  // A vendor URL reaches browsers (`<base href>`, a script's `src`), so
  // credentials in it would be served to every user: refuse, never strip
  // silently (the vendor would then answer 401 with no clue why).
  if (url.username || url.password) {
    throw new TypeError(
      `options.${name} must not contain a user name or password, got '${withoutUserInfo(value)}' ` +
        '(vendor URLs are sent to browsers; pass credentials in the vendor options instead)',
    )
  }
  return url.href.replace(/\/+$/, '')
}

/** `value` with anything before an `@` in its authority masked: error messages never repeat a password. */
function withoutUserInfo(value: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value)?.[0] ?? ''
  const rest = value.slice(scheme.length)
  const authorityEnd = rest.search(/[/?#]/)
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd)
  const at = authority.lastIndexOf('@')
  return at === -1 ? value : `${scheme}***${rest.slice(at)}`
}

function required(name: string, value: string | undefined): string {
  if (!value) throw new TypeError(`options.${name} is required`)
  return value
}

function resolveReturning(o: ReturningOptions | undefined): ResolvedEmbedsOptions['returning'] {
  if (!o) return undefined
  const baseUrl = httpUrl('returning.baseUrl', o.baseUrl ?? 'https://prod-widgets.returning.ai')
  const widgetType = o.widgetType ?? 'store'
  if (!WIDGET_TYPES.includes(widgetType)) {
    throw new TypeError(`options.returning.widgetType must be one of ${WIDGET_TYPES.join(', ')}, got '${widgetType}'`)
  }
  return {
    baseUrl,
    origin: new URL(baseUrl).origin,
    apiKey: required('returning.apiKey', o.apiKey),
    communityId: required('returning.communityId', o.communityId),
    widgetType,
    widgetId: o.widgetId || undefined,
  }
}

function resolveCaramelo(o: CarameloOptions | undefined): ResolvedEmbedsOptions['caramelo'] {
  if (!o) return undefined
  return {
    apiUrl: httpUrl('caramelo.apiUrl', o.apiUrl ?? 'https://api.carameloai.com'),
    sdkUrl: httpUrl('caramelo.sdkUrl', o.sdkUrl ?? 'https://static.carameloai.com/sdk/latest/authenticated.js'),
    projectId: o.projectId || undefined,
    secretToken: required('caramelo.secretToken', o.secretToken),
  }
}

/** Checks a route option (`lazyPath`, `metricsPath`): an absolute URL path, `example` shows one. */
export function urlPath(name: string, path: string, example: string): string {
  if (!/^\/[A-Za-z0-9_\-/.]*$/.test(path) || path.includes('//') || path.includes('..')) {
    throw new TypeError(`options.${name} must be an absolute URL path such as '${example}', got '${path}'`)
  }
  return path
}

function signingKeys(value: string[] | undefined): Buffer[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || !value.length) {
    throw new TypeError('options.lazySigningKeys must be a non-empty array of strings')
  }
  return value.map((key, i) => {
    if (typeof key !== 'string' || key.length < 16) {
      throw new TypeError(`options.lazySigningKeys[${i}] must be at least 16 characters (use 32 random bytes)`)
    }
    return Buffer.from(key)
  })
}

function lazyRateLimit(value: LazyRateLimitOptions | false | undefined): Required<LazyRateLimitOptions> | false {
  if (value === false) return false
  const requests = positiveInteger('lazyRateLimit.requests', value?.requests, 60)
  const perMs = value?.perMs ?? 60_000
  // The limiter counts in whole seconds.
  if (!Number.isInteger(perMs) || perMs < 1000) {
    throw new TypeError(`options.lazyRateLimit.perMs must be an integer of at least 1000, got ${String(value?.perMs)}`)
  }
  return { requests, perMs }
}

/** Fills defaults and validates; throws a `TypeError` naming the bad option. */
export function resolveOptions(options: EmbedsOptions): ResolvedEmbedsOptions {
  const timeoutMs = positiveInteger('timeoutMs', options.timeoutMs, 2000)
  const maxResponseBytes = positiveInteger('maxResponseBytes', options.maxResponseBytes, 1024 * 1024)
  const dispatcher = options.dispatcher ?? defaultAgent(timeoutMs)
  const logger = options.logger ?? pino({ name: 'eta-embeds' })
  const state = createState({
    dispatcher,
    logger,
    maxResponseBytes,
    timeoutMs,
    widgetPageCache: options.widgetPageCache ?? {},
    reuseWidgetTokens: options.reuseWidgetTokens === true ? {} : (options.reuseWidgetTokens ?? false),
    breaker: options.breaker ?? {},
    now: options.now ?? Date.now,
    lazySigningKeys: signingKeys(options.lazySigningKeys),
    lazyRateLimit: lazyRateLimit(options.lazyRateLimit),
  })
  return {
    returning: resolveReturning(options.returning),
    caramelo: resolveCaramelo(options.caramelo),
    timeoutMs,
    maxResponseBytes,
    dispatcher,
    logger,
    lazyPath: urlPath('lazyPath', options.lazyPath ?? '/_embeds/widget', '/_embeds/widget'),
    state,
  }
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
