/**
 * The client environments' part of the Vite plugin (issues 5 and 9): client
 * code that imports a server-only module, an env file or build output fails
 * where it imports it, naming the chain; such a module loaded some other way
 * (an entry, a direct dev request) fails in `load`; a template never becomes
 * client code.
 */
import path from 'node:path'
import { perEnvironmentState, type Plugin } from 'vite'
import { PLUGIN_NAME } from './dev-protocol.ts'
import { isOutsideFsAllow, outsideFsAllowMessage } from './guards/dev-server.ts'
import { privateFileMessage, privateKind } from './guards/private-files.ts'
import { ImportChains, isServerOnlySource } from './guards/server-only.ts'
import { TEMPLATES_ID } from './template-module.ts'
import { ETA_ID_FILTER } from './vite-templates.ts'
import type { PluginState } from './vite-state.ts'

/** The plugin each client environment gets. */
export function clientGuardsPlugin(state: PluginState): Plugin {
  // Who imported what, per environment: the dev server's client, each build.
  const chainsOf = perEnvironmentState(() => new ImportChains())

  return {
    name: `${PLUGIN_NAME}:client-guards`,

    // No filter: any import may lead to a private file, whatever its name.
    async resolveId(source, importer, options) {
      const { config, privateDirs } = state
      // In dev Vite passes `<root>/index.html` as the importer of every URL it
      // is asked for (its plugin container's default), html page or not.
      const synthetic = this.environment.mode === 'dev' && importer === path.join(config.root, 'index.html')
      const parent = synthetic ? undefined : importer
      const imports = chainsOf(this)
      const chainTo = (id: string): string[] => (parent ? [...imports.chain(parent), id] : [id])
      if (isServerOnlySource(source, TEMPLATES_ID)) {
        this.error(privateFileMessage(config.root, 'server-only module', chainTo(source)))
      }
      // Vite's dependency scan walks the same imports before import analysis
      // does: checking them there too would resolve every client import twice.
      // The check that counts comes when the module is served or bundled; the
      // scan is only kept out of private folders, where a path says so.
      if ((this.environment.mode as string) === 'scan') return keepScanOut(source, importer, state)
      // Resolve here, once, so that a private module fails where it is
      // imported; the result is Vite's, handed on as it is.
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true })
      if (!resolved || resolved.external) return resolved
      if (parent) imports.record(resolved.id, parent)
      const kind = privateKind(resolved.id, privateDirs)
      if (kind) this.error(privateFileMessage(config.root, kind, chainTo(resolved.id)))
      return resolved
    },

    load(id) {
      const { config, privateDirs } = state
      // Reached by an entry or a direct dev request, which no import resolved.
      const kind = privateKind(id, privateDirs)
      if (kind) this.error(privateFileMessage(config.root, kind, chainsOf(this).chain(id)))
      if (this.environment.mode === 'dev' && isOutsideFsAllow(config, id)) {
        this.error(outsideFsAllowMessage(config.root, id))
      }
    },

    transform: {
      filter: { id: ETA_ID_FILTER },
      handler(_code, id) {
        // `load` refuses it first; this holds if another plugin loaded it.
        const file = id.split('?', 1)[0] ?? id
        this.error(privateFileMessage(state.config.root, 'server-only module', chainsOf(this).chain(file)))
      },
    },
  }
}

/** A relative import into a private folder, as the dependency scan sees it: not followed. */
function keepScanOut(
  source: string,
  importer: string | undefined,
  state: PluginState,
): { id: string; external: true } | undefined {
  if (!importer || !source.startsWith('.')) return undefined
  const id = path.resolve(path.dirname(importer), source)
  return privateKind(id, state.privateDirs) ? { id, external: true } : undefined
}
