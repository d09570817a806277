/**
 * The server environment's part of the Vite plugin: `.eta` files become ES
 * modules with a source map back to the template, one virtual module lists
 * them all, and an edited template reloads the browser. Every hook has a
 * filter, so Vite and Rolldown never call it for any other module.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { exactRegex, makeIdFiltersToMatchWithQuery } from '@rolldown/pluginutils'
import { isRunnableDevEnvironment, type Plugin, type Rolldown } from 'vite'
import { compileTemplate } from './compiler/codegen.ts'
import { PLUGIN_NAME } from './dev-protocol.ts'
import { CompileError } from './errors.ts'
import { TEMPLATES_ID } from './template-module.ts'
import { RESOLVED_TEMPLATES_ID, relativePath, type PluginState } from './vite-state.ts'

/** Any `.eta` module id, with or without a query (`home.eta?t=…`). */
export const ETA_ID_FILTER = makeIdFiltersToMatchWithQuery(/\.eta$/)

/** The plugin the templates' server environment gets. */
export function templatesPlugin(state: PluginState): Plugin {
  return {
    name: `${PLUGIN_NAME}:templates`,

    resolveId: {
      filter: { id: exactRegex(TEMPLATES_ID) },
      handler: () => RESOLVED_TEMPLATES_ID,
    },

    load: {
      filter: { id: exactRegex(RESOLVED_TEMPLATES_ID) },
      handler() {
        const prefix = `/${state.opts.templatesDir}/`
        const code = [
          `const modules = import.meta.glob(${JSON.stringify(`${prefix}**/*.eta`)}, { eager: true });`,
          `const templates = {};`,
          `for (const [file, mod] of Object.entries(modules)) templates[file.slice(${prefix.length}, -4)] = mod;`,
          `export default templates;`,
        ].join('\n')
        return { code, moduleType: 'js' }
      },
    },

    transform: {
      filter: { id: ETA_ID_FILTER },
      handler(code, id) {
        const file = id.split('?', 1)[0] ?? id
        const { config, opts } = state
        const templatesRoot = path.join(config.root, opts.templatesDir)
        const name = relativePath(templatesRoot, file).replace(/\.eta$/, '')
        try {
          const compiled = compileTemplate(code, relativePath(config.root, file), {
            name,
            importPath: (n) => `/${opts.templatesDir}/${n}.eta`,
            exists: (n) => existsSync(path.join(templatesRoot, `${n}.eta`)),
            vocabulary: opts.vocabulary,
          })
          // The map names the file by its absolute path, as Vite's own transforms do: Vite and
          // Rolldown make it relative to wherever the map ends up.
          const map: Rolldown.SourceMapInput = { ...compiled.map, sources: [file] }
          return { code: compiled.code, map, moduleType: 'js' }
        } catch (error) {
          if (!(error instanceof CompileError)) throw error
          // Each field once, and no `cause`: Rolldown prints an error's cause
          // with its own frame, so `vite build` showed every mistake twice
          // (issue 15). Its stable code stays, as Rolldown's `pluginCode`.
          return this.error({
            message: error.message,
            code: error.code,
            id: file,
            loc: { file, line: error.loc.line, column: error.loc.column },
            frame: error.frame,
          })
        }
      },
    },

    async hotUpdate({ type, file, read, server }) {
      // Templates only run on the server, and Vite 6+ does not reload the
      // browser for server-only modules: ask for a full reload ourselves.
      if (!file.endsWith('.eta')) return
      if (type !== 'delete') {
        // A file saved in place is emptied before it is written, and the
        // watcher may report it empty: a reload then renders an empty page
        // (without Vite's client, so no later reload reaches it), and chokidar
        // drops the write's own change when it follows within 50 ms. `read()`
        // is Vite's wait for that write (vitejs/vite#610); what a request
        // compiled in the meantime is invalidated again.
        await read()
        this.environment.moduleGraph.onFileChange(file)
      }
      // Drop the in-process runner's evaluated modules first: Vite tells the
      // runner itself only after this hook, and a browser reload that arrives
      // before that would render the old template.
      if (isRunnableDevEnvironment(this.environment)) this.environment.runner.clearCache()
      state.templatesVersion += 1
      server.environments['client']?.hot.send({ type: 'full-reload' })
    },
  }
}
