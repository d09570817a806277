/**
 * The Vite hooks: `.eta` files become SSR modules, one virtual module lists
 * them all for the server, and `vite build` builds the client and the server
 * templates in one go.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { isRunnableDevEnvironment, type Plugin, type ResolvedConfig, type ViteBuilder } from 'vite'
import { compileTemplate } from './compiler/codegen.ts'
import { CompileError } from './errors.ts'

/** The module the server imports to get every compiled template by name. */
export const TEMPLATES_ID = 'virtual:eta-embeds/templates'
const RESOLVED_TEMPLATES_ID = `\0${TEMPLATES_ID}`

export interface EtaEmbedsPluginOptions {
  /**
   * Folder holding the `.eta` templates, relative to Vite's `root`. Template
   * names (`ctx.render('home')`, `include('partials/nav')`) are paths inside it
   * without the extension.
   * @default 'templates'
   */
  templatesDir?: string
  /**
   * Where `vite build` writes the server build (`templates.js`), relative to `root`.
   * @default 'dist/server'
   */
  ssrOutDir?: string
}

interface ResolvedPluginOptions {
  templatesDir: string
  ssrOutDir: string
}

function resolvePluginOptions(options: EtaEmbedsPluginOptions): ResolvedPluginOptions {
  const templatesDir = options.templatesDir ?? 'templates'
  if (path.isAbsolute(templatesDir) || templatesDir.split(/[\\/]/).includes('..')) {
    throw new TypeError(`options.templatesDir must be a folder inside the Vite root, got '${templatesDir}'`)
  }
  return { templatesDir: templatesDir.replace(/[\\/]+$/, ''), ssrOutDir: options.ssrOutDir ?? 'dist/server' }
}

/**
 * Builds the client only when it has something to build (an `index.html` or
 * a configured input): an app whose pages are all server templates has no
 * client bundle, and Vite would fail looking for `index.html`.
 */
async function buildApp(builder: ViteBuilder): Promise<void> {
  const { client, ssr } = builder.environments
  if (client) {
    const { build, root } = client.config
    const input = build.rolldownOptions.input
    if (input !== undefined || existsSync(path.join(root, 'index.html'))) await builder.build(client)
  }
  if (ssr) await builder.build(ssr)
}

/** The Vite plugin. Add it to `plugins` in `vite.config.ts`. */
export function etaEmbeds(options: EtaEmbedsPluginOptions = {}): Plugin {
  const opts = resolvePluginOptions(options)
  let config: ResolvedConfig

  return {
    name: 'vite-plugin-eta-embeds',
    enforce: 'pre',

    config(userConfig) {
      return {
        // An app builder makes plain `vite build` build the SSR templates and,
        // when the app has one, the client bundle.
        builder: userConfig.builder ?? { buildApp },
        environments: {
          ssr: {
            build: {
              outDir: opts.ssrOutDir,
              rolldownOptions: { input: { templates: TEMPLATES_ID } },
            },
          },
        },
      }
    },

    configResolved(resolved) {
      config = resolved
    },

    resolveId(id) {
      return id === TEMPLATES_ID ? RESOLVED_TEMPLATES_ID : undefined
    },

    load(id) {
      if (id !== RESOLVED_TEMPLATES_ID) return undefined
      if (this.environment.config.consumer === 'client') {
        this.error(`${TEMPLATES_ID} is server-only: import it from server code, not from client code`)
      }
      const prefix = `/${opts.templatesDir}/`
      return [
        `const modules = import.meta.glob(${JSON.stringify(`${prefix}**/*.eta`)}, { eager: true });`,
        `const templates = {};`,
        `for (const [file, mod] of Object.entries(modules)) templates[file.slice(${prefix.length}, -4)] = mod;`,
        `export default templates;`,
      ].join('\n')
    },

    transform(code, id) {
      const file = id.split('?', 1)[0] ?? id
      if (!file.endsWith('.eta')) return undefined
      const relative = path.relative(config.root, file).split(path.sep).join('/')
      if (this.environment.config.consumer === 'client') {
        this.error(`${relative} is a server template: it cannot be imported from client code`)
      }
      const templatesRoot = path.join(config.root, opts.templatesDir)
      const name = path
        .relative(templatesRoot, file)
        .split(path.sep)
        .join('/')
        .replace(/\.eta$/, '')
      try {
        const compiled = compileTemplate(code, relative, {
          name,
          importPath: (n) => `/${opts.templatesDir}/${n}.eta`,
          exists: (n) => existsSync(path.join(templatesRoot, `${n}.eta`)),
        })
        return { code: compiled.code, map: null }
      } catch (error) {
        if (!(error instanceof CompileError)) throw error
        return this.error({
          message: error.message,
          id: file,
          loc: { file, line: error.loc.line, column: error.loc.column },
          frame: error.frame,
          cause: error,
        })
      }
    },

    hotUpdate({ file, server }) {
      // Templates only run on the server, and Vite 6+ does not reload the
      // browser for server-only modules: ask for a full reload ourselves.
      if (this.environment.name !== 'ssr' || !file.endsWith('.eta')) return
      // Drop the in-process runner's evaluated modules first: Vite tells the
      // runner itself only after this hook, and a browser reload that arrives
      // before that would render the old template.
      if (isRunnableDevEnvironment(this.environment)) this.environment.runner.clearCache()
      server.environments['client']?.hot.send({ type: 'full-reload' })
    },
  }
}
