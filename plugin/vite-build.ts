/**
 * `vite build`'s part of the Vite plugin: which environments to build, the
 * secret scan of everything each build writes (issues 5 and 9), and no
 * server bundle left behind by a build that failed (issue 15).
 */
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import type { BuildEnvironment, Environment, Plugin, ViteBuilder } from 'vite'
import { PLUGIN_NAME } from './dev-protocol.ts'
import { scanBundle, sweepOutDir } from './guards/build-scan.ts'
import type { PluginState } from './vite-state.ts'

/** The name of the templates' entry in the server build: it writes `templates.js`. */
export const TEMPLATES_ENTRY = 'templates'

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

/**
 * The plugin each environment gets in a build: when the build of any
 * environment fails, at any stage, the server bundle (`templates.js` and its
 * map) is removed, so a server started after a failed build fails at start
 * instead of serving the templates of an earlier one. Vite empties an output
 * folder only once its bundle is about to be written (`renderStart`): a
 * template that does not compile never gets there, nor does a server build
 * after a client build that failed.
 */
export function failedBuildPlugin(state: PluginState): Plugin {
  /** Environments whose current build got through writing (or generating) its bundle. */
  const finished = new WeakSet<Environment>()

  return {
    name: `${PLUGIN_NAME}:failed-build`,

    buildStart() {
      finished.delete(this.environment)
    },

    generateBundle: {
      order: 'post',
      handler(_outputOptions, _bundle, isWrite) {
        if (!isWrite) finished.add(this.environment)
      },
    },

    writeBundle: {
      // Rolldown runs these one at a time, and this plugin comes after the
      // output scan: a file the scan finds a secret in fails the build first.
      order: 'post',
      handler() {
        finished.add(this.environment)
      },
    },

    // Rolldown calls it however the build ended, but passes the error only
    // when the build itself failed, not the writing: what did not finish failed.
    async closeBundle() {
      if (finished.has(this.environment)) return
      await Promise.all(serverBundleFiles(state).map((file) => rm(file, { force: true })))
    },
  }
}

/** The files the templates' server build writes, in each of its output folders. */
function serverBundleFiles({ config, environment }: PluginState): string[] {
  const build = config.environments[environment]?.build
  if (!build) return []
  const outputs = [build.rolldownOptions.output ?? {}].flat()
  return outputs.flatMap((output) => {
    const folder = path.resolve(config.root, output.dir ?? build.outDir)
    return [`${TEMPLATES_ENTRY}.js`, `${TEMPLATES_ENTRY}.js.map`].map((name) => path.join(folder, name))
  })
}
