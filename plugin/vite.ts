/**
 * The Vite hooks: `.eta` files become SSR modules, one virtual module lists
 * them all for the server, and `vite build` builds the client and the server
 * templates in one go. The build guards (issue 5) live in `guards/`: secrets
 * in the output or exposed by the config, server-only modules in client code,
 * and what the dev server may serve.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import {
  isFileLoadingAllowed,
  isRunnableDevEnvironment,
  type Environment,
  type Plugin,
  type ResolvedConfig,
  type ViteBuilder,
} from 'vite'
import { compileTemplate } from './compiler/codegen.ts'
import { TEMPLATES_ID } from './template-module.ts'
import { resolvePluginOptions, type EmbedsPluginOptions } from './vite-options.ts'
import { ERROR_PAGE_CHECK, PLUGIN_NAME, type ErrorPageCheck, type EtaEmbedsPluginApi } from './dev-protocol.ts'
import { CompileError, EmbedsError } from './errors.ts'
import { scanBundle, sweepOutDir } from './guards/build-scan.ts'
import { checkConfig, envPrefixProblem } from './guards/config.ts'
import { privateRequestGuard } from './guards/dev-requests.ts'
import {
  belowRoot,
  devServerOptions,
  isOutsideFsAllow,
  outputFolders,
  outsideFsAllowMessage,
  type OutputConfig,
} from './guards/dev-server.ts'
import { privateFileMessage, privateKind, type PrivateDirs } from './guards/private-files.ts'
import { needlesFor, type Needle } from './guards/scan.ts'
import { collectSecrets, MIN_SECRET_LENGTH, readEnvSources, SECRET_ENV_NAMES } from './guards/secrets.ts'
import { absoluteDirs, ImportChains, isServerOnlySource, serverOnlyDirs } from './guards/server-only.ts'

export { TEMPLATES_ID, type EmbedsPluginOptions }

const RESOLVED_TEMPLATES_ID = `\0${TEMPLATES_ID}`

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
export function etaEmbeds(options: EmbedsPluginOptions = {}): Plugin {
  const opts = resolvePluginOptions(options)
  const secretNames = [...new Set([...opts.vendorSecretEnvNames, ...SECRET_ENV_NAMES, ...opts.secretEnvNames])]
  let config: ResolvedConfig
  let needles: Needle[] = []
  let privateDirs: PrivateDirs = { server: [], output: [], virtualIds: [RESOLVED_TEMPLATES_ID] }
  /** Server-side folders: `serverDirs`, the templates (unless they are the root), this package's runtime and stubs. */
  const serverFolders = (root: string): string[] =>
    serverOnlyDirs(root, [...opts.serverDirs, ...belowRoot(root, absoluteDirs(root, [opts.templatesDir]))])
  /** Every folder a build of `buildConfig` writes to, absolute, the root itself left out. */
  const outputDirs = (root: string, buildConfig: OutputConfig): string[] =>
    belowRoot(root, absoluteDirs(root, outputFolders(buildConfig, opts.ssrOutDir)))
  // One record per environment (client dev server, each build): who imported what.
  const chains = new WeakMap<object, ImportChains>()
  const chainsOf = (environment: object): ImportChains => {
    let found = chains.get(environment)
    if (!found) chains.set(environment, (found = new ImportChains()))
    return found
  }
  /** The absolute folder one environment's build writes to. */
  const outputFolder = (output: { dir?: string }, environment: Environment): string =>
    path.resolve(config.root, output.dir ?? environment.config.build.outDir)
  /** Scans that folder as written, deleting leaking files (see `sweepOutDir`). */
  const sweepOutput = (output: { dir?: string }, environment: Environment): Promise<string[]> =>
    sweepOutDir(config.root, outputFolder(output, environment), environment.config.publicDir, needles)
  // Counts the template edits the dev server reloaded browsers for (see dev-protocol.ts).
  let templatesVersion = 0
  const api: EtaEmbedsPluginApi = { templatesVersion: () => templatesVersion }

  return {
    name: PLUGIN_NAME,
    enforce: 'pre',
    api,

    config(userConfig) {
      // Vite refuses `envPrefix: ''` itself before `configResolved`, with a
      // message that names no variable: say which secrets it would expose.
      const prefixProblem = envPrefixProblem(userConfig.envPrefix, secretNames)
      if (prefixProblem) throw new EmbedsError('ERR_CONFIG_SECRET', prefixProblem)
      const root = path.resolve(userConfig.root ?? process.cwd())
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
        // The output folders as the user's config says; `configResolved` takes
        // them again, for the request guard and `load`, once every plugin has had its say.
        server: devServerOptions(root, userConfig, [...serverFolders(root), ...outputDirs(root, userConfig)]),
      }
    },

    configResolved(resolved) {
      config = resolved
      privateDirs = {
        server: serverFolders(resolved.root),
        output: outputDirs(resolved.root, resolved),
        virtualIds: [RESOLVED_TEMPLATES_ID],
      }
      const { secrets, tooShort } = collectSecrets(
        readEnvSources(resolved.mode, resolved.envDir),
        secretNames,
        opts.secrets,
      )
      needles = secrets.flatMap(needlesFor)
      checkConfig(resolved, secretNames, needles)
      if (resolved.command === 'build' && tooShort.length) {
        resolved.logger.warn(
          `${tooShort.join(', ')}: shorter than ${MIN_SECRET_LENGTH} characters, too short to scan the build output for ` +
            'without false positives, so not checked; use a longer, random secret',
        )
      }
    },

    configureServer(server) {
      // Added before Vite's own middlewares, so it answers first.
      server.middlewares.use(
        privateRequestGuard({
          root: config.root,
          base: config.base,
          dirs: privateDirs,
          mayServe: (file) => isFileLoadingAllowed(config, file),
          warnOutsideAllow: (file) => config.logger.warnOnce(outsideFsAllowMessage(config.root, file)),
        }),
      )
      // An error page asks once its HMR socket is open, since it missed the
      // reload of an edit saved while it was rendering or connecting.
      server.environments['client']?.hot.on(ERROR_PAGE_CHECK, (data: Partial<ErrorPageCheck> | undefined, client) => {
        if (data?.templatesVersion !== templatesVersion) client.send({ type: 'full-reload' })
      })
    },

    async resolveId(source, importer, resolveOptions) {
      if (this.environment.config.consumer !== 'client') {
        return source === TEMPLATES_ID ? RESOLVED_TEMPLATES_ID : undefined
      }
      // Client code: resolve every import here, so that a server-only one fails
      // where it is imported, naming the chain that led to it.
      const imports = chainsOf(this.environment)
      // In dev Vite passes `<root>/index.html` as the importer of every URL it
      // is asked for (its plugin container's default), html page or not.
      const synthetic = this.environment.mode === 'dev' && importer === path.join(config.root, 'index.html')
      const parent = synthetic ? undefined : importer
      const chainTo = (id: string): string[] => (parent ? [...imports.chain(parent), id] : [id])
      if (isServerOnlySource(source, TEMPLATES_ID)) {
        this.error(privateFileMessage(config.root, 'server-only module', chainTo(source)))
      }
      const resolved = await this.resolve(source, importer, {
        kind: resolveOptions.kind,
        custom: resolveOptions.custom,
        isEntry: resolveOptions.isEntry,
        skipSelf: true,
      })
      if (!resolved || resolved.external) return resolved
      if (parent) imports.record(resolved.id, parent)
      const kind = privateKind(resolved.id, privateDirs)
      if (kind) this.error(privateFileMessage(config.root, kind, chainTo(resolved.id)))
      return resolved
    },

    load(id) {
      if (this.environment.config.consumer === 'client') {
        // Reached by an entry or a direct dev request, which no import resolved.
        const kind = privateKind(id, privateDirs)
        if (kind) this.error(privateFileMessage(config.root, kind, chainsOf(this.environment).chain(id)))
        if (this.environment.mode === 'dev' && isOutsideFsAllow(config, id)) {
          this.error(outsideFsAllowMessage(config.root, id))
        }
      }
      if (id !== RESOLVED_TEMPLATES_ID) return undefined
      const prefix = `/${opts.templatesDir}/`
      return [
        `const modules = import.meta.glob(${JSON.stringify(`${prefix}**/*.eta`)}, { eager: true });`,
        `const templates = {};`,
        `for (const [file, mod] of Object.entries(modules)) templates[file.slice(${prefix.length}, -4)] = mod;`,
        `export default templates;`,
      ].join('\n')
    },

    generateBundle: {
      // After every other plugin has added its files (index.html, CSS, maps).
      order: 'post',
      async handler(outputOptions, bundle, isWrite) {
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

    transform(code, id) {
      const file = id.split('?', 1)[0] ?? id
      if (!file.endsWith('.eta')) return undefined
      const relative = path.relative(config.root, file).split(path.sep).join('/')
      if (this.environment.config.consumer === 'client') {
        // `load` refuses it first; this holds if another plugin loaded it.
        this.error(privateFileMessage(config.root, 'server-only module', chainsOf(this.environment).chain(file)))
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
          vocabulary: opts.vocabulary,
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

    async hotUpdate({ type, file, read, server }) {
      // Templates only run on the server, and Vite 6+ does not reload the
      // browser for server-only modules: ask for a full reload ourselves.
      if (this.environment.name !== 'ssr' || !file.endsWith('.eta')) return
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
      templatesVersion += 1
      server.environments['client']?.hot.send({ type: 'full-reload' })
    },
  }
}
