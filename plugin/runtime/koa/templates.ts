/**
 * Where compiled templates come from: Vite's dev server (fresh modules after
 * every edit) or the server build that `vite build` wrote.
 */
import { pathToFileURL } from 'node:url'
import type { ViteDevServer } from 'vite'
import { PLUGIN_NAME, type EtaEmbedsPluginApi } from '../../dev-protocol.ts'
import { TEMPLATES_ID, type TemplateMap } from '../../template-module.ts'

interface RunnableEnvironment {
  runner: { import(id: string): Promise<unknown> }
}

/**
 * Templates from a Vite dev server (middleware mode): each call goes through
 * the module runner of the environment the plugin compiles templates in, so
 * an edited template is picked up on the next request.
 */
export function viteTemplates(vite: ViteDevServer): () => Promise<TemplateMap> {
  const name = pluginApi(vite).environment()
  const environment = vite.environments[name] as unknown as Partial<RunnableEnvironment> | undefined
  if (!environment?.runner) throw new TypeError(`the Vite server has no runnable '${name}' environment`)
  const { runner } = environment
  return async () => ((await runner.import(TEMPLATES_ID)) as { default: TemplateMap }).default
}

/**
 * The version of a Vite dev server's templates: how many edits it reloaded
 * browsers for. Read it before a render and give it to `errorOverlayPage`,
 * so the error page reloads if an edit came before it could hear of it.
 */
export function viteTemplatesVersion(vite: ViteDevServer): () => number {
  const api = pluginApi(vite)
  return () => api.templatesVersion()
}

function pluginApi(vite: ViteDevServer): EtaEmbedsPluginApi {
  const api = vite.config.plugins.find((plugin) => plugin.name === PLUGIN_NAME)?.api as EtaEmbedsPluginApi | undefined
  if (!api) throw new TypeError(`the Vite server has no ${PLUGIN_NAME} plugin`)
  return api
}

/**
 * Templates from the server build (`dist/server/templates.js` by default),
 * imported once. Takes a file path or a `file:` URL.
 * @example builtTemplates(new URL('./dist/server/templates.js', import.meta.url))
 */
export function builtTemplates(file: string | URL): () => Promise<TemplateMap> {
  const href = typeof file === 'string' ? pathToFileURL(file).href : file.href
  let loaded: Promise<TemplateMap> | undefined
  return () => {
    loaded ??= import(href).then((mod: { default: TemplateMap }) => mod.default)
    return loaded
  }
}
