/**
 * What the Vite plugin's parts share: the options, the resolved config and
 * what is derived from it once. The plugin itself (`vite.ts`) fills it in its
 * global hooks; the per-environment plugins it hands each environment
 * (`applyToEnvironment`) only read it, from hooks that run later.
 */
import path from 'node:path'
import type { EnvironmentOptions, ResolvedConfig } from 'vite'
import { TEMPLATES_ID } from './template-module.ts'
import type { ResolvedPluginOptions } from './vite-options.ts'
import type { PrivateDirs } from './guards/private-files.ts'
import type { Needle } from './guards/scan.ts'

/** The id the templates module resolves to: `\0` keeps other plugins off it. */
export const RESOLVED_TEMPLATES_ID = `\0${TEMPLATES_ID}`

export interface PluginState {
  readonly opts: ResolvedPluginOptions
  /** Set by `configResolved`, before any per-environment hook runs. */
  config: ResolvedConfig
  /** The server environment that compiles the templates (see {@link serverEnvironmentName}). */
  environment: string
  needles: Needle[]
  privateDirs: PrivateDirs
  /** How many template edits the dev server reloaded browsers for (see dev-protocol.ts). */
  templatesVersion: number
}

/** `file` relative to the folder `from`, with `/` (how messages name files: `templates/home.eta`). */
export function relativePath(from: string, file: string): string {
  return path.relative(from, file).split(path.sep).join('/')
}

/**
 * The environment that renders the templates: the one named in the options,
 * else the only server environment the config defines (Vite's docs: a server
 * environment may have any name), else Vite's own `ssr`, which Vite creates
 * in dev and the plugin adds for the build. Several server environments and
 * no name is a question only the user can answer.
 */
export function serverEnvironmentName(
  named: string | undefined,
  environments: Record<string, EnvironmentOptions | undefined> | undefined,
): string {
  if (named) return named
  // Vite's rule: an environment is a client one when it says so, or is the browser's own `client`.
  const servers = Object.entries(environments ?? {})
    .filter(([name, env]) => (env?.consumer ?? (name === 'client' ? 'client' : 'server')) === 'server')
    .map(([name]) => name)
  if (servers.length > 1) {
    throw new TypeError(
      `options.environment must name the environment that renders the templates: the config has several server environments (${servers.join(', ')})`,
    )
  }
  return servers[0] ?? 'ssr'
}
