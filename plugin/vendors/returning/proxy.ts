/**
 * Returning.AI, server-side proxy flow (SPEC "Vendor flows"): sign the user in
 * server-to-server, fetch the widget page, put the token into its placeholder
 * and hand the page to the browser inside `<iframe srcdoc>` — or, with
 * `loading="lazy"`, from the runtime's lazy route.
 */
import type { Dispatcher } from 'undici'
import { VendorError } from '../../errors.ts'
import { httpUrl, oneOfOption, optionsObject, required } from '../../runtime/check.ts'
import { escapeHtml } from '../../runtime/encode.ts'
import {
  checkWidgetPageCacheOptions,
  widgetPageDispatcher,
  type WidgetPageCacheOptions,
} from '../../runtime/http/page-cache.ts'
import { SharedPageCache } from '../../runtime/http/page-cache-shared.ts'
import { parseJson } from '../../runtime/http/request.ts'
import { isJwtShaped } from '../../runtime/vendors/token-cache.ts'
import { defineVendor, type EmbedRequest, type Env, type VendorServices } from '../define.ts'
import { hasOnePlaceholder, injectToken, withBaseAndNonce } from './page.ts'
import {
  resolveTokenReuse,
  tokenCache,
  tokenReuseFromEnv,
  userToken,
  WIDGET_ATTRIBUTES,
  WIDGET_TYPES,
  widgetSlot,
  widgetTypeFromEnv,
  type ResolvedTokenReuse,
  type ReusedTokens,
  type TokenReuseOptions,
  type WidgetType,
} from './widget.ts'

const VENDOR = 'returning-proxy'
// Printable ASCII without spaces: what an HTTP header value can carry unambiguously.
const HEADER_SAFE_EMAIL = /^[\x21-\x7e]+@[\x21-\x7e]+$/
// The widget runs in an opaque origin: it cannot read our cookies or DOM.
const SANDBOX = 'allow-scripts allow-forms allow-popups'

/**
 * Widget-page cache settings (the page is the same for every user): the
 * options of the page dispatcher that users set, documented there once.
 */
export type PageCacheOptions = Pick<
  WidgetPageCacheOptions,
  'ttlMs' | 'honorVendorCacheControl' | 'staleWhileRevalidateMs' | 'maxEntries'
>

/** Returning.AI, server-side proxy flow. */
export interface ReturningProxyOptions {
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
  /**
   * Cache of the widget page, which is the same for every user (tokens are
   * put in per render). Kept for our TTL whatever the vendor's `Cache-Control`
   * says, unless `honorVendorCacheControl` is set. `false` fetches it on
   * every render. @default {}
   */
  pageCache?: PageCacheOptions | false
  /** Reuse a user's token until shortly before its `exp` instead of signing in on every render. @default false */
  reuseTokens?: TokenReuseOptions | boolean
}

interface Config {
  baseUrl: string
  origin: string
  apiKey: string
  communityId: string
  widgetType: WidgetType
  widgetId: string | undefined
  pageCache: PageCacheOptions | false
  reuseTokens: ResolvedTokenReuse
}

interface Resources {
  /** The dispatcher for the widget page GET only: cached, single-flight, one retry. */
  pages: Dispatcher | undefined
  /** With a shared store: the page fetched once per TTL for every instance. */
  sharedPages: SharedPageCache | undefined
  tokens: ReusedTokens | undefined
  services: VendorServices
}

type Request = EmbedRequest<Config, Resources>

export const returningProxy = defineVendor<ReturningProxyOptions, Config, Resources>({
  name: VENDOR,
  directive: 'widget',
  flow: 'proxy',
  title: 'Returning.AI (proxy flow)',
  attributes: WIDGET_ATTRIBUTES,
  secretEnvNames: ['WIDGET_API_KEY'],
  caches: ['widget_page', 'widget_token'],

  fromEnv(env: Env): ReturningProxyOptions | undefined {
    const apiKey = env['WIDGET_API_KEY']
    if (!apiKey) return undefined
    const communityId = env['WIDGET_COMMUNITY_ID']
    if (!communityId) throw new TypeError('WIDGET_COMMUNITY_ID is required when WIDGET_API_KEY is set')
    return {
      baseUrl: env['WIDGET_BASE_URL'] || undefined,
      apiKey,
      communityId,
      widgetType: widgetTypeFromEnv(env),
      widgetId: env['WIDGET_ID'] || undefined,
      pageCache: pageCacheFromEnv(env),
      reuseTokens: tokenReuseFromEnv(env),
    }
  },

  resolve(o, path) {
    const baseUrl = httpUrl(`${path}.baseUrl`, o.baseUrl ?? 'https://prod-widgets.returning.ai')
    const pageCache = o.pageCache === false ? false : (optionsObject(`${path}.pageCache`, o.pageCache) ?? {})
    if (pageCache) checkWidgetPageCacheOptions(pageCache, `${path}.pageCache`)
    return {
      baseUrl,
      origin: new URL(baseUrl).origin,
      apiKey: required(`${path}.apiKey`, o.apiKey),
      communityId: required(`${path}.communityId`, o.communityId),
      widgetType: oneOfOption(`${path}.widgetType`, o.widgetType ?? 'store', WIDGET_TYPES),
      widgetId: o.widgetId || undefined,
      pageCache,
      reuseTokens: resolveTokenReuse(o.reuseTokens, `${path}.reuseTokens`),
    }
  },

  missing(config, attrs) {
    return attrs['id'] || config.widgetId ? undefined : "<<widget>> has no 'id' and WIDGET_ID is not set"
  },

  origins: (config) => [config.origin],

  // An iframe without a height is 150 pixels high (HTML's default).
  slot: (_config, attrs) => widgetSlot(attrs, 150),

  create(config, services) {
    const { shared } = services
    const pages = config.pageCache
      ? widgetPageDispatcher(services.dispatcher, {
          ...config.pageCache,
          maxEntryBytes: services.maxResponseBytes,
          // Several render deadlines: long enough to finish a slow page for the
          // cache, short enough that a trickling vendor cannot hold a socket.
          maxFetchMs: 5 * services.timeoutMs,
          onUpstream: () => services.cacheMiss('widget_page'),
          // With a shared store, the shared layer keeps the pages (in memory too).
          localCache: !shared,
        })
      : undefined
    const sharedPages =
      config.pageCache && shared
        ? new SharedPageCache({
            shared,
            ttlMs: config.pageCache.ttlMs ?? 60_000,
            maxEntries: config.pageCache.maxEntries ?? 500,
            maxEntryBytes: services.maxResponseBytes,
            deadlineMs: services.timeoutMs,
            now: services.now,
            valid: hasOnePlaceholder,
          })
        : undefined
    return { pages, sharedPages, tokens: tokenCache(config.reuseTokens, services, VENDOR), services }
  },

  async embed(request) {
    const document = await widgetDocument(request)
    return `${frameOpening(request.attributes)} srcdoc="${escapeHtml(document)}"></iframe>`
  },

  lazy: {
    document: widgetDocument,
    // Only the widget's attributes travel in the URL, signed by the runtime:
    // never a token or anything about the user.
    frame: (src, attrs) => `${frameOpening(attrs)} loading="lazy" src="${escapeHtml(src)}"></iframe>`,
    // `sandbox` makes the document an opaque origin even when opened as a
    // top-level page (a link will do, the cookie being SameSite=Lax), so the
    // vendor's scripts, which carry our nonce, can never act as us.
    csp: [`sandbox ${SANDBOX}`],
  },
})

/** `EMBEDS_WIDGET_PAGE_CACHE`: unset caches for our TTL, `vendor` lets the vendor's `Cache-Control` decide, `off` never caches. */
function pageCacheFromEnv(env: Env): PageCacheOptions | false {
  const raw = env['EMBEDS_WIDGET_PAGE_CACHE'] ?? ''
  if (raw === '') return {}
  if (raw === 'vendor') return { honorVendorCacheControl: true }
  if (raw === 'off') return false
  throw new TypeError(`EMBEDS_WIDGET_PAGE_CACHE must be 'vendor' or 'off' when set, got '${raw}'`)
}

function frameOpening(attrs: Readonly<Record<string, string>>): string {
  const title = escapeHtml(attrs['title'] ?? 'Returning.AI widget')
  const height = attrs['height'] ? ` height="${attrs['height']}"` : ''
  return `<iframe class="eta-embeds-widget" title="${title}"${height} sandbox="${SANDBOX}" referrerpolicy="no-referrer"`
}

/**
 * The widget's document for the request's user: the vendor page with the
 * user's token in its placeholder, a `<base href>` to the vendor and the
 * page's nonce on every script. Inline (`srcdoc`) and on the lazy route.
 */
async function widgetDocument(request: Request): Promise<string> {
  const { config, attributes: attrs } = request
  const id = attrs['id'] ?? config.widgetId ?? ''
  const documentUrl = new URL(
    `${config.baseUrl}/${encodeURIComponent(attrs['type'] ?? config.widgetType)}/${encodeURIComponent(id)}`,
  )
  const pageUrl = new URL(documentUrl)
  pageUrl.searchParams.set('color', attrs['color'] ?? 'light')
  if (!HEADER_SAFE_EMAIL.test(request.user.email)) {
    // Refused before any call (the page included): the value would travel in the `email` header.
    throw new VendorError(VENDOR, 'ERR_VENDOR_INPUT', "the user's email cannot be sent in an HTTP header")
  }
  const { resources } = request
  const kind = 'widget_token'
  // The sign-in and the page do not depend on each other: ask for both at once.
  const [token, page] = await Promise.all([
    userToken(request, { tokens: resources.tokens, services: resources.services, kind }, () => signIn(request)),
    fetchPage(request, pageUrl),
  ])
  return withBaseAndNonce(injectToken(page, token), documentUrl.href, request.nonce)
}

async function signIn(request: Request): Promise<string> {
  const { config } = request
  const answer = await request.http({
    url: new URL(`${config.baseUrl}/widget/${encodeURIComponent(config.communityId)}/signin`),
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'returningai-api-key': config.apiKey,
      email: request.user.email,
    },
  })
  const token = (parseJson(VENDOR, answer) as { token?: unknown } | null)?.token
  if (!isJwtShaped(token)) {
    throw new VendorError(VENDOR, 'ERR_VENDOR_BODY', `${VENDOR} sign-in answer has no JWT-shaped 'token'`, {
      status: answer.status,
    })
  }
  return token
}

/** The widget page, the same for every user: through the page cache when it is on. */
async function fetchPage(request: Request, url: URL): Promise<string> {
  const { pages, sharedPages, services } = request.resources
  if (pages) services.cacheLookup('widget_page')
  const get = () => request.http({ url, method: 'GET', ...(pages ? { dispatcher: pages } : {}) })
  const answer = sharedPages ? await sharedPages.get(url.href, request.signal, get) : await get()
  if (!/^text\/html\b/i.test(answer.contentType)) {
    throw new VendorError(VENDOR, 'ERR_VENDOR_BODY', `${VENDOR} widget page is not text/html`, {
      status: answer.status,
    })
  }
  return answer.text
}
