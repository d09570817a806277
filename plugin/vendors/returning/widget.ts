/**
 * What both Returning.AI flows share: the widget types the vendor documents,
 * the attributes `<<widget>>` takes in either flow, the community and the
 * optional reuse of a user's token within its life.
 */
import { oneOfOption, optionsObject } from '../../runtime/check.ts'
import { resolveTokenCacheOptions, TokenCache, type TokenCacheOptions } from '../../runtime/vendors/token-cache.ts'
import type { Env, EmbedRequest, VendorServices } from '../define.ts'
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

/** A token cache when reuse is on, counted as `kind` in the metrics. */
export function tokenCache(reuse: ResolvedTokenReuse, services: VendorServices): TokenCache | undefined {
  return reuse ? new TokenCache({ ...reuse, now: services.now }) : undefined
}

/**
 * The user's token: reused while still valid when a cache is given, else
 * minted for this render. Tokens are kept by an opaque key of the user.
 */
export function userToken(
  request: Pick<EmbedRequest<unknown, unknown>, 'user'>,
  cache: { tokens: TokenCache | undefined; services: VendorServices; kind: string },
  mint: () => Promise<string>,
): Promise<string> {
  const { tokens, services, kind } = cache
  if (!tokens) return mint()
  services.cacheLookup(kind)
  return tokens.get(services.userKey(request.user), () => {
    services.cacheMiss(kind)
    return mint()
  })
}
