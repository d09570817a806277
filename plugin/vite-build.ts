/**
 * `vite build`'s part of the Vite plugin: which environments to build, and
 * the secret scan of everything each build writes (issues 5 and 9).
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import type { BuildEnvironment, Environment, Plugin, ViteBuilder } from 'vite'
import { PLUGIN_NAME } from './dev-protocol.ts'
import { scanBundle, sweepOutDir } from './guards/build-scan.ts'
import type { PluginState } from './vite-state.ts'

/**
 * The plugin's `buildApp` hook, run after the config's own `builder.buildApp`
 * (Vite runs `'post'` hooks last): builds every environment nobody built yet
 * — the templates' server environment among them — except a client one with
 * nothing to build. An app whose pages are all server templates has no
 * client input, and Vite would fail looking for its `index.html`.
 */
export async function buildRemaining(builder: ViteBuilder): Promise<void> {
  for (const environment of Object.values(builder.environments)) {
    if (environment.isBuilt || !hasInput(environment)) continue
    await builder.build(environment)
  }
}

function hasInput(environment: BuildEnvironment): boolean {
  const { build, consumer, root } = environment.config
  if (consumer !== 'client' || build.rolldownOptions.input !== undefined) return true
  return existsSync(path.join(root, 'index.html'))
}

/** The plugin each environment gets in a build: no secret in anything it writes. */
export function outputScanPlugin(state: PluginState): Plugin {
  /** The absolute folder one environment's build writes to. */
  const outputFolder = (output: { dir?: string }, environment: Environment): string =>
    path.resolve(state.config.root, output.dir ?? environment.config.build.outDir)
  /** Scans that folder as written, deleting leaking files (see `sweepOutDir`). */
  const sweepOutput = (output: { dir?: string }, environment: Environment): Promise<string[]> =>
    sweepOutDir(state.config.root, outputFolder(output, environment), environment.config.publicDir, state.needles)

  return {
    name: `${PLUGIN_NAME}:output-scan`,

    generateBundle: {
      // After every other plugin has added its files (index.html, CSS, maps).
      order: 'post',
      async handler(outputOptions, bundle, isWrite) {
        const { config, needles } = state
        const found = scanBundle(bundle, config.root, outputFolder(outputOptions, this.environment), needles)
        if (!found.length) return
        // The build stops here, but Vite already copied public/ into the
        // output folder: leave nothing leaking there either.
        if (isWrite) found.push(...(await sweepOutput(outputOptions, this.environment)))
        this.error(found.join('\n'))
      },
    },

    writeBundle: {
      // After the other plugins' writeBundle (Rolldown runs them one at a
      // time): what they write lands in the output folder too.
      order: 'post',
      async handler(outputOptions) {
        const found = await sweepOutput(outputOptions, this.environment)
        if (found.length) this.error(found.join('\n'))
      },
    },
  }
}
