/**
 * The Vite plugin. Its own hooks are the global ones — the config, the dev
 * server, the app build — and each environment gets the parts it needs
 * through `applyToEnvironment`, the way Vite's own plugins split theirs:
 * the templates' server environment compiles `.eta` files
 * (`vite-templates.ts`), client environments get the guards against
 * server-only imports (`vite-client-guards.ts`), and every build is scanned
 * for secrets and leaves no server bundle when it fails (`vite-build.ts`).
 * The guards' rules live in `guards/`.
 */
import path from 'node:path'
import { isFileLoadingAllowed, type EnvironmentOptions, type Plugin, type ResolvedConfig, type UserConfig } from 'vite'
import { TEMPLATES_ID } from './template-module.ts'
import { resolvePluginOptions, type EmbedsPluginOptions } from './vite-options.ts'
import { ERROR_PAGE_CHECK, PLUGIN_NAME, type ErrorPageCheck, type EtaEmbedsPluginApi } from './dev-protocol.ts'
import { EmbedsError } from './errors.ts'
import { checkConfig, envPrefixProblem } from './guards/config.ts'
import { privateRequestGuard } from './guards/dev-requests.ts'
import {
  belowRoot,
  devServerOptions,
  outputFolders,
  outsideFsAllowMessage,
  type OutputConfig,
} from './guards/dev-server.ts'
import { needlesFor } from './guards/scan.ts'
import { collectSecrets, MIN_SECRET_LENGTH, readEnvSources, SECRET_ENV_NAMES } from './guards/secrets.ts'
import { absoluteDirs, serverOnlyDirs } from './guards/server-only.ts'
import { buildRemaining, failedBuildPlugin, outputScanPlugin, TEMPLATES_ENTRY } from './vite-build.ts'
import { clientGuardsPlugin } from './vite-client-guards.ts'
import { RESOLVED_TEMPLATES_ID, serverEnvironmentName, type PluginState } from './vite-state.ts'
import { templatesPlugin } from './vite-templates.ts'

export { TEMPLATES_ID, type EmbedsPluginOptions }

/** The Vite plugin. Add it to `plugins` in `vite.config.ts`. */
export function etaEmbeds(options: EmbedsPluginOptions = {}): Plugin {
  const opts = resolvePluginOptions(options)
  const secretNames = [...new Set([...opts.vendorSecretEnvNames, ...SECRET_ENV_NAMES, ...opts.secretEnvNames])]
  const state: PluginState = {
    opts,
    config: undefined as unknown as ResolvedConfig,
    environment: opts.environment ?? 'ssr',
    needles: [],
    privateDirs: { server: [], output: [], virtualIds: [RESOLVED_TEMPLATES_ID] },
    templatesVersion: 0,
  }
  /** Server-side folders: `serverDirs`, the templates (unless they are the root), this package's runtime and stubs. */
  const serverFolders = (root: string): string[] =>
    serverOnlyDirs(root, [...opts.serverDirs, ...belowRoot(root, absoluteDirs(root, [opts.templatesDir]))])
  /** Every folder a build of `buildConfig` writes to, absolute, the root itself left out. */
  const outputDirs = (root: string, buildConfig: OutputConfig): string[] =>
    belowRoot(root, absoluteDirs(root, outputFolders(buildConfig, opts.ssrOutDir)))
  const api: EtaEmbedsPluginApi = {
    templatesVersion: () => state.templatesVersion,
    environment: () => state.environment,
  }
  const parts = {
    templates: templatesPlugin(state),
    client: clientGuardsPlugin(state),
    build: [outputScanPlugin(state), failedBuildPlugin(state)],
  }

  return {
    name: PLUGIN_NAME,
    enforce: 'pre',
    api,

    config: {
      // Last, so the environments other plugins add are known when looking for the server one.
      order: 'post',
      handler(userConfig) {
        // Vite refuses `envPrefix: ''` itself before `configResolved`, with a
        // message that names no variable: say which secrets it would expose.
        const prefixProblem = envPrefixProblem(userConfig.envPrefix, secretNames)
        if (prefixProblem) throw new EmbedsError('ERR_CONFIG_SECRET', prefixProblem)
        state.environment = serverEnvironmentName(opts.environment, userConfig.environments)
        const root = path.resolve(userConfig.root ?? process.cwd())
        return {
          // `vite build` builds the whole app, as `vite build --app` does; what
          // it builds is the `buildApp` hook's below, after the config's own.
          builder: {},
          environments: { [state.environment]: templatesBuild(userConfig, state.environment, opts.ssrOutDir) },
          // The output folders as the user's config says; `configResolved` takes
          // them again, for the request guard and `load`, once every plugin has had its say.
          server: devServerOptions(root, userConfig, [...serverFolders(root), ...outputDirs(root, userConfig)]),
        }
      },
    },

    configResolved(resolved) {
      state.config = resolved
      if (resolved.environments[state.environment]?.consumer !== 'server') {
        throw new TypeError(`options.environment '${state.environment}' must be a server environment of the config`)
      }
      state.privateDirs = {
        server: serverFolders(resolved.root),
        output: outputDirs(resolved.root, resolved),
        virtualIds: [RESOLVED_TEMPLATES_ID],
      }
      const { secrets, tooShort } = collectSecrets(
        readEnvSources(resolved.mode, resolved.envDir),
        secretNames,
        opts.secrets,
      )
      state.needles = secrets.flatMap(needlesFor)
      checkConfig(resolved, secretNames, state.needles)
      if (resolved.command === 'build' && tooShort.length) {
        resolved.logger.warn(
          `${tooShort.join(', ')}: shorter than ${MIN_SECRET_LENGTH} characters, too short to scan the build output for ` +
            'without false positives, so not checked; use a longer, random secret',
        )
      }
    },

    applyToEnvironment(environment) {
      const build = state.config.command === 'build' ? parts.build : []
      if (environment.name === state.environment) return [...build, parts.templates]
      if (environment.config.consumer === 'client') return [...build, parts.client]
      return build.length ? build : false
    },

    buildApp: { order: 'post', handler: buildRemaining },

    configureServer(server) {
      const { config } = state
      // Added before Vite's own middlewares, so it answers first.
      server.middlewares.use(
        privateRequestGuard({
          root: config.root,
          base: config.base,
          dirs: state.privateDirs,
          mayServe: (file) => isFileLoadingAllowed(config, file),
          warnOutsideAllow: (file) => config.logger.warnOnce(outsideFsAllowMessage(config.root, file)),
        }),
      )
      // An error page asks once its HMR socket is open, since it missed the
      // reload of an edit saved while it was rendering or connecting.
      server.environments['client']?.hot.on(ERROR_PAGE_CHECK, (data: Partial<ErrorPageCheck> | undefined, client) => {
        if (data?.templatesVersion !== state.templatesVersion) client.send({ type: 'full-reload' })
      })
    },
  }
}

/**
 * The templates' environment in a build: one entry, the templates module,
 * written to `ssrOutDir`, with source maps unless the config says otherwise
 * — the runtime reads them to name the template line of a render error.
 */
function templatesBuild(userConfig: UserConfig, name: string, outDir: string): EnvironmentOptions {
  const sourcemap = userConfig.environments?.[name]?.build?.sourcemap ?? userConfig.build?.sourcemap ?? true
  return { build: { outDir, sourcemap, rolldownOptions: { input: { [TEMPLATES_ENTRY]: TEMPLATES_ID } } } }
}
