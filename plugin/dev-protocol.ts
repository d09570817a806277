/**
 * Development only: what the Vite plugin and the runtime's error page agree
 * on. The page is rendered by the server but reloaded by Vite's HMR, and a
 * reload Vite sends before the page's HMR socket is open never reaches it
 * (Vite keeps one for later only while no page at all is connected). So the
 * page carries the templates version it was rendered from and, once
 * connected, asks the plugin whether that is still current.
 */

/** The Vite plugin's name, by which a server finds its `api`. */
export const PLUGIN_NAME = 'vite-plugin-eta-embeds'

/** The custom HMR event an error page sends once its socket is open. */
export const ERROR_PAGE_CHECK = 'eta-embeds:error-page'

/** The data of `ERROR_PAGE_CHECK`. */
export interface ErrorPageCheck {
  /** The templates version the page was rendered from. */
  templatesVersion: number
}

/** What the plugin offers the dev server it runs in, as `plugin.api` (Vite's way for plugins to share state). */
export interface EtaEmbedsPluginApi {
  /**
   * How many template edits this dev server has reloaded browsers for. Read
   * it before a render: a page rendered from an older version is stale.
   */
  templatesVersion(): number
  /** The name of the server environment that compiles the templates (`options.environment`, or the one found). */
  environment(): string
}
