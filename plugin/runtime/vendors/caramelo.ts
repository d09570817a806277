/**
 * Caramelo AI, authenticated flow (SPEC "Vendor flows"): mint a single-use
 * connection token server-to-server for every render — never cached — and
 * emit the config script followed by the authenticated SDK.
 */
import type { CarameloAttributes } from '../../directives.ts'
import { RenderError, VendorError } from '../../errors.ts'
import { escapeHtml, jsonForScript } from '../encode.ts'
import { parseJson, vendorRequest } from '../http.ts'
import type { ResolvedEmbedsOptions } from '../options.ts'
import type { ResolveContext } from '../user.ts'

const VENDOR = 'caramelo'
const TOKEN_SHAPE = /^[\x21-\x7e]{8,4096}$/
const LANG = /^[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{2,8})*$/

type Config = NonNullable<ResolvedEmbedsOptions['caramelo']>
type Shared = Pick<ResolvedEmbedsOptions, 'dispatcher' | 'maxResponseBytes'>

/** Resolves one `<<caramelo>>` to its two script tags. */
export async function resolveChatbot(
  config: Config,
  shared: Shared,
  attrs: CarameloAttributes,
  ctx: ResolveContext,
): Promise<string> {
  const projectId = attrs.project ?? config.projectId
  if (!projectId) {
    throw new RenderError('ERR_CONFIG', "<<caramelo>> has no 'project' and CARAMELO_PROJECT_ID is not set")
  }
  const lang =
    attrs.lang ??
    (ctx.user.lang && LANG.test(ctx.user.lang) ? ctx.user.lang : undefined) ??
    preferredLanguage(ctx.acceptLanguage) ??
    'en'
  const answer = await vendorRequest({
    vendor: VENDOR,
    dispatcher: shared.dispatcher,
    url: new URL(`${config.apiUrl}/api/chatbox/project/${encodeURIComponent(projectId)}/intranet-auth`),
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      secret_token: config.secretToken,
      external_customer_id: ctx.user.id,
      name: ctx.user.name,
      email: ctx.user.email,
      lang,
    }),
    signal: ctx.signal,
    maxBytes: shared.maxResponseBytes,
  })
  const token = (parseJson(VENDOR, answer) as { real_time_access_token?: unknown } | null)?.real_time_access_token
  if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) {
    throw new VendorError(VENDOR, 'ERR_VENDOR_BODY', `${VENDOR} answer has no usable 'real_time_access_token'`, {
      status: answer.status,
    })
  }
  const nonce = escapeHtml(ctx.nonce)
  const settings = jsonForScript({ secure_connection_token: token, project_id: projectId })
  return (
    `<script nonce="${nonce}">var carameloaiChatbot = ${settings};</script>` +
    `<script nonce="${nonce}" src="${escapeHtml(config.sdkUrl)}"></script>`
  )
}

/** The highest-weighted well-formed tag of an `Accept-Language` header, if any. */
export function preferredLanguage(header: string | undefined): string | undefined {
  if (!header) return undefined
  let best: { tag: string; q: number } | undefined
  for (const part of header.split(',').slice(0, 32)) {
    const [rawTag, ...params] = part.trim().split(';')
    const tag = rawTag?.trim() ?? ''
    if (!LANG.test(tag)) continue
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    const q = qParam ? Number(qParam.slice(2)) : 1
    if (!(q > 0) || (best && best.q >= q)) continue
    best = { tag, q }
  }
  return best?.tag
}
