/**
 * What both Returning.AI flows share: the widget types the vendor documents,
 * the attributes `<<widget>>` takes in either flow, the community and the
 * optional reuse of a user's token within its life.
 */
import { oneOfOption, optionsObject } from '../../runtime/check.ts'
import { sharedToken } from '../../runtime/vendors/shared-tokens.ts'
import { resolveTokenCacheOptions, TokenCache, type TokenCacheOptions } from '../../runtime/vendors/token-cache.ts'
import type { Env, EmbedRequest, SlotSize, VendorServices } from '../define.ts'
import { identifier, oneOf, pixels, text } from '../rules.ts'

/** Widget types Returning.AI documents. Anything else never reaches a URL. */
export const WIDGET_TYPES = ['store', 'channel', 'milestone', 'social', 'currency', 'minigames'] as const
export type WidgetType = (typeof WIDGET_TYPES)[number]

/** The attributes that mean the same in both flows (SPEC "Directives"). */
export const WIDGET_ATTRIBUTES = {
  type: oneOf(WIDGET_TYPES),
  id: identifier,
  color: oneOf(['light', 'dark']),
  title: text,
  height: pixels,
}

/**
 * The room a widget takes in the page: its `height` (the rules made it a
 * whole number of pixels), else `defaultHeight` when the flow's element has
 * one of its own, else unknown.
 */
export function widgetSlot(attrs: Readonly<Record<string, string>>, defaultHeight?: number): SlotSize | undefined {
  const height = attrs['height'] ? Number(attrs['height']) : defaultHeight
  return height === undefined ? undefined : { height }
}

/** Reuse of a user's Returning.AI token until shortly before it expires: the token cache's options users set. */
export type TokenReuseOptions = Pick<TokenCacheOptions, 'maxEntries' | 'refreshBeforeExpiryMs'>

export type ResolvedTokenReuse = Required<TokenReuseOptions> | false

/** `true` is `{}`; `false` or unset is off. */
export function resolveTokenReuse(value: TokenReuseOptions | boolean | undefined, path: string): ResolvedTokenReuse {
  if (value === undefined || value === false) return false
  const { maxEntries, refreshBeforeExpiryMs } = resolveTokenCacheOptions(
    value === true ? {} : (optionsObject(path, value) ?? {}),
    path,
  )
  return { maxEntries, refreshBeforeExpiryMs }
}

/** `EMBEDS_REUSE_WIDGET_TOKENS=1` turns token reuse on (SPEC). */
export function tokenReuseFromEnv(env: Env): boolean {
  return env['EMBEDS_REUSE_WIDGET_TOKENS'] === '1'
}

/** The widget type: `WIDGET_TYPE` or `store`, one the vendor documents. */
export function widgetTypeFromEnv(env: Env): WidgetType {
  return oneOfOption('WIDGET_TYPE', (env['WIDGET_TYPE'] || 'store') as WidgetType, WIDGET_TYPES)
}

/** A user's reusable tokens: this instance's cache, and the vendor's entries in the shared store when there is one. */
export interface ReusedTokens {
  cache: TokenCache
  refreshBeforeExpiryMs: number
  /** The adapter's name, which keeps two vendors' tokens apart in the shared store. */
  vendor: string
}

/** Reused tokens when reuse is on. */
export function tokenCache(
  reuse: ResolvedTokenReuse,
  services: VendorServices,
  vendor: string,
): ReusedTokens | undefined {
  if (!reuse) return undefined
  return {
    cache: new TokenCache({ ...reuse, now: services.now }),
    refreshBeforeExpiryMs: reuse.refreshBeforeExpiryMs,
    vendor,
  }
}

/**
 * The user's token: reused while still valid when reuse is on, else minted
 * for this render. Tokens are kept by an opaque key of the user; with a
 * shared store, a local miss looks there before minting, and a minted token
 * is stored (sealed) for the other instances.
 */
export function userToken(
  request: Pick<EmbedRequest<unknown, unknown>, 'user' | 'signal'>,
  cache: { tokens: ReusedTokens | undefined; services: VendorServices; kind: string },
  mint: () => Promise<string>,
): Promise<string> {
  const { tokens, services, kind } = cache
  if (!tokens) return mint()
  services.cacheLookup(kind)
  const userKey = services.userKey(request.user)
  const minted = () => {
    services.cacheMiss(kind)
    return mint()
  }
  const { shared } = services
  return tokens.cache.get(userKey, () => {
    if (!shared) return minted()
    // A token found in the store is a hit: only a real mint counts as a miss.
    return sharedToken({
      shared,
      vendor: tokens.vendor,
      userKey,
      refreshBeforeExpiryMs: tokens.refreshBeforeExpiryMs,
      deadlineMs: services.timeoutMs,
      signal: request.signal,
      now: services.now,
      mint: minted,
    })
  })
}
