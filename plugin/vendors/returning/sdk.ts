/**
 * Returning.AI, Widget SDK with Access Key Embed (SPEC "Vendor flows" — the
 * vendor's recommended flow): trade the access key and the session user's
 * identifiers for a 15-minute embed token server-to-server, then render the
 * `<rai-…-widget>` element carrying it and, once per page, the SDK script.
 * Identity travels only inside the token: the element has no user data.
 */
import { VendorError } from '../../errors.ts'
import { httpUrl, oneOfOption, optionsObject, required } from '../../runtime/check.ts'
import { escapeHtml } from '../../runtime/encode.ts'
import { parseJson } from '../../runtime/http/request.ts'
import { isJwtShaped } from '../../runtime/vendors/token-cache.ts'
import { defineVendor, type EmbedRequest, type EmbedsUser, type Env, type VendorServices } from '../define.ts'
import { oneOf } from '../rules.ts'
import {
  resolveTokenReuse,
  tokenCache,
  tokenReuseFromEnv,
  userToken,
  WIDGET_ATTRIBUTES,
  widgetSlot,
  type ResolvedTokenReuse,
  type ReusedTokens,
  type TokenReuseOptions,
} from './widget.ts'

const VENDOR = 'returning-sdk'
/** The widget types the SDK has an element for. */
export const SDK_WIDGET_TYPES = ['store', 'channel', 'milestone', 'social', 'currency'] as const
export type SdkWidgetType = (typeof SDK_WIDGET_TYPES)[number]
// The vendor's identifier fields are `data-*` names configured per widget.
const IDENTIFIER_NAME = /^data-[a-z0-9][a-z0-9-]{0,62}$/
const USER_FIELDS = ['id', 'email', 'name', 'lang'] as const
type UserField = (typeof USER_FIELDS)[number]

/** Returning.AI, Widget SDK with Access Key Embed. */
export interface ReturningSdkOptions {
  /** The token API, and where the SDK validates tokens (`v2-api-url`). @default 'https://api-v2.returning.ai' */
  apiUrl?: string
  /** The Widget SDK script, loaded once per page with the page's nonce. */
  sdkUrl: string
  /** The access key pair's id. */
  accessId: string
  /** The access key; sent only server-to-server, never to a browser. */
  accessKey: string
  /** The community the widgets belong to (the same as the proxy flow's). */
  communityId: string
  /** Used when `<<widget>>` has no `type`. @default 'store' */
  widgetType?: SdkWidgetType
  /** The channel of a channel widget when `<<widget>>` has no `id`. */
  channelId?: string
  /**
   * Which field of the session user each `data-*` identifier the widget is
   * configured with at the vendor carries. Only the verified user's fields
   * can be named: identity never comes from the request.
   * @default { 'data-email': 'email', 'data-user-id': 'id' }
   */
  userIdentifiers?: Readonly<Record<string, UserField>>
  /** Bundle mode: the SDK renders the widgets in the page's light DOM from this bundle. */
  bundleUrl?: string
  /** Reuse a user's embed token until shortly before it expires instead of minting one per render. @default false */
  reuseTokens?: TokenReuseOptions | boolean
}

interface Config {
  apiUrl: string
  sdkUrl: string
  accessId: string
  accessKey: string
  communityId: string
  widgetType: SdkWidgetType
  channelId: string | undefined
  userIdentifiers: [string, UserField][]
  bundleUrl: string | undefined
  reuseTokens: ResolvedTokenReuse
}

interface Resources {
  tokens: ReusedTokens | undefined
  services: VendorServices
}

export const returningSdk = defineVendor<ReturningSdkOptions, Config, Resources>({
  name: VENDOR,
  directive: 'widget',
  flow: 'sdk',
  title: 'Returning.AI (Widget SDK flow)',
  attributes: { ...WIDGET_ATTRIBUTES, type: oneOf(SDK_WIDGET_TYPES) },
  secretEnvNames: ['RAI_ACCESS_KEY'],
  caches: ['sdk_token'],

  fromEnv(env: Env): ReturningSdkOptions | undefined {
    const accessKey = env['RAI_ACCESS_KEY']
    if (!accessKey) return undefined
    const need = (name: string): string => {
      const value = env[name]
      if (!value) throw new TypeError(`${name} is required when RAI_ACCESS_KEY is set`)
      return value
    }
    return {
      apiUrl: env['RAI_V2_API_URL'] || undefined,
      sdkUrl: need('RAI_SDK_URL'),
      accessId: need('RAI_ACCESS_ID'),
      accessKey,
      communityId: need('WIDGET_COMMUNITY_ID'),
      widgetType: oneOfOption('WIDGET_TYPE', (env['WIDGET_TYPE'] || 'store') as SdkWidgetType, SDK_WIDGET_TYPES),
      channelId: env['WIDGET_ID'] || undefined,
      reuseTokens: tokenReuseFromEnv(env),
    }
  },

  resolve(o, path) {
    return {
      apiUrl: httpUrl(`${path}.apiUrl`, o.apiUrl ?? 'https://api-v2.returning.ai'),
      sdkUrl: httpUrl(`${path}.sdkUrl`, required(`${path}.sdkUrl`, o.sdkUrl)),
      accessId: required(`${path}.accessId`, o.accessId),
      accessKey: required(`${path}.accessKey`, o.accessKey),
      communityId: required(`${path}.communityId`, o.communityId),
      widgetType: oneOfOption(`${path}.widgetType`, o.widgetType ?? 'store', SDK_WIDGET_TYPES),
      channelId: o.channelId || undefined,
      userIdentifiers: identifiers(o.userIdentifiers, `${path}.userIdentifiers`),
      bundleUrl: o.bundleUrl === undefined ? undefined : httpUrl(`${path}.bundleUrl`, o.bundleUrl),
      reuseTokens: resolveTokenReuse(o.reuseTokens, `${path}.reuseTokens`),
    }
  },

  missing(config, attrs) {
    const type = attrs['type'] ?? config.widgetType
    if (type !== 'channel' || attrs['id'] || config.channelId) return undefined
    return '<<widget type="channel" flow="sdk">> has no \'id\' (the channel) and WIDGET_ID is not set'
  },

  // Without a height the SDK picks one the page cannot know: no room is held.
  slot: (_config, attrs) => widgetSlot(attrs),

  create: (config, services) => ({ tokens: tokenCache(config.reuseTokens, services, VENDOR), services }),

  async embed(request) {
    const { config, attributes: attrs, resources } = request
    const kind = 'sdk_token'
    const token = await userToken(request, { tokens: resources.tokens, services: resources.services, kind }, () =>
      mintToken(request.config, request.user, request.http),
    )
    const type = attrs['type'] ?? config.widgetType
    const element = `rai-${type}-widget`
    const attributes: [string, string | undefined][] = [
      ['community-id', config.communityId],
      ['embed-token', token],
      ['theme', attrs['color'] ?? 'light'],
      ['height', attrs['height']],
      ['title', attrs['title']],
      ['channel-id', type === 'channel' ? (attrs['id'] ?? config.channelId) : undefined],
      ['bundle-url', config.bundleUrl],
      ['v2-api-url', config.apiUrl],
    ]
    const written = attributes
      .filter((a): a is [string, string] => a[1] !== undefined)
      .map(([name, value]) => ` ${name}="${escapeHtml(value)}"`)
      .join('')
    return {
      html: `<${element} class="eta-embeds-widget"${written}></${element}>`,
      once: {
        key: VENDOR,
        html: `<script nonce="${escapeHtml(request.nonce)}" src="${escapeHtml(config.sdkUrl)}"></script>`,
      },
    }
  },
})

function identifiers(value: ReturningSdkOptions['userIdentifiers'], path: string): [string, UserField][] {
  const given = optionsObject(path, value) ?? { 'data-email': 'email', 'data-user-id': 'id' }
  const entries = Object.entries(given)
  if (!entries.length) throw new TypeError(`${path} must name at least one data-* identifier`)
  for (const [name, field] of entries) {
    if (!IDENTIFIER_NAME.test(name))
      throw new TypeError(`${path} key '${name}' must be a data-* name such as 'data-email'`)
    oneOfOption(`${path}['${name}']`, field, USER_FIELDS)
  }
  return entries
}

/** `POST {apiUrl}/v2/api/widget-access-keys/token` for the session user (SPEC step 1). */
async function mintToken(
  config: Config,
  user: EmbedsUser,
  http: EmbedRequest<Config, Resources>['http'],
): Promise<string> {
  const userIdentifiers: Record<string, string> = {}
  for (const [name, field] of config.userIdentifiers) {
    const value = user[field]
    if (typeof value !== 'string' || !value) {
      throw new VendorError(VENDOR, 'ERR_VENDOR_INPUT', `the session user has no '${field}' for ${name}`)
    }
    userIdentifiers[name] = value
  }
  const answer = await http({
    url: new URL(`${config.apiUrl}/v2/api/widget-access-keys/token`),
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ accessId: config.accessId, accessKey: config.accessKey, userIdentifiers }),
  })
  const data = (parseJson(VENDOR, answer) as { data?: { embedToken?: unknown } } | null)?.data
  const token = data?.embedToken
  if (!isJwtShaped(token)) {
    throw new VendorError(VENDOR, 'ERR_VENDOR_BODY', `${VENDOR} token answer has no JWT-shaped 'data.embedToken'`, {
      status: answer.status,
    })
  }
  return token
}
