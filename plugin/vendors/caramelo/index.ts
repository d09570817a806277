/**
 * Caramelo AI, authenticated flow (SPEC "Vendor flows"): mint a single-use
 * connection token server-to-server for every render — never cached — and
 * emit the config script followed by the authenticated SDK.
 */
import { VendorError } from '../../errors.ts'
import { httpUrl, required } from '../../runtime/check.ts'
import { escapeHtml, jsonForScript } from '../../runtime/encode.ts'
import { parseJson } from '../../runtime/http/request.ts'
import { defineVendor, type Env } from '../define.ts'
import { identifier, LANGUAGE_TAG, languageTag } from '../rules.ts'
import { preferredLanguage } from './language.ts'

const VENDOR = 'caramelo'
const TOKEN_SHAPE = /^[\x21-\x7e]{8,4096}$/

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

interface Config {
  apiUrl: string
  sdkUrl: string
  projectId: string | undefined
  secretToken: string
}

export const caramelo = defineVendor<CarameloOptions, Config>({
  name: VENDOR,
  directive: 'caramelo',
  title: 'Caramelo AI',
  attributes: { project: identifier, lang: languageTag },
  onePerPage: 'a page can hold at most one chatbot',
  secretEnvNames: ['CARAMELO_SECRET_TOKEN'],

  fromEnv(env: Env): CarameloOptions | undefined {
    const secretToken = env['CARAMELO_SECRET_TOKEN']
    if (!secretToken) return undefined
    return {
      apiUrl: env['CARAMELO_API_URL'] || undefined,
      sdkUrl: env['CARAMELO_SDK_URL'] || undefined,
      projectId: env['CARAMELO_PROJECT_ID'] || undefined,
      secretToken,
    }
  },

  resolve(o, path) {
    return {
      apiUrl: httpUrl(`${path}.apiUrl`, o.apiUrl ?? 'https://api.carameloai.com'),
      sdkUrl: httpUrl(`${path}.sdkUrl`, o.sdkUrl ?? 'https://static.carameloai.com/sdk/latest/authenticated.js'),
      projectId: o.projectId || undefined,
      secretToken: required(`${path}.secretToken`, o.secretToken),
    }
  },

  missing(config, attrs) {
    return attrs['project'] || config.projectId
      ? undefined
      : "<<caramelo>> has no 'project' and CARAMELO_PROJECT_ID is not set"
  },

  // The chatbot floats over the page: it takes no room where the directive stands.
  slot: () => undefined,

  async embed({ config, attributes, user, acceptLanguage, nonce, http }) {
    // `missing` ran first: one of the two is set.
    const projectId = (attributes['project'] ?? config.projectId) as string
    const lang =
      attributes['lang'] ??
      (user.lang && LANGUAGE_TAG.test(user.lang) ? user.lang : undefined) ??
      preferredLanguage(acceptLanguage) ??
      'en'
    const answer = await http({
      url: new URL(`${config.apiUrl}/api/chatbox/project/${encodeURIComponent(projectId)}/intranet-auth`),
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        secret_token: config.secretToken,
        external_customer_id: user.id,
        name: user.name,
        email: user.email,
        lang,
      }),
    })
    const token = (parseJson(VENDOR, answer) as { real_time_access_token?: unknown } | null)?.real_time_access_token
    if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) {
      throw new VendorError(VENDOR, 'ERR_VENDOR_BODY', `${VENDOR} answer has no usable 'real_time_access_token'`, {
        status: answer.status,
      })
    }
    const quoted = escapeHtml(nonce)
    const settings = jsonForScript({ secure_connection_token: token, project_id: projectId })
    return (
      `<script nonce="${quoted}">var carameloaiChatbot = ${settings};</script>` +
      `<script nonce="${quoted}" src="${escapeHtml(config.sdkUrl)}"></script>`
    )
  },
})
