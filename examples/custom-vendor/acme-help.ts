/**
 * A worked example of an app's own vendor: "Acme Help", a made-up support
 * panel whose session token is minted server-to-server for the signed-in
 * user. Everything about Acme lives in this folder — the adapter here, its
 * local stub in `acme-stub.ts` — and the app registers it twice: with the
 * Vite plugin (so `<<acme-help>>` compiles, its attributes checked) and,
 * configured, with the runtime (so it resolves). See the README, "Your own
 * vendor".
 */
import { defineVendor, escapeHtml, oneOf, VendorError, type Env } from 'vite-plugin-eta-embeds'

/** What the app passes: `acmeHelp({ apiKey })`. */
export interface AcmeHelpOptions {
  /** @default 'https://api.acme-help.example' */
  apiUrl?: string
  /** Sent as a bearer token, server-to-server only. */
  apiKey: string
}

interface AcmeHelpConfig {
  apiUrl: string
  apiKey: string
}

const SESSION_TOKEN = /^[A-Za-z0-9_-]{16,256}$/

export const acmeHelp = defineVendor<AcmeHelpOptions, AcmeHelpConfig>({
  name: 'acme-help',
  directive: 'acme-help',
  title: 'Acme Help',
  // `<<acme-help topic="billing">>`; `fallback` comes with every directive.
  attributes: { topic: oneOf(['billing', 'orders', 'account']) },
  onePerPage: 'a page holds one help panel',
  // The build fails if this variable's value ends up in `dist/`.
  secretEnvNames: ['ACME_HELP_API_KEY'],

  fromEnv(env: Env) {
    const apiKey = env['ACME_HELP_API_KEY']
    return apiKey ? { apiKey, apiUrl: env['ACME_HELP_URL'] || undefined } : undefined
  },

  // Checks and fills defaults only; errors start with `path` (`options.vendors[2]`).
  resolve(options, path) {
    if (typeof options.apiKey !== 'string' || options.apiKey.length < 16) {
      throw new TypeError(`${path}.apiKey must be a string of at least 16 characters`)
    }
    const apiUrl = options.apiUrl ?? 'https://api.acme-help.example'
    if (!/^https?:\/\/[^/@\s]+(?:\/[^@\s]*)?$/.test(apiUrl)) {
      throw new TypeError(`${path}.apiUrl must be an http(s) URL without credentials, got '${apiUrl}'`)
    }
    return { apiUrl: apiUrl.replace(/\/+$/, ''), apiKey: options.apiKey }
  },

  async embed({ config, attributes, user, nonce, http }) {
    const topic = attributes['topic'] ?? 'account'
    // `http` carries the directive's deadline and size cap, and turns a
    // network failure, a timeout or a non-2xx status into a VendorError.
    const answer = await http({
      url: new URL(`${config.apiUrl}/v1/sessions`),
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${config.apiKey}` },
      // Identity from the verified session user only.
      body: JSON.stringify({ userId: user.id, topic }),
    })
    const token = sessionToken(answer.text)
    if (!token) {
      // Never quote the vendor's body: it may hold anything.
      throw new VendorError('acme-help', 'ERR_VENDOR_BODY', 'acme-help answered no usable session token', {
        status: answer.status,
      })
    }
    return {
      html: `<acme-help-panel topic="${escapeHtml(topic)}" session="${escapeHtml(token)}"></acme-help-panel>`,
      // However many panels ask, the page loads the script once, with its nonce.
      once: {
        key: 'acme-help',
        html: `<script nonce="${escapeHtml(nonce)}" src="${escapeHtml(`${config.apiUrl}/panel.js`)}"></script>`,
      },
    }
  },
})

function sessionToken(text: string): string | undefined {
  try {
    const token = (JSON.parse(text) as { sessionToken?: unknown } | null)?.sessionToken
    return typeof token === 'string' && SESSION_TOKEN.test(token) ? token : undefined
  } catch {
    return undefined
  }
}
