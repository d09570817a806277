/**
 * Configurations that would put a secret in client code before anything is
 * built: an `envPrefix` that matches a secret's name (Vite then copies the
 * variable into `import.meta.env`), or a `define` whose value holds a secret.
 */
import type { ResolvedConfig } from 'vite'
import { EmbedsError } from '../errors.ts'
import { findSecrets, type Needle } from './scan.ts'

/** Vite's default `envPrefix`. */
const DEFAULT_ENV_PREFIX = 'VITE_'

/**
 * Why `envPrefix` is unsafe, or `undefined` when it is safe. Vite exposes every
 * variable whose name starts with one of the prefixes, so a prefix is unsafe
 * when a secret's name starts with it (`''` matches every name).
 */
export function envPrefixProblem(
  envPrefix: string | readonly string[] | undefined,
  names: readonly string[],
): string | undefined {
  const prefixes = typeof envPrefix === 'string' ? [envPrefix] : (envPrefix ?? [DEFAULT_ENV_PREFIX])
  for (const prefix of prefixes) {
    const exposed = names.filter((name) => name.startsWith(prefix))
    if (exposed.length) {
      return `envPrefix '${prefix}' would expose ${exposed.join(', ')} to client code; use a prefix such as '${DEFAULT_ENV_PREFIX}'`
    }
  }
  return undefined
}

/** A `define` table and where it was configured (`define`, `environments.client.define`). */
export interface DefineTable {
  where: string
  define: Record<string, unknown> | undefined
}

/**
 * One message per `define` entry whose value holds a secret, in any encoding
 * the build scan knows. Defines are pasted into the code as written, so such a
 * secret would reach the bundle (client) or `dist/server` (SSR).
 */
export function defineProblems(tables: readonly DefineTable[], needles: readonly Needle[]): string[] {
  // Environments inherit the top-level table: report each entry once, where it first appears.
  const problems = new Map<string, string>()
  for (const { where, define } of tables) {
    for (const [key, value] of Object.entries(define ?? {})) {
      const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '')
      for (const hit of findSecrets(text, needles)) {
        if (problems.has(`${key}\0${hit.label}`)) continue
        problems.set(
          `${key}\0${hit.label}`,
          `${where}['${key}'] holds the value of ${hit.label} (as ${hit.encoding}): defines are inlined into the build output, ` +
            'so the secret would leave the server; read it from process.env in server code instead',
        )
      }
    }
  }
  return [...problems.values()]
}

/**
 * Throws when the resolved configuration would put a secret in the output:
 * an unsafe `envPrefix` (set by any plugin), or a secret in any `define` table.
 */
export function checkConfig(resolved: ResolvedConfig, names: readonly string[], needles: readonly Needle[]): void {
  const tables: DefineTable[] = [
    { where: 'define', define: resolved.define },
    ...Object.entries(resolved.environments).map(([name, env]) => ({
      where: `environments.${name}.define`,
      define: env.define,
    })),
  ]
  const problems = [envPrefixProblem(resolved.envPrefix, names), ...defineProblems(tables, needles)].filter(
    (problem) => problem !== undefined,
  )
  if (problems.length) throw new EmbedsError('ERR_CONFIG_SECRET', problems.join('\n'))
}
